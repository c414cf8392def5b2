"""Credits: each team's append-only ledger (1 credit = US$0.01), its reads and its writes.

The balance is the sum of the team's `CreditEntry.amount`s, and it is also what is available:
a running execution's reservation is already subtracted. The entries:

- grant +G (sign-up, operator), adjustment ±A (operator; never below zero);
- reserve −R when an execution starts (R = the estimate of the nodes that will run);
- cover −X before a priced node runs, when the most it can cost (measured on the params and
  media it runs with) exceeds its line of the estimate by X (refused, and the node failed, if
  the team does not have X): so every node runs with its whole cost reserved;
- per completed node with cost c: release +min(c, outstanding reservation), and charge −c —
  the cost moves from the reservation to a charge, so the balance does not move unless the node
  cost more than was left reserved;
- release +rest when the execution ends (completed, failed or cancelled).

So at every moment: balance = grants ± adjustments − charges − outstanding reservations.

The balance itself is kept in `CreditAccount`, updated in the same transaction as each entry,
so reading it does not sum a ledger that grows for ever (the tests check the two agree).

Never negative: every write that moves the balance takes the lock of the team's account row
(SELECT ... FOR UPDATE, or a reservation's UPDATE ... WHERE balance >= R, which the database
re-checks on the fresh row after waiting for it), so concurrent executes and charges of one team
are serialised and each compares against the fresh balance; a CHECK constraint backs that up in
the database. A charge wholly out of its execution's reservation, with nothing left to give back
(the usual case: a node costs what it was estimated at), does not move the balance and takes no
account lock: the writers of one execution's reservation are serialised by a lock of their own
instead (`_lock_reservation`), so a team's results are recorded side by side, not one at a
time. Locks are always taken in that order: the execution's reservation, then the team's
account.

The engine charges a node at most the bound it covered, so a charge always comes out of the
reservation; should one cost more all the same, the overrun is taken from the team's
available credits, and if those run out the charge is capped at what is there. The team is
never charged more than it has, and the node's recorded credits are the capped amount, so
`creditsUsed` stays the sum of the charges. Nodes that cost nothing (and cached results) write
no entry.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any, cast
from uuid import UUID

from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from wireflow_site import rows
from wireflow_site.errors import ApiError, InvalidRequest
from wireflow_site.rows import one_row, values_where

from .models import CreditAccount, CreditEntry, CreditKind, Team
from .plans import limits_for

ZERO = Decimal(0)
QUANTUM = Decimal("0.0001")  # the ledger's precision: Decimal(12, 4)
MAX_AMOUNT = Decimal("99999999.9999")
ExecutionId = UUID | str
# The seed of the advisory locks' keys that serialise each execution's reservation writers.
RESERVATION_LOCKS = 0x5E5E


def to_credits(value: float | int | str | Decimal) -> Decimal:
    """A ledger amount: four decimals; floats go through their shortest text, so 0.1 is 0.1."""
    try:
        amount = Decimal(str(value)).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise InvalidRequest(f"Not an amount of credits: {value!r}") from None
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT:
        raise InvalidRequest(f"Not an amount of credits: {value!r}")
    return amount


def as_number(amount: Decimal) -> int | float:
    """For JSON: 20, not 20.0 or "20.0000"."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def as_text(amount: Decimal) -> str:
    """For messages: 20, 12.5 — no trailing zeros, no exponent."""
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "") else text


# --- the estimate's line items and the 402 --------------------------------------------------

@dataclass(frozen=True)
class LineItem:
    """What one node is expected to cost."""

    node_id: str
    node_label: str
    node_type: str
    credits: Decimal
    # "team" when the node runs on its team's own provider key (credits 0: the provider
    # bills the team directly; see executions/providers/credentials.py).
    billed_by: str = "platform"

    def as_json(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "nodeLabel": self.node_label,
                "nodeType": self.node_type, "credits": as_number(self.credits),
                "billedBy": self.billed_by}


