"""wireflow_site.perprocess: the loops and pools a process keeps (the engine's call loop, the
live events' loop, the simulators' webhook loop) are built once per process, and a forked
child (a Celery pool process) builds its own instead of using its parent's dead threads."""

import os

from wireflow_site.perprocess import PerProcess


def test_one_per_process_and_a_forked_child_builds_its_own() -> None:
    built: list[int] = []

    def build() -> object:
        built.append(os.getpid())
        return object()

    one = PerProcess(build)
    first = one.get()
    assert one.get() is first and built == [os.getpid()]

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it built its own, then leave at once
        try:
            mine = one.get()
            own = mine is not first and built[-1] == os.getpid() and len(built) == 2
            os.write(write, b"own" if own else b"inherited")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"own"
    os.close(read)
    assert one.get() is first and len(built) == 1  # the parent's is untouched


def test_the_engine_loops_are_uvloop_and_run_what_they_are_handed() -> None:
    """The provider calls' loop is uvloop's (it costs the worker less CPU per call), and a
    coroutine handed to it from this thread runs there and gives back its result."""
    import asyncio
    import threading

    import uvloop

    from executions.providers import io as provider_io

    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        await asyncio.sleep(0)
        return asyncio.get_running_loop(), threading.current_thread().name

    loop, thread = provider_io.run(where()).result(timeout=10)
    assert isinstance(loop, uvloop.Loop)
    assert thread == "provider-io"
