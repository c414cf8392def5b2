"""The in-process side of CPU (bench/cpu_parts.py): run in a process of its own with the site's
environment, it measures one kind of work and prints its process CPU per unit as JSON.

    python -m bench.cpu_driver request GET /api/v1/team <api key> <count> <concurrency>
    python -m bench.cpu_driver pass <workflow id> <email> <count> <threads>

`request`: the site's ASGI application called directly on a uvloop loop (no server, no socket:
what a request costs the web process beyond uvicorn's HTTP parsing). `pass`: executions started
through the service, then `advance()` on each (the submit pass: lease, claim, the provider's
submit on the process's provider loop, its request id recorded, the lease released), from
`threads` threads; nothing goes through the broker.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

WARM_UP = 100


def measure_requests(method: str, path: str, api_key: str, count: int, concurrency: int
                     ) -> dict[str, Any]:
    import uvloop

    from wireflow_site.asgi import application

    body = b"{}" if method == "POST" else b""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {api_key}".encode()),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}

    async def one() -> int:
        answered = asyncio.Event()
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body"):
                answered.set()

        await application(dict(scope), receive, send)
        return status

    async def main() -> dict[str, Any]:
        for _ in range(WARM_UP):
            await one()
        gate = asyncio.Semaphore(concurrency)

        async def gated() -> int:
            async with gate:
                return await one()

        cpu, wall = time.process_time(), time.perf_counter()
        statuses = await asyncio.gather(*(gated() for _ in range(count)))
        return {"cpuMs": (time.process_time() - cpu) / count * 1000,
                "wallMs": (time.perf_counter() - wall) / count * 1000,
                "statuses": sorted({str(status) for status in statuses})}

    return uvloop.run(main())


def measure_passes(workflow_id: str, email: str, count: int, threads: int) -> dict[str, Any]:
    from django.utils import timezone

    from accounts.models import User
    from executions import dispatch
    from executions.engine.runner import advance
    from executions.models import Execution, NodeRun
    from executions.services import ExecuteRequest, execution_start
    from workflows.models import Workflow

    # No broker: this process advances each execution itself, once.
    dispatch.connect(embedded=lambda *_: None, distributed=lambda *_: None)
    workflow = Workflow.objects.get(pk=workflow_id)
    user = User.objects.get(email=email)
    ids = [str(execution_start(workflow, user, ExecuteRequest()).pk)
           for _ in range(WARM_UP + count)]
    # Not due for the site's sweeper, which would otherwise hand those left waiting longer
    # than its grace to the site's worker: passes racing this one for the lease, measured too.
    Execution.objects.filter(pk__in=ids).update(wake_at=timezone.now() + timedelta(hours=1))
    for execution_id in ids[:WARM_UP]:
        advance(execution_id)
    measured = ids[WARM_UP:]
    cpu, wall = time.process_time(), time.perf_counter()
    if threads == 1:
        for execution_id in measured:
            advance(execution_id)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(advance, measured))
    used, took = time.process_time() - cpu, time.perf_counter() - wall
    submitted = NodeRun.objects.filter(execution_id__in=measured, phase="submitted").count()
    return {"cpuMs": used / count * 1000, "wallMs": took / count * 1000,
            "submitted": submitted}


def main(args: list[str]) -> int:
    import django

    django.setup()
    if args[0] == "request":
        method, path, api_key, count, concurrency = args[1:6]
        out = measure_requests(method, path, api_key, int(count), int(concurrency))
    elif args[0] == "pass":
        workflow_id, email, count, threads = args[1:5]
        out = measure_passes(workflow_id, email, int(count), int(threads))
    else:
        print(f"unknown kind {args[0]!r}: request or pass", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
