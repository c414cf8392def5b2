"""`events.continuing`: the one rule by which the WebSocket consumer and the SSE stream decide
whether a broadcast carries on from what a listener has sent, or whether the stored events must
fill a gap first."""

from typing import Any

import pytest

from executions.events import continuing


def events(*seqs: int) -> list[dict[str, Any]]:
    return [{"type": "node", "seq": seq, "data": {}} for seq in seqs]


@pytest.mark.parametrize("broadcast, last, expected", [
    (events(4, 5), 3, [4, 5]),  # straight on
    (events(2, 3, 4), 3, [4]),  # partly sent already: only the new ones
    (events(1, 2), 3, []),  # nothing new
    ([], 3, []),  # a quiet moment
    (events(6, 7), 3, None),  # 4 and 5 were missed: read the stored ones
])
def test_a_broadcast_carries_on_or_reports_a_gap(broadcast: list[dict[str, Any]], last: int,
                                                 expected: list[int] | None) -> None:
    fresh = continuing(broadcast, last)
    assert (None if fresh is None else [event["seq"] for event in fresh]) == expected
