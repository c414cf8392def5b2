"""Writes for executions: start, cancel, wake on a provider webhook, and the sweeper."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.credits import (
    LineItem,
    credit_balance,
    credits_reservation_guard,
    credits_reserve,
    to_credits,
    total_of,
)
from accounts.models import ProviderKey, User
from accounts.selectors import team_providers_read
from wireflow_site import rows
from wireflow_site.errors import Conflict, InvalidGraph, InvalidRequest
from workflows import dataflow, graph, node_secrets
from workflows.graph import GraphEdge, GraphNode
from workflows.models import Workflow, WorkflowVersion
from workflows.nodes import catalogue
from workflows.selectors import workflow_version_latest_id

from . import dispatch
from .engine.backlog import recent_lag
from .engine.state import wake_holder
from .models import Execution, ExecutionStatus, NodeRun, NodeStatus, Trigger

SWEEP_BATCH = 500  # executions re-advanced by one sweep; the next takes the rest


@dataclass(frozen=True)
class ExecuteRequest:
    nodes: list[dict[str, Any]] | None = None
    edges: list[dict[str, Any]] | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    target_node_id: str | None = None
    force: bool = False  # no node reuses a cached result
    trigger_data: Mapping[str, Any] = field(default_factory=dict)
    trigger: str = Trigger.API
    # A pinned run: this saved version's graph instead of the current one.
    version: WorkflowVersion | None = None
    # A re-run (executions/reruns.py): the execution it repeats, whose stored graph is run as
    # it is (already sealed), and the nodes that completed there, carried over uncharged.
    rerun_of: Execution | None = None
    carried: Mapping[str, NodeRun] = field(default_factory=dict)

    @property
    def overrides_graph(self) -> bool:
        return self.nodes is not None or self.edges is not None


def _graph_for(workflow: Workflow, request: ExecuteRequest) -> tuple[list[Any], list[Any], bool]:
    if request.version is not None:
        if request.overrides_graph:
            raise InvalidRequest("Send either a version or a graph (nodes, edges), not both",
                                 fields=["version"])
        return request.version.nodes, request.version.edges, False
    if not request.overrides_graph:
        return workflow.nodes, workflow.edges, False
    # A graph sent with the request has its write-only params sealed like a saved one.
    nodes = (workflow.nodes if request.nodes is None
             else request.nodes if request.rerun_of is not None  # sealed when it first ran
             else node_secrets.seal_graph(request.nodes, workflow.nodes))
    edges = request.edges if request.edges is not None else workflow.edges
    return nodes, edges, True


def _input_nodes(nodes: list[dict[str, Any]]) -> tuple[dict[str, GraphNode],
                                                        dict[str, GraphNode]]:
    """The input nodes by id, and by label (stripped, lower case)."""
    inputs = [node for node in graph.runnable_nodes(nodes, catalogue)
              if catalogue[node.node_type].input_param]
    return ({node.id: node for node in inputs},
            {node.label.strip().lower(): node for node in inputs})


def input_keys(nodes: list[dict[str, Any]]) -> set[str]:
    """The keys that name an input node: its id, or its label in lower case."""
    by_id, by_label = _input_nodes(nodes)
    return set(by_id) | set(by_label)


def resolve_inputs(nodes: list[dict[str, Any]], given: Mapping[str, Any], *,
                   strict: bool) -> dict[str, Any]:
    """Map `{nodeId or label: value}` onto input nodes' ids (ids first, then labels ignoring
    case). With `strict`, a key that names no input node is an error."""
    by_id, by_label = _input_nodes(nodes)
    resolved: dict[str, Any] = {}
    unknown = []
    for key, value in given.items():
        node = by_id.get(key) or by_label.get(str(key).strip().lower())
        if node is None:
            unknown.append(key)
        else:
            resolved[node.id] = value
    if strict and unknown:
        raise InvalidRequest(f"Unknown input: {', '.join(map(str, unknown))}. Inputs are keyed "
                             "by the node id or label of an input node.", fields=["inputs"])
    _check_input_values(by_id, resolved)
    return resolved


def _check_input_values(nodes: Mapping[str, GraphNode], values: Mapping[str, Any]) -> None:
    for node_id, value in values.items():
        node = nodes[node_id]
        spec = catalogue[node.node_type]
        param = spec.input_param or ""
        errors = spec.param_errors({**node.params, param: value}, set())
        if errors:
            label = node.label or node_id
            raise InvalidRequest(f"Invalid value for input '{label}' ({node_id}): "
                                 f"{errors[0]}", fields=[f"inputs.{node_id}"])


@dataclass(frozen=True)
class RunPlan:
    """The graph an execute would run, validated, and the ids of the nodes in its scope."""

    nodes: list[dict[str, Any]]  # as stored on the execution
    edges: list[dict[str, Any]]
    overridden: bool
    runnable: list[GraphNode]  # the nodes and edges, parsed
    parsed_edges: list[GraphEdge]
    scope: list[str]


def plan_run(workflow: Workflow, request: ExecuteRequest) -> RunPlan:
    nodes, edges, overridden = _graph_for(workflow, request)
    violations = graph.validate(nodes, edges, catalogue)
    if violations:
        raise InvalidGraph(violations=[v.to_dict() for v in violations])
    runnable = graph.runnable_nodes(nodes, catalogue)
    parsed_edges = graph.graph_edges(edges)
    scope = [node.id for node in runnable]
    if request.target_node_id:
        if request.target_node_id not in scope:
            raise InvalidRequest(f"targetNodeId '{request.target_node_id}' is not a node of "
                                 "this workflow", fields=["targetNodeId"])
        upstream = graph.upstream_of(request.target_node_id,
                                     [(edge.source, edge.target) for edge in parsed_edges])
        scope = [node_id for node_id in scope if node_id in upstream]
    return RunPlan(nodes, edges, overridden, runnable, parsed_edges, scope)


def execution_start(workflow: Workflow, user: User | None, request: ExecuteRequest) -> Execution:
    if not workflow.is_active:
        raise Conflict("Workflow is inactive", code="workflow_inactive")
    plan = plan_run(workflow, request)
    inputs = resolve_inputs(plan.nodes, request.inputs, strict=request.trigger != Trigger.WEBHOOK)
    now = timezone.now()
    execution = Execution(
        workflow=workflow, team_id=workflow.team_id, created_by=user,
        workflow_version_id=_version_run(workflow, request, plan),
        trigger=request.trigger, nodes=plan.nodes, edges=plan.edges, inputs=inputs,
        trigger_data=dict(request.trigger_data), target_node_id=request.target_node_id or "",
        force=request.force,
        started_at=now, deadline_at=now + timedelta(seconds=settings.EXECUTION_DEADLINE_SECONDS),
        wake_at=now, rerun_of=request.rerun_of,
    )
    runs = _node_runs(execution, plan, request.carried)
    # Credits: the estimate is reserved with the execution, or the 402 is raised and nothing is
    # created. Carried-over nodes are not paid again.
    items = [item for item in line_items(plan, team_id=workflow.team_id,
                                         team_providers=team_providers_read(workflow))
             if item.node_id not in request.carried]
    if _start_in_one_statement(execution, runs, items, now):
        dispatch.advance_later(str(execution.pk))  # the run starts at once
        if connection.in_atomic_block:  # counted once the caller's transaction commits
            transaction.on_commit(partial(_count_execution, workflow.pk, now))
        return execution
    with transaction.atomic():
        rows.insert_together([execution], runs)
        credits_reserve(workflow.team_id, execution.pk, items)
        dispatch.advance_later(str(execution.pk))  # on commit, first: the run starts at once
        # Counted once committed, in a statement of its own: inside this transaction the UPDATE
        # would hold the workflow's row lock until commit and queue every concurrent execute
        # of it.
        transaction.on_commit(partial(_count_execution, workflow.pk, now))
    return execution


def _start_in_one_statement(execution: Execution, runs: list[NodeRun], items: list[LineItem],
                            now: datetime) -> bool:
    """PostgreSQL: the execution, its node runs, its reservation and the workflow's count
    written by one statement, which commits on its own (no transaction around it: two round
    trips fewer, and the count no third). Whether it was; False when the balance did not
    cover the reservation, or on another database (nothing written). Inside a caller's
    transaction the count is not made: the caller makes it after the commit, as here it would
    hold the workflow's row lock until then."""
    if connection.vendor != "postgresql":
        return False
    guard = credits_reservation_guard(execution.team_id, execution.pk, items)
    counted = not connection.in_atomic_block
    then = [(_count_sql(guarded=guard is not None),
             _count_params(execution.workflow_id, now))] if counted else []
    return rows.insert_together([execution], runs, guard=guard, then=then)


