"""Re-running an execution: the same graph, inputs and version again, or — from failed — only
what did not complete, the completed nodes carried over with their outputs and not charged."""


from django.db import transaction

from accounts.models import User
from wireflow_site.errors import Conflict
from workflows import graph
from workflows.models import Workflow
from workflows.nodes import catalogue

from . import services
from .events import EventBuffer
from .models import Execution, ExecutionStatus, NodeRun, NodeStatus
from .presenters import node_state

RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


@transaction.atomic
def execution_rerun(original: Execution, workflow: Workflow, user: User | None, *,
                    trigger: str, from_failed: bool = False) -> Execution:
    """Start a new execution like `original` (recording it as `rerun_of`). With `from_failed`
    only a failed or cancelled one may be retried (409 `not_failed` otherwise)."""
    if from_failed and original.status not in RETRYABLE:
        raise Conflict(f"Only a failed or cancelled run can be retried from failed; this one is "
                       f"{original.status}", code="not_failed")
    carried = _carriable(original) if from_failed else {}
    request = _request_like(original, trigger, carried)
    execution = services.execution_start(workflow, user, request)
    _announce_carried(execution, set(request.carried))
    return execution


def _request_like(original: Execution, trigger: str,
                  carried: dict[str, NodeRun]) -> services.ExecuteRequest:
    """The pinned version the original ran, or — for a graph sent with its request (or a
    version since deleted) — that exact stored graph."""
    version = original.workflow_version if original.workflow_version_id else None
    sent = {} if version is not None else {"nodes": original.nodes, "edges": original.edges}
    # Carried over only where the graph run has the same node (it is the same graph; this
    # guards the line items: a node not carried is reserved for and runs).
    types = {node.id: node.node_type for node in graph.runnable_nodes(
        version.nodes if version is not None else original.nodes, catalogue)}
    return services.ExecuteRequest(
        **sent, version=version, inputs=original.inputs, trigger=trigger,
        target_node_id=original.target_node_id or None, trigger_data=original.trigger_data,
        force=original.force, rerun_of=original,
        carried={node_id: run for node_id, run in carried.items()
                 if types.get(node_id) == run.node_type})


def _carriable(original: Execution) -> dict[str, NodeRun]:
    """The runs that completed and whose inputs all came from runs carried over too (or from
    an untaken branch): a node that completed on the error output of a failed node (its
    `continueOnError`) runs again once that node does."""
    runs = {run.node_id: run for run in original.node_runs.all()}
    sources: dict[str, set[str]] = {}
    for source, target in graph.edge_pairs(original.edges):
        sources.setdefault(target, set()).add(source)
    carried = {node_id for node_id, run in runs.items() if run.status == NodeStatus.COMPLETED}
    changed = True
    while changed:  # drop, until none is left to drop, a node fed by one that runs again
        kept = {node_id for node_id in carried if all(
            source in carried or getattr(runs.get(source), "status", None) == NodeStatus.SKIPPED
            for source in sources.get(node_id, ()))}
        changed, carried = kept != carried, kept
    return {node_id: runs[node_id] for node_id in carried}


def _announce_carried(execution: Execution, node_ids: set[str]) -> None:
    """Live followers learn of the carried-over nodes like of any node that completed."""
    if not node_ids:
        return
    events = EventBuffer(execution)
    for run in execution.node_runs.filter(node_id__in=node_ids).order_by("position", "pk"):
        events.add("node", node_state(run))
    events.flush()
