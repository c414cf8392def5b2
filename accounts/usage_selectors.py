"""Reads for Settings > Usage: the team's limits with how much of each is used now (read from the
rate limiter's own counters), its credit ledger a page at a time, and its charges per day."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.paginator import Page, Paginator
from django.db.models import Sum
from django.db.models.functions import TruncDate

from wireflow_site import ratelimit

from .models import CreditEntry, CreditKind, Team
from .plans import limits_for

LEDGER_PAGE_SIZE = 25


@dataclass(frozen=True)
class Meter:
    key: str
    label: str
    used: int | None  # None: not counted (limits off, or the limiter unreachable)
    limit: int | None  # None: unlimited

    @property
    def percent(self) -> int:
        if not self.used or not self.limit:
            return 0
        return min(100, round(self.used * 100 / self.limit))

    @property
    def level(self) -> str:
        return "full" if self.percent >= 100 else "high" if self.percent >= 80 else "ok"


def usage_meters(team: Team, executions_last_day: int) -> list[Meter]:
    """API requests this minute, executions this minute, executions in the last 24 hours: the
    windows the limiter counts (wireflow_site/ratelimit.py). Without the limiter's counter the
    day falls back to the executions recorded in the database, as it does for a plan without a
    daily cap (the limiter does not count what it never refuses)."""
    limits = limits_for(team.plan)

    def used(bucket: str, window: int) -> int | None:
        return ratelimit.bucket_count(ratelimit.bucket_key(team.pk, bucket), window)

    day = used(ratelimit.EXECUTIONS_DAY, ratelimit.DAY)
    return [
        Meter("requests", "API requests / min", used(ratelimit.REQUESTS, ratelimit.MINUTE),
              limits.requests_per_minute),
        Meter("executions-minute", "Executions / min",
              used(ratelimit.EXECUTIONS, ratelimit.MINUTE), limits.executions_per_minute),
        Meter("executions-day", "Executions / day (last 24 hours)",
              executions_last_day if day is None or limits.executions_per_day is None else day,
              limits.executions_per_day),
    ]


def ledger_page(team: Team, page: str | int | None) -> Page[CreditEntry]:
    """One page of the team's ledger, newest first; a page number out of range gives the last
    page, anything that is not a number the first."""
    entries = CreditEntry.objects.filter(team=team).order_by("-created_at", "-pk")
    return Paginator(entries, LEDGER_PAGE_SIZE).get_page(page)


def charges_by_day(team: Team, since: datetime) -> dict[str, float]:
    """Credits charged for nodes per UTC day since a moment, from the ledger ({"YYYY-MM-DD":
    credits}; days without charges are absent)."""
    rows = (CreditEntry.objects.filter(team=team, kind=CreditKind.CHARGE, created_at__gte=since)
            .annotate(day=TruncDate("created_at", tzinfo=UTC)).order_by()
            .values("day").annotate(total=Sum("amount")))
    return {row["day"].isoformat(): round(-float(row["total"]), 4) for row in rows}
