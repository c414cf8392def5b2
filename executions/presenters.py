"""The API's execution shapes (docs/api.md "Execution (poll shape)"), built from model rows.
Used by the REST endpoints, the event stream and the WebSocket snapshot alike."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from wireflow_site.isotime import iso
from workflows.models import WorkflowVersion
from workflows.node_secrets import redact_graph, redact_params

from .models import Execution, NodeRun, NodeStatus

_MEDIA_KEYS = ("image", "images", "video", "videos", "audio", "audios", "url", "urls")


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def format_duration(ms: int | None) -> str:
    """A run's or a percentile's duration for people: 850 ms, 1.2 s, 1 min 5 s, 2 h 3 min."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _urls_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith(("http://", "https://", "/")) else []
    if isinstance(value, list):
        return [url for item in value for url in _urls_in(item)]
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return [value["url"]]
    return []


def media_urls(run: NodeRun) -> list[str]:
    if run.status != NodeStatus.COMPLETED or not run.ports:
        return []
    urls: list[str] = []
    for key in _MEDIA_KEYS:
        for url in _urls_in(run.ports.get(key)):
            if url not in urls:
                urls.append(url)
    return urls


def primary_text(run: NodeRun) -> str | None:
    if run.status != NodeStatus.COMPLETED or not run.ports:
        return None
    text = run.ports.get("text")
    return text if isinstance(text, str) else None


def node_state(run: NodeRun) -> dict[str, Any]:
    urls = media_urls(run)
    return {
        "nodeId": run.node_id,
        "label": run.label,
        "nodeType": run.node_type,
        "status": run.status,
        "error": run.error or None,
        "progress": run.progress,
        "outputUrl": urls[0] if urls else None,
        "outputUrls": urls,
        "text": primary_text(run),
        "requestId": run.request_id or None,
        "attempts": run.attempt,
        "startedAt": iso(run.started_at),
        "finishedAt": iso(run.finished_at),
        "durationMs": duration_ms(run.started_at, run.finished_at),
        "credits": run.credits,
        "cached": run.cached,
    }


def execution_status(execution: Execution) -> dict[str, Any]:
    return {
        "executionId": str(execution.id),
        "workflowId": str(execution.workflow_id),
        "status": execution.status,
        "error": execution.error or None,
        "startTime": iso(execution.started_at),
        "endTime": iso(execution.finished_at),
        "durationMs": duration_ms(execution.started_at, execution.finished_at),
        "creditsUsed": execution.credits_used,
        "trigger": execution.trigger,
    }


def version_of(execution: Execution) -> dict[str, Any]:
    """Which saved version ran: `version` (its number) and `versionTag` (its tag as it is now),
    both null for a graph sent with the execute."""
    return _version_fields(execution.workflow_version if execution.workflow_version_id
                           else None)


def _version_fields(version: WorkflowVersion | None) -> dict[str, Any]:
    return {"version": version.version if version else None,
            "versionTag": (version.tag or None) if version else None}


def poll_shape(execution: Execution, runs: Sequence[NodeRun]) -> dict[str, Any]:
    return {
        **execution_status(execution),
        **version_of(execution),
        "nodeStates": [node_state(run) for run in runs],
        "nodeResults": {"nodeRuns": [
            {"nodeId": run.node_id, "status": run.status,
             "output": run.output if run.status == NodeStatus.COMPLETED else None}
            for run in runs
        ]},
        "finalOutput": execution.final_output or {},
    }


def details_shape(execution: Execution, runs: Sequence[NodeRun]) -> dict[str, Any]:
    shape = poll_shape(execution, runs)
    by_id = {run.node_id: run for run in runs}
    for state in shape["nodeStates"]:
        run = by_id[state["nodeId"]]
        state["input"] = _redacted_input(run)
        state["attemptsLog"] = run.attempts_log
        state["cacheKey"] = run.cache_key or None
    shape.update(
        inputs=execution.inputs,
        triggerData=execution.trigger_data,
        targetNodeId=execution.target_node_id or None,
        graph={"nodes": redact_graph(execution.nodes), "edges": execution.edges},
        versionId=str(execution.workflow_version_id) if execution.workflow_version_id else None,
    )
    return shape


def _redacted_input(run: NodeRun) -> Any:
    """The run's stored input with its write-only params (signing secrets) hidden."""
    if not isinstance(run.input, dict) or "params" not in run.input:
        return run.input
    return {**run.input, "params": redact_params(run.node_type, run.input["params"])}


def execution_summary(execution: Execution) -> dict[str, Any]:
    return {**execution_status(execution), **version_of(execution)}


def summaries(executions: Iterable[Execution]) -> list[dict[str, Any]]:
    """The history's summaries; the versions they ran are read in one query for the page."""
    page = list(executions)
    ids = {e.workflow_version_id for e in page if e.workflow_version_id}
    found = {v.pk: v for v in WorkflowVersion.objects.filter(pk__in=ids).only("version", "tag")}
    return [{**execution_status(execution),
             **_version_fields(found.get(execution.workflow_version_id or 0))}
            for execution in page]