def _count_execution(workflow_id: Any, at: datetime) -> None:
    """One more execution of the workflow, at `at`: after every execute's commit, so its
    UPDATE is written once (the ORM spent ~0.4 ms building it with its F() on each)."""
    with connection.cursor() as cursor:
        cursor.execute(_count_sql(), _count_params(workflow_id, at))


def _count_params(workflow_id: Any, at: datetime) -> list[Any]:
    return [Workflow._meta.get_field("last_executed_at").get_db_prep_save(at, connection),
            Workflow._meta.pk.get_db_prep_value(workflow_id, connection)]


@cache
def _count_sql(guarded: bool = False) -> str:
    """`guarded`: a part of the statement that starts an execution, made only with its
    guard's row (rows.insert_together)."""
    quote = connection.ops.quote_name
    count = quote(Workflow._meta.get_field("execution_count").column)
    at = quote(Workflow._meta.get_field("last_executed_at").column)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"UPDATE {quote(Workflow._meta.db_table)} SET {count} = {count} + 1, "  # noqa: S608
            f"{at} = %s {'FROM guard ' if guarded else ''}"
            f"WHERE {quote(Workflow._meta.pk.column)} = %s")


def _version_run(workflow: Workflow, request: ExecuteRequest, plan: RunPlan) -> int | None:
    """The id of the version an execution records: the pinned one, else the latest (the
    current graph), none for a graph sent with the request."""
    if plan.overridden:
        return None
    if request.version is not None:
        return request.version.pk
    return workflow_version_latest_id(workflow)


