"""Every WebSocket's consumer ends when its client goes, whatever the moment: before the
handshake is answered (no session: refused), after a lookup (an execution the viewer cannot
see), or while it listens to an execution's group. A consumer that outlives its client keeps a
task (and a Redis connection) on the web server for good and holds up a graceful shutdown.

The consumer always waits on the channel layer for messages; when the client goes, Channels
cancels that wait and waits for it to end. A layer whose receive swallows the cancellation
(channels-redis's list-based layer, in a blocking pop on redis-py 8) never lets it end."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from accounts.models import User
from executions.models import Execution, ExecutionStatus
from tests.conftest import LiveServer
from tests.harness import wait_until
from tests.workflows.test_templates_api import make_workflow
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS = 8
EACH = 24  # handshakes per client thread, one kind after another
DRAIN_TIMEOUT = 60  # bounds a hang: consumers end within moments of their clients


def _cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _open_and_leave(base: str, path: str, cookie: str | None) -> str:
    headers = {"Origin": base} | ({"Cookie": cookie} if cookie else {})
    try:
        with connect(f"ws://{urlsplit(base).netloc}{path}", additional_headers=headers,
                     open_timeout=DRAIN_TIMEOUT) as socket:
            socket.recv(timeout=DRAIN_TIMEOUT)  # the snapshot: listening now; then leave
            return "listened"
    except InvalidStatus:
        return "refused"
    except WebSocketException:
        return "closed"


def test_no_consumer_outlives_its_client(live_site: str, _asgi_server: LiveServer,
                                         api: Any, owner: User) -> None:
    workflow = Workflow.objects.get(pk=make_workflow(api)["id"])
    now = timezone.now()
    execution = Execution.objects.create(workflow=workflow, team=workflow.team,
                                         status=ExecutionStatus.RUNNING,
                                         deadline_at=now + timedelta(hours=1))
    cookie = _cookie(owner)
    kinds = [(f"/ws/executions/{uuid4()}/", None),  # no session
             (f"/ws/executions/{uuid4()}/", cookie),  # an execution it cannot see
             (f"/ws/executions/{execution.pk}/", cookie)]  # its own: listens, then leaves

    def client(number: int) -> list[str]:
        return [_open_and_leave(live_site, *kinds[(number + i) % len(kinds)])
                for i in range(EACH)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = [o for batch in pool.map(client, range(CLIENTS)) for o in batch]
    assert {"refused", "listened"} <= set(outcomes), outcomes

    tasks = _asgi_server.server.server_state.tasks
    wait_until(lambda: not tasks, DRAIN_TIMEOUT,
               lambda: f"{len(tasks)} of {len(outcomes)} consumers outlived their clients:\n"
                       + "\n".join(_where(task) for task in list(tasks)[:3]))


def _where(task: Any) -> str:
    frames = task.get_stack()
    return " <- ".join(f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}"
                       for f in frames[-3:]) or repr(task)