def total_of(items: Sequence[LineItem]) -> Decimal:
    return sum((item.credits for item in items), ZERO)


class InsufficientCredits(ApiError):
    status = 402
    code = "insufficient_credits"

    def __init__(self, required: Decimal, available: Decimal, items: Sequence[LineItem]) -> None:
        super().__init__(
            f"Insufficient credits. Required: {as_text(required)}, "
            f"Available: {as_text(available)}",
            insufficientCredits=True, requiredCredits=as_number(required),
            availableCredits=as_number(available),
            breakdown=[item.as_json() for item in items])


# --- reads ----------------------------------------------------------------------------------

def credit_balance(team_id: int) -> Decimal:
    """What the team has and may spend now (reservations already subtracted)."""
    found = CreditAccount.objects.filter(team_id=team_id).values_list("balance", flat=True)
    return one_row(found) or ZERO


def credits_used_since(team_id: int, since: datetime) -> Decimal:
    """Credits charged for nodes since a moment (reservations are not use)."""
    total = _ledger_sum(CreditEntry.objects.filter(team_id=team_id, kind=CreditKind.CHARGE,
                                                   created_at__gte=since))
    return -total if total else ZERO


def reservation_outstanding(execution_id: ExecutionId) -> Decimal:
    """What is still reserved for an execution: its reservation minus what was released.
    Its SQL is written once: the engine reads it in every pass that charges a node or ends a
    run, and the ORM spent ~0.5 ms building the aggregate, five times what running it costs."""
    field = CreditEntry._meta.get_field("execution")
    with connection.cursor() as cursor:
        cursor.execute(_reserved_sql(), [field.get_db_prep_value(execution_id, connection),
                                         CreditKind.RESERVE, CreditKind.RELEASE])
        (total,), = cursor.fetchall()
    total = _exact(total)
    return -total if total else ZERO


@cache
def _reserved_sql() -> str:
    quote = connection.ops.quote_name
    meta = CreditEntry._meta
    amount = quote(meta.get_field("amount").column)
    execution = quote(meta.get_field("execution").column)
    kind = quote(meta.get_field("kind").column)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"SELECT SUM({amount}) FROM {quote(meta.db_table)} "  # noqa: S608
            f"WHERE {execution} = %s AND {kind} IN (%s, %s)")


def _ledger_sum(entries: QuerySet[CreditEntry]) -> Decimal:
    """The sum of some entries' amounts, exact to the ledger's 0.0001. PostgreSQL adds numerics
    exactly; SQLite (the embedded `make dev` database) adds them as floats, so without the
    quantize a spent reservation would read 1.8e-15 instead of 0 there."""
    return _exact(entries.aggregate(total=Sum("amount"))["total"])


