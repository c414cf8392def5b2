"""Times as the API writes them: `2026-11-28T16:13:40.123Z` — UTC, always with milliseconds
(docs/api.md). The one formatter: API bodies, events, attempt logs and pages use it."""

from datetime import UTC, datetime
from typing import overload


@overload
def iso(moment: datetime) -> str: ...


@overload
def iso(moment: None) -> None: ...


def iso(moment: datetime | None) -> str | None:
    """None stays None; a naive time is taken as UTC, an aware one converted to it."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
