"""The in-process side of CPU (bench/cpu_parts.py): run in a process of its own with the site's
environment, it measures one kind of work and prints its process CPU per unit as JSON.

    python -m bench.cpu_driver request GET /api/v1/team <api key> <count> <concurrency>
    python -m bench.cpu_driver pass <workflow id> <email> <count> <threads>
    python -m bench.cpu_driver hook <workflow id> <email> <count> <concurrency>
    python -m bench.cpu_driver result <workflow id> <email> <count> <threads>

`request`: the site's ASGI application called directly on a uvloop loop (no server, no socket:
what a request costs the web process beyond uvicorn's HTTP parsing). `pass`: executions started
through the service, then `advance()` on each (the submit pass: lease, claim, the provider's
submit on the process's provider loop, its request id recorded, the lease released), from
`threads` threads; nothing goes through the broker. `hook`: jobs submitted as `pass` submits
them (not measured), then each one's completion webhook, a provider's POST to
/hooks/provider/<token>/ with fal's body, through the site's ASGI application as `request`
calls it (the task it sends goes to the broker). `result`: jobs submitted and their completion
webhooks recorded (not measured), then `advance()` on each from `threads` threads: the result's
pass (lease, the delivery read, the node completed, the rest of the graph run inline, the
execution ended and charged, the lease released).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

WARM_UP = 100


def measure_requests(method: str, path: str, api_key: str, count: int, concurrency: int
                     ) -> dict[str, Any]:
    body = b"{}" if method == "POST" else b""
    headers = [(b"authorization", f"Bearer {api_key}".encode())]
    return _measure_calls([(method, path, headers, body)] * (WARM_UP + count), concurrency)


def _measure_calls(calls: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]],
                   concurrency: int) -> dict[str, Any]:
    """The site's ASGI application called on a uvloop loop for each (method, path, headers,
    body), the first WARM_UP of them not measured: the process's CPU per call."""
    import uvloop

    from wireflow_site.asgi import application

    async def one(method: str, path: str, headers: list[tuple[bytes, bytes]],
                  body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                 "headers": [(b"host", b"127.0.0.1"), *headers,
                             (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}
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

        await application(scope, receive, send)
        return status

    async def main() -> dict[str, Any]:
        for call in calls[:WARM_UP]:
            await one(*call)
        gate = asyncio.Semaphore(concurrency)

        async def gated(call: tuple[str, str, list[tuple[bytes, bytes]], bytes]) -> int:
            async with gate:
                return await one(*call)

        count = len(calls) - WARM_UP
        cpu, wall = time.process_time(), time.perf_counter()
        statuses = await asyncio.gather(*(gated(call) for call in calls[WARM_UP:]))
        return {"cpuMs": (time.process_time() - cpu) / count * 1000,
                "wallMs": (time.perf_counter() - wall) / count * 1000,
                "statuses": sorted({str(status) for status in statuses})}

    return uvloop.run(main())


def _fal_delivery(request_id: str) -> dict[str, Any]:
    """fal's completion webhook body for a FLUX job."""
    return {"request_id": request_id, "gateway_request_id": request_id, "status": "OK",
            "error": None, "payload": {
                "images": [{"url": "http://127.0.0.1/media/a.png", "width": 256, "height": 256,
                            "content_type": "image/png"}],
                "seed": 1, "timings": {"inference": 30.0}}}


def measure_hooks(workflow_id: str, email: str, count: int, concurrency: int) -> dict[str, Any]:
    from executions import dispatch
    from executions.engine.nodectx import webhook_url
    from executions.models import NodeRun
    from executions.tasks import send_advance

    submitted = measure_passes(workflow_id, email, count, 8, keep=True)["ids"]
    dispatch.connect(embedded=lambda *_: None, distributed=send_advance)  # as the site sends
    calls = [("POST", "/" + webhook_url(run).split("/", 3)[3], [],
              json.dumps(_fal_delivery(run.request_id)).encode())
             for run in NodeRun.objects.filter(execution_id__in=submitted, phase="submitted")]
    if len(calls) != len(submitted):
        raise RuntimeError(f"{len(calls)} of {len(submitted)} jobs were submitted")
    return _measure_calls(calls, concurrency)


def measure_results(workflow_id: str, email: str, count: int, threads: int) -> dict[str, Any]:
    from executions.engine.runner import advance
    from executions.models import Execution, NodeRun
    from executions.services import provider_hook_received

    ids = measure_passes(workflow_id, email, count, 8, keep=True)["ids"]  # no broker (above)
    runs = list(NodeRun.objects.filter(execution_id__in=ids, phase="submitted"))
    if len(runs) != len(ids):
        raise RuntimeError(f"{len(runs)} of {len(ids)} jobs were submitted")
    for run in runs:
        provider_hook_received(run.pk, run.attempt, _fal_delivery(run.request_id))
    for execution_id in ids[:WARM_UP]:
        advance(execution_id)
    measured = ids[WARM_UP:]
    cpu, wall = time.process_time(), time.perf_counter()
    _on_threads(advance, measured, threads)
    used, took = time.process_time() - cpu, time.perf_counter() - wall
    completed = Execution.objects.filter(pk__in=measured, status="COMPLETED").count()
    return {"cpuMs": used / count * 1000, "wallMs": took / count * 1000, "completed": completed}


def measure_passes(workflow_id: str, email: str, count: int, threads: int, *,
                   keep: bool = False) -> dict[str, Any]:
    """`keep`: also the ids of every execution advanced (`ids`)."""
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
        _on_threads(advance, measured, threads)
    used, took = time.process_time() - cpu, time.perf_counter() - wall
    submitted = NodeRun.objects.filter(execution_id__in=measured, phase="submitted").count()
    return {"cpuMs": used / count * 1000, "wallMs": took / count * 1000,
            "submitted": submitted, **({"ids": ids} if keep else {})}


def _on_threads(work: Callable[[str], object], items: list[str], threads: int) -> None:
    """`work` on each item from `threads` threads, each handing its database connection back
    when it is done (as a Celery task's end does): the next measure's threads need them."""
    from django.db import connections

    left = iter(items)
    lock = threading.Lock()

    def thread() -> None:
        try:
            while True:
                with lock:
                    item = next(left, None)
                if item is None:
                    return
                work(item)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(thread) for _ in range(threads)]:
            done.result()


def main(args: list[str]) -> int:
    import django

    django.setup()
    if args[0] == "request":
        method, path, api_key, count, concurrency = args[1:6]
        out = measure_requests(method, path, api_key, int(count), int(concurrency))
    elif args[0] == "pass":
        workflow_id, email, count, threads = args[1:5]
        out = measure_passes(workflow_id, email, int(count), int(threads))
    elif args[0] == "hook":
        workflow_id, email, count, concurrency = args[1:5]
        out = measure_hooks(workflow_id, email, int(count), int(concurrency))
    elif args[0] == "result":
        workflow_id, email, count, threads = args[1:5]
        out = measure_results(workflow_id, email, int(count), int(threads))
    else:
        print(f"unknown kind {args[0]!r}: request, pass, hook or result", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
