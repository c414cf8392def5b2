"""How far behind their due time the engine's wake-ups start: the sweeper's measure of a
backlog.

The sweeper re-advances an execution whose wake-up is overdue by its grace, taking the wake-up
for lost. Under a backlog it is not lost, only queued: with a thousand advances in the queue
each starts seconds after it was sent, and a sweeper that took every one of them for lost would
send each again, doubling the queue it was waiting behind. So every advance notes how late it
started (its task carries its due time), and the sweeper waits that much longer before it takes
a wake-up for lost. The queue is first in, first out: when the advance starting now was due L
seconds ago, every wake-up due before that has started, so one still overdue by more than the
grace plus L was lost. A lost one is still found, later by the backlog.

One value for the deployment, in the cache every process shares (Redis in production; the
embedded mode's sweeper and runners share its process). Noted only when it matters (a second
or more), at most once a second per process; kept KEEP_SECONDS after the last note, and cleared
by the first advance that starts on time again. The cache being away costs only the
measure: the sweeper then waits its grace alone.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger("wireflow.engine")

LAG_KEY = "engine:backlog-lag"
NOTABLE_SECONDS = 1.0  # a later start than this is a backlog, not the broker's round trip
KEEP_SECONDS = 30.0
MOST_SECONDS = 3600.0  # a due time further back is a clock gone wrong, not a queue
_noted = {"value": 0.0, "at": float("-inf")}  # this process's last note
_clock = time.monotonic


def note_start(lag: float) -> None:
    """An advance started `lag` seconds after it was due."""
    lag = min(max(lag, 0.0), MOST_SECONDS)
    now = _clock()
    if lag < NOTABLE_SECONDS:
        if _noted["value"] < NOTABLE_SECONDS:
            return
        value: float | None = None  # on time again: the backlog is gone
    elif lag > _noted["value"] or now - _noted["at"] >= 1.0:
        value = lag
    else:
        return
    try:
        if value is None:
            cache.delete(LAG_KEY)
        else:
            cache.set(LAG_KEY, value, KEEP_SECONDS)
    except Exception:  # the measure is lost, not the advance
        logger.warning("could not note the engine's backlog", exc_info=True)
        return
    _noted.update(value=value or 0.0, at=now)


def recent_lag() -> float:
    """How late advances have lately started (0 without a backlog)."""
    try:
        value = cache.get(LAG_KEY)
    except Exception:
        logger.warning("could not read the engine's backlog", exc_info=True)
        return 0.0
    try:
        return min(max(float(value), 0.0), MOST_SECONDS) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
