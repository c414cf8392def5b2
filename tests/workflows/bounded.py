"""Running a node's executor in a child process with a deadline, for pathological inputs: one that
pins the CPU while holding the GIL (a backtracking regex, a runaway allocation) cannot be bounded
by a thread of the test process, which would hang with it. In a child, the test fails instead.

The child is not forked from the test process, which has threads (a live server) whose locks a
fork could copy in a held state. It is forked from multiprocessing's fork server, a process of
its own with one thread that has set Django up once (`bounded_preload`): a run then costs its
node, not an interpreter's start and Django's setup (about 2 s each on a loaded machine).
"""

import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# Bounds a hang, not a speed: these runs take a second or two, more on a busy machine.
DEADLINE_SECONDS = 120.0
PASSED_SETTINGS = ("MEDIA_ROOT", "MEDIA_URL", "MAX_TEXT_BYTES")
_FORK_SERVER = multiprocessing.get_context("forkserver")
_FORK_SERVER.set_forkserver_preload(["tests.workflows.bounded_preload"])  # read at its start


@dataclass(frozen=True)
class Outcome:
    ports: dict[str, Any] | None = None  # what the node delivered, if it succeeded
    failure: str | None = None  # the NodeFailure's message, if it failed as a node should
    crash: str | None = None  # any other exception: a bug

    @property
    def text(self) -> str:
        assert self.ports is not None, self
        return str(self.ports["text"])


def run_node(node_type: str, params: dict[str, Any], inputs: dict[str, Any] | None = None,
             labels: dict[str, list[str]] | None = None,
             deadline: float = DEADLINE_SECONDS) -> Outcome:
    """Run `node_type`'s executor on these params and inputs in a child process; its outcome,
    or an AssertionError if it has not finished by the deadline (the child is then killed)."""
    receiver, sender = _FORK_SERVER.Pipe(duplex=False)
    child = _FORK_SERVER.Process(
        target=_run, args=(sender, node_type, params, inputs or {}, labels or {},
                           _passed_settings()), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(deadline):
            raise AssertionError(f"{node_type} did not finish within {deadline:g} s")
        try:
            outcome: Outcome = receiver.recv()
        except EOFError:
            raise AssertionError(f"{node_type} died (exit code {child.exitcode})") from None
        return outcome
    finally:
        child.kill()
        child.join()
        receiver.close()


def _passed_settings() -> dict[str, Any]:
    """The settings a test may have changed that a node's run reads (where media is saved and
    read): the fork server's Django was set up before the test changed them."""
    from django.conf import settings

    return {name: getattr(settings, name) for name in PASSED_SETTINGS}


def _run(sender: Connection, node_type: str, params: dict[str, Any], inputs: dict[str, Any],
         labels: dict[str, list[str]], passed: dict[str, Any]) -> None:
    import django
    from django.test.utils import override_settings

    django.setup()
    with override_settings(**passed):  # as the test process has them; storages follow
        _run_node(sender, node_type, params, inputs, labels)


def _run_node(sender: Connection, node_type: str, params: dict[str, Any],
              inputs: dict[str, Any], labels: dict[str, list[str]]) -> None:
    from executions.engine.contracts import NodeContext, NodeFailure, inline
    from executions.executors import executor_for
    from workflows.nodes import catalogue

    spec = catalogue[node_type]
    ctx = NodeContext(execution_id="bounded", team_id=0, node_id="node", node_type=node_type,
                      label="node", params=spec.params.model_validate(params), inputs=inputs,
                      input_labels=labels)
    try:
        outcome = Outcome(ports=inline(executor_for(node_type)).run(ctx).ports)
    except NodeFailure as exc:
        outcome = Outcome(failure=str(exc))
    except Exception as exc:  # reported to the test, which fails on it
        outcome = Outcome(crash=f"{exc.__class__.__name__}: {exc}"[:2000])
    sender.send(outcome)
    sender.close()
