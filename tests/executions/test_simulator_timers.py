"""The simulators' timers: calls run at their time, in order, from one waiting thread that is
woken only when the next due time moves earlier."""

import time

from executions.simulators.timers import Timers
from tests.harness import CountingCondition, wait_until


def test_calls_run_in_due_order_whatever_order_they_were_made_in() -> None:
    timers, ran = Timers(workers=1), list[str]()
    now = time.time()
    for delay, name in ((0.3, "c"), (0.1, "a"), (0.2, "b")):
        timers.call_at(now + delay, ran.append, name)

    wait_until(lambda: len(ran) == 3, 10, f"only {ran} ran")
    assert ran == ["a", "b", "c"]


def test_the_waiting_thread_is_woken_only_for_a_call_due_sooner_than_all_before() -> None:
    timers, ran = Timers(workers=1), list[str]()
    condition = timers._ready = CountingCondition()
    now = time.time()

    timers.call_at(now + 600, ran.append, "later")
    timers.call_at(now + 900, ran.append, "later still")
    assert condition.notified == 1  # the first: the thread had nothing to wait for
    timers.call_at(now + 0.05, ran.append, "soon")
    assert condition.notified == 2

    wait_until(lambda: ran == ["soon"], 10, f"ran {ran}")


def test_a_call_that_raises_does_not_stop_the_next() -> None:
    timers, ran = Timers(workers=1), list[str]()

    def broken() -> None:
        raise RuntimeError("boom")

    now = time.time()
    timers.call_at(now, broken)
    timers.call_at(now + 0.05, ran.append, "next")

    wait_until(lambda: ran == ["next"], 10, f"ran {ran}")