def _exact(total: Decimal | float | int | None) -> Decimal:
    return Decimal(total or 0).quantize(QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Usage:
    plan: str
    balance: Decimal
    used_today: Decimal
    used_this_month: Decimal
    executions_today: int
    daily_execution_limit: int | None  # None: unlimited
    requests_per_minute: int


def team_usage(team: Team, now: datetime | None = None) -> Usage:
    """Credits used since UTC midnight and since the first of the month; executions in the last
    24 hours, the rolling window the daily execution limit counts (wireflow_site/ratelimit.py)."""
    now = now or timezone.now()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    limits = limits_for(team.plan)
    return Usage(
        plan=team.plan, balance=credit_balance(team.pk),
        used_today=credits_used_since(team.pk, midnight),
        used_this_month=credits_used_since(team.pk, midnight.replace(day=1)),
        executions_today=team.executions.filter(created_at__gt=now - timedelta(days=1)).count(),
        daily_execution_limit=limits.executions_per_day,
        requests_per_minute=limits.requests_per_minute)


# --- writes (each under the lock of the team's account row) -------------------------------

def _lock_account(team_id: int) -> Decimal:
    """Lock the team's account (creating it on first use) until the caller's transaction ends,
    which serialises the team's ledger writes; returns its balance."""
    # Read by SQL written once (wireflow_site.rows): the ORM spent ~0.3 ms building it, on
    # every charge and every end of a priced run.
    found = values_where(CreditAccount, ("balance",), {"team": team_id}, lock=True)
    if not found:  # the account exists but on a team's very first write: one read
        CreditAccount.objects.bulk_create([CreditAccount(team_id=team_id)], ignore_conflicts=True)
        found = values_where(CreditAccount, ("balance",), {"team": team_id}, lock=True)
    (balance,), = found
    return cast(Decimal, balance)


def _lock_reservation(execution_id: ExecutionId) -> None:
    """Serialise the writers of one execution's reservation (its nodes' charges and covers, the
    release of its rest: the engine's lease holder, a stale one, the release of a deleted
    execution) until the caller's transaction ends, before it reads what is reserved: on
    PostgreSQL a transaction-level advisory lock on the execution, which the team's other
    executions do not queue behind. Elsewhere (SQLite, `make dev`) the database takes one
    writer at a time."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
                       [str(execution_id), RESERVATION_LOCKS])


def _post(team_id: int, *entries: CreditEntry) -> None:
    """Append entries and move the balance by their sum. The caller holds the account lock,
    unless they sum to zero (a charge wholly out of the reservation: nothing moves)."""
    rows.insert(entries)
    delta = sum((entry.amount for entry in entries), ZERO)
    if delta:  # a charge wholly out of the reservation (release +c, charge -c) moves nothing
        _move_balance(team_id, delta)


def _entry(team_id: int, kind: str, amount: Decimal, *, execution_id: ExecutionId | None = None,
           node_id: str = "", note: str = "") -> CreditEntry:
    return CreditEntry(team_id=team_id, kind=kind, amount=amount, execution_id=execution_id,
                       node_id=node_id, note=note[:200], created_at=timezone.now())


@transaction.atomic
def credits_grant(team: Team, amount: float | int | str | Decimal, *, note: str = "") -> Decimal:
    """Add credits (an operator's grant or the sign-up grant); returns the new balance."""
    credits = to_credits(amount)
    if credits <= 0:
        raise InvalidRequest("A grant must be a positive amount of credits")
    balance = _lock_account(team.pk)
    _post(team.pk, _entry(team.pk, CreditKind.GRANT, credits, note=note))
    return balance + credits


@transaction.atomic
def credits_adjust(team: Team, amount: float | int | str | Decimal, *, note: str = "") -> Decimal:
    """An operator's correction, either way; refused if it would leave the balance below zero.
    Returns the new balance."""
    credits = to_credits(amount)
    if credits == 0:
        raise InvalidRequest("An adjustment must not be zero")
    balance = _lock_account(team.pk)
    if balance + credits < 0:
        raise InvalidRequest(f"The balance is {as_text(balance)}: taking {as_text(-credits)} "
                             "would leave it below zero")
    _post(team.pk, _entry(team.pk, CreditKind.ADJUSTMENT, credits, note=note))
    return balance + credits


def signup_grant(team: Team, amount: int) -> None:
    """The free-plan credits a person's own team starts with (settings.SIGNUP_CREDITS)."""
    if amount > 0:
        credits_grant(team, amount, note="Sign-up grant")


def credits_reserve(team_id: int, execution_id: ExecutionId, items: Sequence[LineItem]) -> None:
    """Reserve the estimate for a starting execution, or raise the 402. Call it inside the
    transaction that creates the execution, so a 402 leaves nothing behind."""
    required = total_of(items)
    if required <= 0:
        return  # nothing to pay: no lock to queue behind, not even a savepoint's round trips
    # No savepoint: a refusal raises out of the caller's transaction, which rolls it all back.
    with transaction.atomic(savepoint=False):
        # One statement checks and debits the fresh balance, locking the row until commit
        # (the database re-reads a row it waited for): the team's concurrent executes queue
        # behind each other for the entry's insert and the commit only.
        entry = _entry(team_id, CreditKind.RESERVE, -required, execution_id=execution_id)
        if _debit_if_covered(team_id, required, entry):
            return
        available = _lock_account(team_id)  # too little, or no account yet: decide under lock
        if required > available:
            raise InsufficientCredits(required, available, items)
        _post(team_id, entry)


def credits_reservation_guard(team_id: int, execution_id: ExecutionId,
                              items: Sequence[LineItem]) -> tuple[str, list[Any]] | None:
    """PostgreSQL: the reservation of `items` as the guard of the statement that creates the
    execution (rows.insert_together): the debit, if the balance covers it, and its ledger
    entry, with a row named `guard` only if both were written. None when there is nothing to
    pay. Without its row, nothing was written: reserve with credits_reserve, in a transaction
    with the execution, which decides under the account's lock (or raises the 402)."""
    required = total_of(items)
    if required <= 0:
        return None
    entry = _entry(team_id, CreditKind.RESERVE, -required, execution_id=execution_id)
    insert, records = rows.insert_statement([entry], "debit")
    return (f"debit AS ({_balance_sql(True)} RETURNING 1), guard AS ({insert} RETURNING 1)",
            [*_balance_params(team_id, -required, required), records])


def _debit_if_covered(team_id: int, amount: Decimal, entry: CreditEntry) -> bool:
    """Take `amount` off the balance and write its `entry` if the balance covers it (a
    conditional UPDATE, which locks the row); whether it did. On PostgreSQL the debit and the
    entry are one statement."""
    if connection.vendor == "postgresql":
        return rows.insert_guarded(_balance_sql(True) + " RETURNING 1",
                                   _balance_params(team_id, -amount, amount), [entry])
    if not _move_balance(team_id, -amount, covering=amount):
        return False
    rows.insert([entry])
    return True


def _move_balance(team_id: int, delta: Decimal, *, covering: Decimal | None = None) -> bool:
    """`CreditAccount.objects.filter(team_id=team_id[, balance__gte=covering]).update(
    balance=F("balance") + delta)`, its SQL written once: the ORM spent ~0.3 ms building it on
    every priced execute and every charge. Whether the row was updated."""
    with connection.cursor() as cursor:
        cursor.execute(_balance_sql(covering is not None),
                       _balance_params(team_id, delta, covering))
        return bool(cursor.rowcount)


def _balance_params(team_id: int, delta: Decimal, covering: Decimal | None) -> list[Any]:
    field = CreditAccount._meta.get_field("balance")
    params = [field.get_db_prep_save(delta, connection), team_id]
    if covering is not None:
        params.append(field.get_db_prep_save(covering, connection))
    return params


@cache
def _balance_sql(covering: bool) -> str:
    quote = connection.ops.quote_name
    meta = CreditAccount._meta
    balance, team = quote(meta.get_field("balance").column), quote(meta.get_field("team").column)
    # Names from the model's metadata, quoted; the values are parameters.
    return (f"UPDATE {quote(meta.db_table)} SET {balance} = {balance} + %s "  # noqa: S608
            f"WHERE {team} = %s" + (f" AND {balance} >= %s" if covering else ""))


def credits_charge_node(team_id: int, execution_id: ExecutionId, node_id: str,
                        cost: float | Decimal) -> Decimal:
    """Charge a completed node, once, moving its cost out of the execution's reservation.
    Returns what was charged: the cost, or less if the team could not cover an overrun."""
    return credits_charge_nodes(team_id, execution_id, [(node_id, cost)])[node_id]


@transaction.atomic(savepoint=False)  # the engine's recording transaction holds it
def credits_charge_nodes(team_id: int, execution_id: ExecutionId,
                         costs: Sequence[tuple[str, float | Decimal]], *,
                         release_rest: bool = False) -> dict[str, Decimal]:
    """Charge nodes of one execution that completed together (one engine pass records a
    fan-out's results in one transaction): one lock, one read of the reservation and one
    insert for them all, each charged as credits_charge_node would in turn. With
    `release_rest` (the execution ends in the same transaction), what is left of its
    reservation is given back too, as credits_release_execution would next, from the same
    read. What each was charged, by node id."""
    charged: dict[str, Decimal] = {}
    priced = [(node_id, to_credits(cost)) for node_id, cost in costs]
    if not any(cost > 0 for _, cost in priced):
        if release_rest:
            credits_release_execution(team_id, execution_id)
        return {node_id: ZERO for node_id, _ in priced}
    _lock_reservation(execution_id)
    reserved = reservation_outstanding(execution_id)
    due = sum((cost for _, cost in priced if cost > 0), ZERO)
    # The balance moves only for an overrun or a rest to give back: only then is it read,
    # under the account's lock (what is reserved cannot change meanwhile: see above).
    moves = due > reserved or (release_rest and reserved > due)
    available = _lock_account(team_id) if moves else ZERO
    entries: list[CreditEntry] = []
    for node_id, cost in priced:
        if cost <= 0:
            charged[node_id] = ZERO
            continue
        from_reservation = min(cost, reserved)
        charged[node_id] = amount = min(cost, from_reservation + available)
        reserved -= from_reservation
        available -= amount - from_reservation
        note = "" if amount == cost else f"capped: cost {as_text(cost)} exceeded the balance"
        if from_reservation > 0:
            # The release goes first, so that even entry by entry the running sum stays >= 0.
            entries.append(_entry(team_id, CreditKind.RELEASE, from_reservation,
                                  execution_id=execution_id, node_id=node_id))
        entries.append(_entry(team_id, CreditKind.CHARGE, -amount, execution_id=execution_id,
                              node_id=node_id, note=note))
    if release_rest and reserved > 0:
        entries.append(_entry(team_id, CreditKind.RELEASE, reserved, execution_id=execution_id))
    _post(team_id, *entries)
    return charged


def credits_cover_node(team_id: int, execution_id: ExecutionId, item: LineItem,
                       bound: float | Decimal) -> None:
    """Before a priced node runs: make the execution's reservation cover the most the node can
    cost (`bound`, measured on the params and media it runs with) and not only its line of the
    estimate (`item`, reserved when the execution started). The difference is reserved from
    the team's available credits, once per node (a retry is already covered); if the team does
    not have it, InsufficientCredits is raised and nothing is written: the node must not run."""
    extra = to_credits(bound) - item.credits
    # Most nodes' bound is their estimate: no transaction (nor savepoint) for nothing.
    if extra <= 0 or CreditEntry.objects.filter(execution_id=execution_id, node_id=item.node_id,
                                                kind=CreditKind.RESERVE).exists():
        return
    # A savepoint: the engine catches the refusal inside its transaction and fails the node.
    with transaction.atomic():
        _lock_reservation(execution_id)  # the locks' order, though it reads no reservation
        available = _lock_account(team_id)
        if extra > available:
            raise InsufficientCredits(to_credits(bound), item.credits + available,
                                      [replace(item, credits=to_credits(bound))])
        _post(team_id, _entry(team_id, CreditKind.RESERVE, -extra, execution_id=execution_id,
                              node_id=item.node_id,
                              note="the node's cost bound over its estimate"))


def credits_release_execution(team_id: int, execution_id: ExecutionId) -> Decimal:
    """Give back what an ending execution still holds in reserve; returns the amount."""
    if reservation_outstanding(execution_id) <= 0:
        return ZERO  # nothing reserved (a free run): no lock, no savepoint
    return _release_rest(team_id, execution_id)


@transaction.atomic
def _release_rest(team_id: int, execution_id: ExecutionId) -> Decimal:
    _lock_reservation(execution_id)
    rest = reservation_outstanding(execution_id)
    if rest > 0:
        _lock_account(team_id)
        _post(team_id, _entry(team_id, CreditKind.RELEASE, rest, execution_id=execution_id))
    return max(rest, ZERO)
