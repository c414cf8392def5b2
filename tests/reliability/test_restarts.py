"""Restarts: Redis restarted, then PostgreSQL restarted, each in the middle of 20 running
executions: every one ends, completed or failed with a clear error, and none stays RUNNING.

The whole deployment runs on services of its own (tests/reliability/services.py): a PostgreSQL
cluster and a Redis that this module starts, restarts and stops, the site as `make serve` runs
it (uvicorn with connection pools, a Celery worker, Celery beat) and the fal simulator as an
outside provider. A Redis restart loses everything it held (queued and scheduled tasks, the
cache); a PostgreSQL restart ends every session of every process. Executions are started and
read through the REST API, as a client would; the database is read directly only to know when
work is in flight, and while the site may be unable to answer.
"""

import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.builders import edge, node
from tests.harness import wait_until

from .services import (
    Deployment,
    PostgresCluster,
    RedisServer,
    ServiceError,
    api,
    retrying,
    throwaway_services,
)

EXECUTIONS = 20
IN_FLIGHT = 10  # model jobs running at the provider when the restart happens
# Bounds a hang, not a speed: recovery waits for a lease to expire and a sweep, and a job lost
# in the restart fails at its node deadline (NODE_TIMEOUT).
END_TIMEOUT = 180
# A job whose submission was cut by the restart is never submitted again (not to pay twice);
# it fails at its deadline unless the provider's webhook brings its result. Short enough to be
# seen within END_TIMEOUT, long enough for any job that does run.
NODE_TIMEOUT = 90
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


class Stack:
    """The deployment, or why it could not be set up (each test then fails with that)."""

    def __init__(self) -> None:
        self.deployment: Deployment | None = None
        self.postgres: PostgresCluster | None = None
        self.redis: RedisServer | None = None
        self.problem = ""
        self.workflow = ""

    def ready(self) -> tuple[Deployment, PostgresCluster, RedisServer]:
        if self.deployment is None or self.postgres is None or self.redis is None:
            pytest.fail(f"the throwaway deployment could not be set up: {self.problem}")
        return self.deployment, self.postgres, self.redis


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    result = Stack()
    with ExitStack() as cleanup:
        try:
            base, postgres, redis_server = throwaway_services(cleanup, "wireflow-restarts-")
            provider_redis = RedisServer(base / "provider-redis", name="provider-redis")
            cleanup.callback(provider_redis.stop)
            provider_redis.start()
            deployment = Deployment(base / "site", postgres, redis_server, provider_redis)
            (base / "site").mkdir()
            cleanup.callback(deployment.stop)
            deployment.start()
            result.workflow = _create_workflow(deployment)
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:  # ServiceError too
            result.problem = f"{type(exc).__name__}: {exc}"
        else:
            result.deployment, result.postgres, result.redis = deployment, postgres, redis_server
        yield result


def _create_workflow(deployment: Deployment) -> str:
    """A prompt, an image model and an upscaler: two provider jobs one after the other, so a
    restart finds executions waiting on a job, between jobs, and not yet started."""
    nodes = [node("p", "input:text"),
             node("gen", "generate:flux_2", image_size="square", timeoutSeconds=NODE_TIMEOUT),
             node("up", "upscale:crystal_upscaler", simulate="[sim latency=2s]",
                  timeoutSeconds=NODE_TIMEOUT),
             node("out", "output:result")]
    edges = [edge("p", "text", "gen", "prompt"), edge("gen", "image", "up", "image_url"),
             edge("up", "image", "out", "value")]
    with api(deployment) as client:
        response = client.post("/workflows", json={"name": "restarts", "nodes": nodes,
                                                   "edges": edges})
    if response.status_code != 201:
        raise ServiceError(f"the workflow was refused: {response.status_code} {response.text}")
    return str(response.json()["id"])


# --- Reading the state ------------------------------------------------------------------------

def _statuses(postgres: PostgresCluster, ids: list[str]) -> Counter[str] | None:
    rows = postgres.query("SELECT status, count(*) FROM executions_execution "
                          "WHERE id = ANY(%s::uuid[]) GROUP BY status", (ids,))
    return None if rows is None else Counter({status: n for status, n in rows})


def _jobs_in_flight(postgres: PostgresCluster, ids: list[str]) -> int:
    """Model nodes whose job the provider has accepted and not yet reported done."""
    rows = postgres.query("SELECT count(*) FROM executions_noderun WHERE execution_id = "
                          "ANY(%s::uuid[]) AND status = 'RUNNING' AND request_id <> ''", (ids,))
    return int(rows[0][0]) if rows else 0


