"""Known runs for the statistics tests: executions and node runs written straight to the
database with chosen times, statuses, durations and credits."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Team, User
from executions.models import Execution, ExecutionStatus, NodeRun, NodeStatus
from workflows.models import Workflow

from ..workflows.graph_builders import node, prompt_to_flux_to_result


def today() -> datetime:
    """00:00 UTC today: runs are made a minute after a midnight, so each lands on the UTC day
    the test means whatever the time the test runs at."""
    return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def make_workflow(team: Team, user: User | None = None, name: str = "Fox pipeline"
                  ) -> Workflow:
    nodes, edges = prompt_to_flux_to_result()
    nodes[1] = node("flux", "generate:flux_2", {"num_images": 2}, label="FLUX")
    return Workflow.objects.create(team=team, created_by=user, name=name, nodes=nodes,
                                   edges=edges)


@dataclass
class Step:
    node_id: str
    node_type: str
    status: str = NodeStatus.COMPLETED
    credits: float = 0.0
    duration_ms: int | None = 100
    label: str = ""


@dataclass
class Run:
    status: str = ExecutionStatus.COMPLETED
    days_ago: int = 0
    duration_ms: int | None = 1000
    credits: float = 0.0
    steps: list[Step] = field(default_factory=list)


def make_run(workflow: Workflow, run: Run) -> Execution:
    created = today() - timedelta(days=run.days_ago) + timedelta(minutes=1)
    finished = (created + timedelta(milliseconds=run.duration_ms)
                if run.duration_ms is not None and run.status != ExecutionStatus.RUNNING
                else None)
    execution = Execution.objects.create(
        workflow=workflow, team=workflow.team, status=run.status, created_at=created,
        started_at=created, finished_at=finished, credits_used=run.credits,
        deadline_at=created + timedelta(hours=1), nodes=workflow.nodes, edges=workflow.edges)
    for position, step in enumerate(run.steps):
        make_step(execution, step, position, created)
    return execution


def make_step(execution: Execution, step: Step, position: int, start: datetime) -> NodeRun:
    ran = step.status not in (NodeStatus.SKIPPED, NodeStatus.PENDING)
    fields: dict[str, Any] = {}
    if ran and step.duration_ms is not None:
        fields.update(started_at=start,
                      finished_at=start + timedelta(milliseconds=step.duration_ms))
    return NodeRun.objects.create(execution=execution, node_id=step.node_id,
                                  node_type=step.node_type, label=step.label or step.node_id,
                                  position=position, status=step.status, credits=step.credits,
                                  **fields)


def flux_run(status: str = ExecutionStatus.COMPLETED, days_ago: int = 0,
             duration_ms: int = 1000, flux_credits: float = 6.0,
             flux_ms: int = 800) -> Run:
    """prompt -> flux -> result; FLUX charged `flux_credits` unless it failed."""
    flux_status = NodeStatus.FAILED if status == ExecutionStatus.FAILED else NodeStatus.COMPLETED
    charged = 0.0 if flux_status == NodeStatus.FAILED else flux_credits
    result_status = (NodeStatus.SKIPPED if flux_status == NodeStatus.FAILED
                     else NodeStatus.COMPLETED)
    return Run(status=status, days_ago=days_ago, duration_ms=duration_ms, credits=charged,
               steps=[Step("prompt", "input:text", duration_ms=5),
                      Step("flux", "generate:flux_2", flux_status, charged, flux_ms, "FLUX"),
                      Step("result", "output:result", result_status, duration_ms=5)])