# --- Credits: what a run is expected to cost -------------------------------------------------

def line_items(plan: RunPlan, *, team_id: int | None = None,
               team_providers: frozenset[str] | None = None) -> list[LineItem]:
    """The priced nodes in the plan's scope, in the graph's order. Cached upstream results of a
    targetNodeId run are still counted: whether they hit is known only while running.
    With `team_id`, a node its team runs on its own provider key costs 0, billed by "team";
    `team_providers`: the providers it has keys for, when already read."""
    in_scope = set(plan.scope)
    fed = connected_ports(plan.runnable, plan.parsed_edges)
    own = team_providers  # else read once, when the first priced node needs it
    items = []
    for node in plan.runnable:
        spec = catalogue[node.node_type]
        price = spec.estimate_credits(node.params, fed.get(node.id, set()))
        if node.id in in_scope and price > 0:
            own = _own_providers(team_id) if own is None else own
            team_pays = spec.provider in own  # bring your own key: the provider bills
            items.append(LineItem(node_id=node.id, node_type=node.node_type,
                                  node_label=node.title,
                                  credits=to_credits(0 if team_pays else price),
                                  billed_by="team" if team_pays else "platform"))
    return items


def _own_providers(team_id: int | None) -> frozenset[str]:
    if team_id is None:
        return frozenset()
    return frozenset(provider for provider, in rows.values_where(ProviderKey, ("provider",),
                                                                  {"team_id": team_id}))


def connected_ports(nodes: list[GraphNode], edges: list[GraphEdge]) -> dict[str, set[str]]:
    """Node id -> its input ports that an edge feeds (their params are replaced at run time)."""
    fed: dict[str, set[str]] = {}
    for link in dataflow.links(nodes, edges, catalogue):
        fed.setdefault(link.target, set()).add(link.target_port)
    return fed


@dataclass(frozen=True)
class Estimate:
    items: list[LineItem]
    available: Decimal

    @property
    def total(self) -> Decimal:
        return total_of(self.items)


def execution_estimate(workflow: Workflow, request: ExecuteRequest) -> Estimate:
    """What executing would reserve, validated as execute validates (a read: nothing is
    written). The team's available credits are those of the workflow's team."""
    return Estimate(line_items(plan_run(workflow, request), team_id=workflow.team_id),
                    credit_balance(workflow.team_id))


def _node_runs(execution: Execution, plan: RunPlan,
               carried: Mapping[str, NodeRun] | None = None) -> list[NodeRun]:
    """The execution's node runs to insert with it."""
    in_scope = set(plan.scope)
    order = graph.topological_order(plan.scope, [(edge.source, edge.target)
                                                 for edge in plan.parsed_edges])
    position = {node_id: i for i, node_id in enumerate(order)}
    now = timezone.now()
    return [NodeRun(execution=execution, node_id=node.id, node_type=node.node_type,
                    label=node.title[:200], position=position[node.id],
                    **_carried_over((carried or {}).get(node.id), node, now))
            for node in plan.runnable if node.id in in_scope]