def _clear_error(error: Any) -> bool:
    """A sentence for a person: not empty, not a bare exception name, not a traceback."""
    return (isinstance(error, str) and len(error.strip()) >= 10 and " " in error.strip()
            and "Traceback" not in error and len(error) <= 2000)


def _problems(poll: dict[str, Any]) -> list[str]:
    found = []
    status = poll["status"]
    if status not in TERMINAL:
        found.append(f"is {status}")
    if status != "COMPLETED" and not _clear_error(poll.get("error")):
        found.append(f"ended {status} without a clear error: {poll.get('error')!r}")
    for state in poll["nodeStates"]:
        if state["status"] in ("RUNNING", "PENDING"):
            found.append(f"node {state['nodeId']} left {state['status']}")
        if state["status"] == "FAILED" and not _clear_error(state.get("error")):
            found.append(f"node {state['nodeId']} failed without a clear error: "
                         f"{state.get('error')!r}")
    if status == "COMPLETED" and not poll.get("finalOutput"):
        found.append("completed without an output")
    return found


# --- The scenario -------------------------------------------------------------------------------

def _run_through(stack: Stack, label: str,
                 restart: Callable[[Callable[[], object]], None]) -> list[dict[str, Any]]:
    deployment, postgres, _ = stack.ready()
    with api(deployment) as client:
        # A distinct prompt each (the provider tells the jobs apart); the image takes 5 s.
        ids = [_execute(client, stack.workflow, f"{label} {i} [sim latency=5s]")
               for i in range(EXECUTIONS)]

        # Strike while jobs are at the provider, not before the work started nor after it ended.
        wait_until(lambda: _jobs_in_flight(postgres, ids) >= IN_FLIGHT, 120,
                   lambda: f"fewer than {IN_FLIGHT} jobs were ever in flight together: "
                           f"{_statuses(postgres, ids)}\n{deployment.logs()}")
        before = _statuses(postgres, ids)
        assert before is not None and before["RUNNING"] >= IN_FLIGHT, before
        # Down until the site itself sees the outage (its readiness probe fails), then back.
        restart(lambda: wait_until(lambda: not deployment.ready(), 60,
                                   f"the site never noticed that {label} was down"))

        def all_ended() -> bool:
            statuses = _statuses(postgres, ids)
            return statuses is not None and statuses["RUNNING"] == 0

        wait_until(all_ended, END_TIMEOUT,
                   lambda: f"after the {label} restart, executions stayed RUNNING: "
                           f"{_statuses(postgres, ids)}\n{deployment.logs()}", interval=0.5)
        wait_until(deployment.ready, 60, lambda: f"the site is not ready again after the "
                                                 f"{label} restart:\n{deployment.logs()}")
        polls = [_poll(client, execution_id) for execution_id in ids]

    problems = {poll["executionId"]: found for poll in polls if (found := _problems(poll))}
    assert problems == {}, f"after the {label} restart (before it: {before}): {problems}"
    return polls


def _execute(client: httpx.Client, workflow: str, prompt: str) -> str:
    response = retrying(lambda: client.post(f"/workflows/{workflow}/execute",
                                            json={"inputs": {"p": prompt}}))
    assert response.status_code == 201, response.text
    return str(response.json()["executionId"])


def _poll(client: httpx.Client, execution_id: str) -> dict[str, Any]:
    response = retrying(lambda: client.get(f"/workflows/executions/{execution_id}/poll"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_redis_restart_under_20_running_executions_ends_every_one(stack: Stack) -> None:
    _, _, redis_server = stack.ready()
    polls = _run_through(stack, "redis", lambda down: redis_server.restart(down))
    # Losing the broker's queue (advances queued or scheduled) loses no work: the sweeper
    # re-advances what was waiting, and the provider's jobs went on meanwhile.
    _assert_all_completed(polls)


def test_a_postgresql_restart_under_20_running_executions_ends_every_one(stack: Stack) -> None:
    _, postgres, _ = stack.ready()
    polls = _run_through(stack, "postgresql", lambda down: postgres.restart(down))
    # A pass cut short by the lost connection is taken up again once the database is back; a
    # job whose submission was being recorded is completed by the provider's webhook.
    _assert_all_completed(polls)


def _assert_all_completed(polls: list[dict[str, Any]]) -> None:
    """Nothing here may fail: the provider fails no job, and the engine loses none (a failure
    with a clear error would still be a lost result, worth a look)."""
    outcomes = Counter(poll["status"] for poll in polls)
    errors = {poll["executionId"]: poll["error"] for poll in polls if poll["error"]}
    assert outcomes == {"COMPLETED": EXECUTIONS}, f"{outcomes}: {errors}"
