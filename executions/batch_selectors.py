"""Reads for batches, scoped to the caller's teams (404 "Batch not found" otherwise), and the
outputs of their rows as GET /batches/{id}, results.csv and results.zip show them."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum

from accounts.models import Team, User
from accounts.permissions import readable_one
from wireflow_site.errors import InvalidRequest

from .models import Batch, BatchRow, NodeRun, NodeStatus, RowStatus
from .presenters import media_urls, primary_text

NOT_FOUND = "Batch not found"
MAX_URLS_PER_NODE = 50  # what one node's output may contribute to a row's outputs
MAX_WALK = 2000  # values looked at in one output: a huge JSON output is not walked whole


def batch_get_for_user(user: User, batch_id: str, *, team: Team | None = None) -> Batch:
    return readable_one(Batch.objects.all(), user, batch_id, team=team, not_found=NOT_FOUND)


def batch_counts(batch: Batch) -> dict[str, int | float]:
    """Rows per status and the credits their executions used, in one query."""
    by_status: dict[str, Any] = {str(status): Count("pk", filter=Q(status=status))
                                 for status in RowStatus}
    found = BatchRow.objects.filter(batch=batch).aggregate(
        **by_status, credits=Sum("execution__credits_used"))
    counts: dict[str, int | float] = {name: int(found[name] or 0) for name in by_status}
    counts["credits"] = float(found["credits"] or 0)
    return counts


def batch_rows_page(batch: Batch, *, limit: int, cursor: str | None
                    ) -> tuple[list[BatchRow], str | None]:
    """Rows in order; the cursor is the number of the last row of the page."""
    after = _decode_cursor(cursor) if cursor else 0
    page = list(BatchRow.objects.filter(batch=batch, index__gt=after)
                .select_related("execution").order_by("index")[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, str(page[-1].index) if more and page else None


def _decode_cursor(cursor: str) -> int:
    if not cursor.isdigit() or len(cursor) > 9:
        raise InvalidRequest("Invalid cursor", fields=["cursor"])
    return int(cursor)


def batch_rows_all(batch: Batch, chunk: int = 200) -> Iterator[list[BatchRow]]:
    """Every row in order, a chunk at a time (results.csv and results.zip stream them)."""
    after = 0
    while True:
        page = list(BatchRow.objects.filter(batch=batch, index__gt=after)
                    .select_related("execution").order_by("index")[:chunk])
        if not page:
            return
        yield page
        after = page[-1].index


# --- A row's outputs --------------------------------------------------------------------------

@dataclass
class NodeOutput:
    """What one final-output node produced: its media URLs and texts."""

    node_id: str
    label: str
    urls: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "label": self.label, "urls": self.urls,
                "texts": self.texts}


def outputs_of(rows: Sequence[BatchRow]) -> dict[int, list[NodeOutput]]:
    """Row id -> the outputs of its execution's final-output nodes (docs/api.md `finalOutput`):
    an output node's collected value, another node's primary media URLs and text. Read in one
    query for the rows given."""
    wanted = Q(pk__in=[])
    for row in rows:
        if row.execution is not None and row.execution.final_output:
            wanted |= Q(execution_id=row.execution.pk,
                        node_id__in=list(row.execution.final_output))
    runs: dict[tuple[str, str], NodeRun] = {
        (str(run.execution_id), run.node_id): run
        for run in NodeRun.objects.filter(wanted, status=NodeStatus.COMPLETED)}
    found: dict[int, list[NodeOutput]] = {}
    for row in rows:
        execution = row.execution
        if execution is None:
            continue
        found[row.pk] = [
            _node_output(runs[key], execution.final_output.get(node_id))
            for node_id in execution.final_output
            if (key := (str(execution.pk), node_id)) in runs]
    return found


def _node_output(run: NodeRun, output: Any) -> NodeOutput:
    result = NodeOutput(run.node_id, run.label)
    if run.node_type.startswith("output:") and isinstance(output, dict):
        _walk(output.get("value"), result, [MAX_WALK])
    else:
        result.urls = media_urls(run)[:MAX_URLS_PER_NODE]
        text = primary_text(run)
        result.texts = [text] if text is not None else []
    return result


def _walk(value: Any, into: NodeOutput, budget: list[int]) -> None:
    """Collect the URLs and texts of an output node's value (a string, a list, a media
    object with a `url`), looking at no more than `budget` values."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            if len(into.urls) < MAX_URLS_PER_NODE and value not in into.urls:
                into.urls.append(value)
        else:
            into.texts.append(value)
    elif isinstance(value, list):
        for item in value:
            _walk(item, into, budget)
    elif isinstance(value, dict):
        if isinstance(value.get("url"), str):
            _walk(value["url"], into, budget)
        elif isinstance(value.get("text"), str):
            into.texts.append(value["text"])
    elif isinstance(value, int | float) and not isinstance(value, bool):
        into.texts.append(str(value))
