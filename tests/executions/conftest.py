"""A clock for the fal simulator that only the test moves."""

import time
from typing import Any

import pytest


class SimClock:
    """Stands in for the `time` module of executions/simulators/fal_jobs.py. A simulated job's
    phase follows from that clock alone (submit time + latency), so a test that moves it sees
    each phase for certain, however slow the machine: no sleeping towards a moment."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sim_clock(monkeypatch: Any) -> SimClock:
    from executions.simulators import fal_jobs

    clock = SimClock()
    monkeypatch.setattr(fal_jobs, "time", clock)
    return clock
