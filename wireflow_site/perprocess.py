"""One object per process, built on first use: a forked child (a Celery pool process, a uvicorn
worker) builds its own instead of using its parent's, whose threads did not survive the fork."""

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._made: tuple[int, T] | None = None

    def get(self) -> T:
        with self._lock:
            if self._made is None or self._made[0] != os.getpid():
                self._made = (os.getpid(), self._build())
            return self._made[1]

    def current(self) -> T | None:
        """This process's object if it was built, without building it."""
        made = self._made
        return made[1] if made is not None and made[0] == os.getpid() else None


def daemon_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop running forever on a daemon thread of its own: build it per process
    (`PerProcess(partial(daemon_loop, name))`), since a forked child has not the thread.

    uvloop's where it is installed (uvicorn[standard] brings it; the web's own loop is one
    too): the engine's provider calls cost its worker ~12 % less CPU each on it (1.1 against
    1.25 ms a call, 8 threads submitting to a local server side by side)."""
    loop = _new_loop()
    threading.Thread(target=loop.run_forever, name=name, daemon=True).start()
    return loop


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # uvloop is not made for Windows or PyPy: the standard library's
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
