"""Directives that make a simulated model call slow, fail or hang, written in the prompt text.

    [sim latency=5s]      finish 5 s after submit (also `1500ms`, or a bare number of seconds)
    [sim fail=429x2]      the first 2 submits of this same payload answer 429, then it works
    [sim fail=500]        every submit answers 500 (`fail=CODExN` limits it to the first N)
    [sim fail=400]        every submit answers 422 with a validation `detail` list (permanent)
    [sim fail=job]        the submit is accepted, the job then finishes with an error
    [sim hang]            the job never finishes
    [sim invalid=1]       a workflow-generation answer (workflows/generate.py) breaks the graph
                          rules the first time; `invalid` alone: every time

Several may share one bracket (`[sim latency=2s fail=429x1]`). Unknown words are ignored, so a
typo never breaks a prompt. Pure: no Django, no I/O.
"""

import re
from dataclasses import dataclass
from typing import Any

# No `[` inside a block: each scan for the closing `]` then stops at the next `[`, so a prompt of
# many unclosed `[sim` costs linear time, not quadratic (a 100 KB one took a minute).
_BLOCK = re.compile(r"\[sim\b([^\[\]]*)\]", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
_FAIL = re.compile(r"^(\d{3})(?:x(\d+))?$")
MAX_LATENCY_SECONDS = 3600.0
_COUNT = re.compile(r"[0-9]{1,6}")
ALWAYS = 1_000_000  # `[sim invalid]`: more answers than any conversation has


@dataclass(frozen=True)
class Directives:
    latency: float | None = None
    fail_status: int | None = None
    fail_times: int | None = None  # None: every submit fails
    fail_job: bool = False
    hang: bool = False
    invalid_answers: int = 0  # how many first generation answers are invalid graphs

    def submit_fails(self, attempt: int) -> bool:
        """Whether submit number `attempt` (1-based, per payload) answers `fail_status`."""
        if self.fail_status is None:
            return False
        return self.fail_times is None or attempt <= self.fail_times


def parse_directives(*texts: str | None) -> Directives:
    found: dict[str, Any] = {}
    for text in texts:
        for block in _BLOCK.finditer(text or ""):
            for word in block.group(1).split():
                found.update(_read_word(word.lower()))
    return Directives(**found)


def strip_directives(text: str) -> str:
    return " ".join(_BLOCK.sub(" ", text).split())


def _read_word(word: str) -> dict[str, Any]:
    name, _, value = word.partition("=")
    if name == "hang" and not value:
        return {"hang": True}
    if name == "latency":
        seconds = _seconds(value)
        return {} if seconds is None else {"latency": seconds}
    if name == "fail":
        return _fail(value)
    if name == "invalid":
        return _invalid(value)
    return {}


def _seconds(value: str) -> float | None:
    match = _DURATION.match(value)
    if not match:
        return None
    number = float(match.group(1))
    seconds = number / 1000 if match.group(2) == "ms" else number
    return min(seconds, MAX_LATENCY_SECONDS)


def _fail(value: str) -> dict[str, Any]:
    if value == "job":
        return {"fail_job": True}
    match = _FAIL.match(value)
    if not match or not 400 <= int(match.group(1)) <= 599:
        return {}
    times = int(match.group(2)) if match.group(2) else None
    return {"fail_status": int(match.group(1)), "fail_times": times}


def _invalid(value: str) -> dict[str, Any]:
    if not value:
        return {"invalid_answers": ALWAYS}
    return {"invalid_answers": int(value)} if _COUNT.fullmatch(value) else {}