def _carried_over(old: NodeRun | None, node: GraphNode, now: datetime) -> dict[str, Any]:
    """A node that completed in the execution being re-run starts COMPLETED with its outputs
    (a cached result: the engine treats it as done and charges nothing)."""
    if old is None or old.status != NodeStatus.COMPLETED \
            or old.node_type != node.node_type:
        return {}
    return {"status": NodeStatus.COMPLETED, "cached": True, "credits": 0, "progress": 1.0,
            "ports": old.ports, "output": old.output, "input": old.input,
            "request_id": old.request_id, "attempt": old.attempt, "cache_key": old.cache_key,
            "started_at": now, "finished_at": now}


def execution_cancel(execution: Execution) -> bool:
    """Ask the engine to stop. Returns False when the execution had already ended."""
    asked = Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING).update(
        cancel_requested=True)
    if asked:
        dispatch.advance_later(str(execution.pk))
    return bool(asked)


def provider_hook_received(run_id: int, attempt: int, body: dict[str, Any] | None) -> None:
    """A provider says a job is done. Keep what it delivered (so the engine needs no round
    trip to the provider) and look at the node now rather than at the next scheduled poll.
    Deliveries repeat and may be stale: only the attempt in flight is touched."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        found = _delivery_recorded(run_id, attempt, body, now)
        if found is None:
            return  # already recorded, or a delivery for an earlier attempt
        execution_id, held = found
        if not held:
            dispatch.advance_later(execution_id)  # due now: the statement set its wake time
            return
    else:
        with transaction.atomic():
            # Only the node's row is locked (`of`): the execution's is the one every delivery,
            # the engine's event numbering and its lease share, and a fan-out's hundred
            # deliveries must not queue on it. Its lease is read with it (unlocked, through
            # the same join).
            run = (NodeRun.objects.select_for_update(of=("self",))
                   .filter(pk=run_id, status=NodeStatus.RUNNING, attempt=attempt,
                           execution__status=ExecutionStatus.RUNNING)
                   .annotate(lease_owner=F("execution__lease_owner"),
                             lease_expires_at=F("execution__lease_expires_at")).first())
            if run is None:
                return  # already recorded, or a delivery for an earlier attempt
            if body is not None and _delivered_for(body, run.request_id):
                run.remote = {**run.remote, "delivered": body}
            run.next_check_at = now
            run.save(update_fields=["remote", "next_check_at"])
            execution_id = str(run.execution_id)
            if not (bool(run.lease_owner) and run.lease_expires_at is not None
                    and run.lease_expires_at >= now):
                # Nobody held the lease: the execution is due now, and a task takes it once
                # this commits (should a holder take the lease first, the task leaves it a
                # wake-up). If that task is lost (a worker killed with it in hand), the
                # sweeper finds the execution overdue within its grace, not at the next
                # safety-net poll minutes away.
                _due_now(execution_id, now)
                return
    # Committed, so any pass that starts from here on sees the delivery. A live holder of the
    # lease runs another pass before it lets go (engine/state.py): a wake-up left for it is the
    # whole wake-up, so a fan-out's deliveries arriving during a pass cost one more pass, not a
    # task each that would find the lease taken.
    if not wake_holder(execution_id):  # it let go meanwhile
        _due_now(execution_id, now)


def _delivered_for(body: dict[str, Any], request_id: str) -> bool:
    """Whether a delivery's body is the job's: fal names the job `request_id`, Replicate's
    webhook body is the prediction (`id`); one without an id is taken, and so is any while
    the job's id is not recorded yet (called back before its submit was)."""
    return body.get("request_id", body.get("id")) in (None, request_id) or not request_id


