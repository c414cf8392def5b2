"""Driving the engine in the test process, for tests that need to reach into it (inject a fault,
race two runners) or to receive a webhook on this machine.

The dispatcher's send (the seam to Celery) is replaced by a recorder, and the test calls
`advance` itself, over and over like the scheduled wake-ups and the sweeper would, until the
execution ends. A `Receiver` is a webhook endpoint on 127.0.0.1 that answers from a script.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from django.db import connection

from executions.engine.runner import advance
from executions.models import Execution, ExecutionStatus
from tests.harness import LocalHTTPServer, wait_until

from .helpers import RUN_TIMEOUT

HOLD = "hold"  # a planned answer: keep the request open until `release()`


def status_of(execution_id: str) -> str:
    return str(Execution.objects.values_list("status", flat=True).get(pk=execution_id))


def drive(execution_id: str, timeout: float = RUN_TIMEOUT) -> Execution:
    """Advance until the execution has ended (retries and polls come due meanwhile)."""
    def ended() -> bool:
        advance(execution_id)
        return status_of(execution_id) != ExecutionStatus.RUNNING

    wait_until(ended, timeout, lambda: f"execution {execution_id} still RUNNING")
    return Execution.objects.get(pk=execution_id)


class DriverThread(threading.Thread):
    """Another runner: advances the execution from its own thread (and database connection)
    until it ends; an exception it meets is kept for the test to raise."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(daemon=True)
        self.execution_id = execution_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            drive(self.execution_id)
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            connection.close()


@dataclass
class Receiver:
    """A webhook receiver: the n-th delivery gets the n-th planned answer (an HTTP status, or
    HOLD), and 200 once the plan is used up."""

    plan: list[int | str] = field(default_factory=list)
    retry_after: str | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver.lock:
                    answer = receiver.plan[len(receiver.bodies)] \
                        if len(receiver.bodies) < len(receiver.plan) else 200
                    receiver.bodies.append(body)
                receiver.arrived.set()
                if answer == HOLD:
                    receiver.released.wait(RUN_TIMEOUT)
                    answer = 200
                self.send_response(int(answer))
                if receiver.retry_after and int(answer) >= 400:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def deliveries(self) -> int:
        with self.lock:
            return len(self.bodies)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