def _delivery_recorded(run_id: int, attempt: int, body: dict[str, Any] | None,
                       now: datetime) -> tuple[str, bool] | None:
    """PostgreSQL: the delivery kept on the node's run (as `_delivered_for` decides, on the row
    as the UPDATE finds it) and the run due now, if it is still RUNNING that attempt in a
    running execution; then, unless the execution's lease is held, the execution due now too.
    One statement that commits on its own (it was a transaction of five round trips). Only the
    node's row is locked: the execution's is the one every delivery, the engine's event
    numbering and its lease share, and a fan-out's hundred deliveries must not queue on it
    (its lease is read through the join, unlocked; its wake time is written only when nobody
    holds it). (the execution's id, whether its lease was held), or None when nothing was."""
    found = body.get("request_id", body.get("id")) if body is not None else None
    with connection.cursor() as cursor:
        cursor.execute(_delivery_sql(), [
            now, body is not None, found is None, found if isinstance(found, str) else None,
            json.dumps(body) if body is not None else None, run_id, NodeStatus.RUNNING,
            attempt, ExecutionStatus.RUNNING, now, now, now])
        row = cursor.fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


@cache
def _delivery_sql() -> str:
    quote = connection.ops.quote_name

    def col(model: type[Any], name: str) -> str:
        return quote(rows.column_field(model, name).column)

    def run(name: str) -> str:
        return "r." + col(NodeRun, name)

    def ex(name: str) -> str:
        return col(Execution, name)

    remote, request_id = run("remote"), run("request_id")
    owner, expires = f"e.{ex('lease_owner')}", f"e.{ex('lease_expires_at')}"
    # Only our own table and column names are interpolated; every value is a parameter.
    return (f"WITH run AS (UPDATE {quote(NodeRun._meta.db_table)} AS r SET "  # noqa: S608
            f"{col(NodeRun, 'next_check_at')} = %s, "
            f"{col(NodeRun, 'remote')} = CASE WHEN %s AND "
            f"(%s OR {request_id} = %s OR {request_id} = '') "
            f"THEN {remote} || jsonb_build_object('delivered', %s::jsonb) ELSE {remote} END "
            f"FROM {quote(Execution._meta.db_table)} AS e "
            f"WHERE {run('id')} = %s AND {run('status')} = %s AND {run('attempt')} = %s "
            f"AND e.{ex('id')} = {run('execution')} AND e.{ex('status')} = %s "
            f"RETURNING {run('execution')} AS execution_id, "
            f"({owner} <> '' AND {expires} IS NOT NULL AND {expires} >= %s) AS held), "
            f"due AS (UPDATE {quote(Execution._meta.db_table)} AS x SET {ex('wake_at')} = %s "
            f"FROM run WHERE x.{ex('id')} = run.execution_id AND NOT run.held "
            f"AND x.{ex('wake_at')} > %s) "
            "SELECT execution_id, held FROM run")


def _due_now(execution_id: str, now: datetime) -> None:
    """The execution is due now, and a task (sent once the caller's transaction commits)
    takes it."""
    Execution.objects.filter(pk=execution_id, wake_at__gt=now).update(wake_at=now)
    dispatch.advance_later(execution_id)


def sweep_stalled() -> int:
    """Re-advance every running execution that nobody is advancing: its lease free with its
    wake-up overdue by the grace period or missing, or its lease expired (a dead worker)
    whatever its wake time. Past-deadline ones are failed by that advance. Each one found is
    released and pushed a grace period ahead, so a backlog is not flooded with duplicates and
    a holder that only lost its heartbeat stops at its next renewal. Run periodically by
    Celery beat or the in-process scheduler.

    A wake-up is overdue by the grace plus how late advances are starting (engine/backlog.py):
    under a backlog it is queued, not lost, and sending it again would only lengthen the queue.
    Those found are locked (skipping any a runner is writing) and let go in one statement."""
    now = timezone.now()
    grace = timedelta(seconds=settings.SWEEP_GRACE_SECONDS + recent_lag())
    unattended = (Q(lease_owner="") & (Q(wake_at__isnull=True) | Q(wake_at__lt=now - grace))
                  | ~Q(lease_owner="") & Q(lease_expires_at__lt=now))
    with transaction.atomic():
        found = [str(pk) for pk in Execution.objects
                 .filter(unattended, status=ExecutionStatus.RUNNING)
                 .select_for_update(skip_locked=True).order_by()
                 .values_list("pk", flat=True)[:SWEEP_BATCH]]
        if found:
            Execution.objects.filter(pk__in=found).update(
                lease_owner="", lease_expires_at=None, wake_at=now + grace)
        for execution_id in found:
            dispatch.advance_later(execution_id)  # once this commits
    return len(found)
