"""Schedules (docs/api.md "Schedules"): a workflow run on a cron, in a timezone.

Validation: `cron` is exactly five fields (minute hour day-of-month month day-of-week, so never
more often than once a minute: six- and seven-field seconds crons are refused) that croniter
accepts and that falls due at all; `timezone` is an IANA name. Both answer 422
`invalid_schedule`. Inputs are resolved like an execute's (by node id or label, strictly) and
stored by node id; `version` is a number or tag (404 "Version not found").

Firing (`schedules_fire_due`, run every SCHEDULE_TICK_SECONDS by Celery beat or the embedded
scheduler): a due schedule is CLAIMED with a conditional UPDATE from the `next_run_at` that was
read to the next due time after now. Only the pass whose UPDATE matched starts the execution, so
one due time starts one execution whatever the number of beat and worker processes; and as the
next due time is computed after now (not after the missed slot), downtime costs one catch-up
fire. The claim and the start share one transaction (the start in a savepoint): a process that
dies between them loses nothing, and a refusal (429, 402, an inactive workflow, a graph that no
longer takes the inputs) is recorded in `last_error` without undoing the claim.
"""

import functools
import logging
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cron_descriptor import ExpressionDescriptor, Options
from croniter import (
    CroniterBadCronError,
    CroniterBadDateError,
    CroniterError,
    croniter,
)
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Team, User
from accounts.permissions import readable_one
from wireflow_site import ratelimit
from wireflow_site.errors import ApiError, Unprocessable
from wireflow_site.isotime import iso
from workflows.models import Workflow, WorkflowVersion
from workflows.versions import version_resolve

from . import services
from .models import Execution, Schedule, Trigger
from .run_inputs import require_inputs, run_inputs

logger = logging.getLogger("wireflow.schedules")

CRON_MAX = 120  # Schedule.cron's column
TIMEZONE_MAX = 64  # Schedule.timezone's column
UPCOMING = 3
PER_WORKFLOW_MAX = 20
FIRE_BATCH = 200  # schedules looked at per pass; the rest are due at the next tick
NOT_FOUND = "Schedule not found"


class InvalidSchedule(Unprocessable):
    code = "invalid_schedule"
    message = "Invalid schedule"


# --- Cron and timezone ----------------------------------------------------------------------

def cron_normalised(cron: str) -> str:
    """The cron with single spaces between its five fields, or 422 invalid_schedule."""
    if not isinstance(cron, str) or len(cron) > CRON_MAX:
        raise InvalidSchedule(f"cron must be a text of at most {CRON_MAX} characters",
                              fields=["cron"])
    fields = cron.split()
    if len(fields) != 5:
        more = " Schedules run at most once a minute: seconds are not supported." \
            if len(fields) in (6, 7) else ""
        raise InvalidSchedule(
            "cron must have exactly five fields (minute hour day-of-month month "
            f"day-of-week), e.g. \"0 9 * * 1-5\"; got {len(fields)}.{more}", fields=["cron"])
    text = " ".join(fields)
    if not croniter.is_valid(text):
        raise InvalidSchedule(f"\"{text}\" is not a valid cron expression (minute 0-59, hour "
                              "0-23, day of month 1-31, month 1-12, day of week 0-6)",
                              fields=["cron"])
    return text


@functools.cache
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_checked(name: str) -> zoneinfo.ZoneInfo:
    """The IANA timezone `name`, or 422 invalid_schedule. Looked up in the list of known names
    first: ZoneInfo itself would read any file name it is given."""
    text = name.strip() if isinstance(name, str) else ""
    if len(text) > TIMEZONE_MAX or text not in timezone_names():
        raise InvalidSchedule(f"Unknown timezone \"{str(name)[:TIMEZONE_MAX]}\": use an IANA "
                              "name such as Europe/Berlin, America/New_York or UTC",
                              fields=["timezone"])
    return zoneinfo.ZoneInfo(text)


def due_times(cron: str, tz: zoneinfo.ZoneInfo, after: datetime, count: int = 1,
              previous: datetime | None = None) -> list[datetime]:
    """The next `count` due times strictly after `after`, computed on the wall clock of `tz`,
    in UTC. A wall time that happens twice (the hour repeated when DST ends) is due once: a
    time with the same wall clock reading as `previous` (the slot that just fired) is skipped.
    Raises InvalidSchedule for a cron that never falls due (e.g. 30 February)."""
    try:
        found = croniter(cron, after.astimezone(tz))
        times: list[datetime] = []
        last_wall = previous.astimezone(tz).replace(tzinfo=None) if previous else None
        while len(times) < count:
            moment = found.get_next(datetime)
            wall = moment.replace(tzinfo=None)
            if wall == last_wall:
                continue
            last_wall = wall
            times.append(moment.astimezone(UTC))
        return times
    except (CroniterBadDateError, CroniterBadCronError, CroniterError) as error:
        raise InvalidSchedule(f"\"{cron}\" never falls due", fields=["cron"]) from error


def next_due(cron: str, tz_name: str, after: datetime,
             previous: datetime | None = None) -> datetime:
    return due_times(cron, timezone_checked(tz_name), after, previous=previous)[0]


def describe(cron: str, tz_name: str) -> str:
    """The plain-language reading, e.g. "At 09:00 AM, every day (Europe/Berlin)"."""
    options = Options()
    options.verbose = True
    try:
        reading = ExpressionDescriptor(cron, options).get_description()
    except Exception:  # the library's own errors vary by version; a reading is a nicety
        reading = cron
    # Verbose says "every day" where a daily time needs it, but tails an every-N-minutes cron
    # with ", every hour, every day", which says nothing more.
    reading = reading.removesuffix(", every hour, every day")
    return f"{reading} ({tz_name})"


@dataclass(frozen=True)
class Preview:
    cron: str
    timezone: str
    description: str
    upcoming: list[datetime]


def schedule_preview(cron: str, tz_name: str, *, now: datetime | None = None) -> Preview:
    """What a cron and timezone mean: the reading and the next due times (422 if invalid)."""
    text = cron_normalised(cron)
    tz = timezone_checked(tz_name)
    upcoming = due_times(text, tz, now or timezone.now(), UPCOMING)
    return Preview(text, tz.key, describe(text, tz.key), upcoming)


# --- Reads -----------------------------------------------------------------------------------

def schedule_get_for_user(user: User, schedule_id: str | uuid.UUID, *,
                          team: Team | None = None) -> Schedule:
    """The schedule if its workflow's team is one of the user's (narrowed to `team` for an API
    key), else 404 "Schedule not found"."""
    return readable_one(
        Schedule.objects.select_related("workflow", "team", "version", "last_execution"), user,
        schedule_id, team=team, not_found=NOT_FOUND)


def schedules_of(workflow: Workflow) -> QuerySet[Schedule]:
    return (Schedule.objects.filter(workflow=workflow)
            .select_related("version", "last_execution").order_by("created_at", "pk"))


# --- Writes ----------------------------------------------------------------------------------

_UNSET: Any = object()


@dataclass(frozen=True)
class ScheduleData:
    """What a create or an update sets; fields left _UNSET keep their value (update)."""

    cron: Any = _UNSET
    timezone: Any = _UNSET
    inputs: Any = _UNSET
    version: Any = _UNSET  # a number or tag, None: the current graph
    enabled: Any = _UNSET


def _inputs_resolved(workflow: Workflow, version: WorkflowVersion | None,
                     given: Mapping[str, Any]) -> dict[str, Any]:
    nodes = version.nodes if version is not None else workflow.nodes
    resolved = services.resolve_inputs(nodes, given, strict=True)
    require_inputs(run_inputs(nodes), resolved)
    return resolved


def schedule_create(workflow: Workflow, user: User | None, data: ScheduleData) -> Schedule:
    """Validate and save a new schedule (role checks are the caller's)."""
    if Schedule.objects.filter(workflow=workflow).count() >= PER_WORKFLOW_MAX:
        raise Unprocessable(f"A workflow may have at most {PER_WORKFLOW_MAX} schedules",
                            code="too_many_schedules")
    merged = ScheduleData(
        cron=data.cron, timezone="UTC" if data.timezone is _UNSET else data.timezone,
        inputs={} if data.inputs is _UNSET else data.inputs,
        version=None if data.version is _UNSET else data.version,
        enabled=True if data.enabled is _UNSET else data.enabled)
    schedule = Schedule(workflow=workflow, team_id=workflow.team_id, created_by=user)
    _apply(schedule, merged, now=timezone.now())
    schedule.save()
    return schedule


def schedule_update(schedule: Schedule, data: ScheduleData) -> Schedule:
    """Change what `data` sets. A new cron or timezone, or a resume, computes `next_run_at`
    from now; a pause keeps it (and the rest) but stops firing."""
    _apply(schedule, data, now=timezone.now())
    schedule.save(update_fields=["cron", "timezone", "inputs", "version", "enabled",
                                 "next_run_at", "updated_at"])
    return schedule


def _apply(schedule: Schedule, data: ScheduleData, *, now: datetime) -> None:
    cron = schedule.cron if data.cron is _UNSET else cron_normalised(data.cron)
    tz = timezone_checked(schedule.timezone if data.timezone is _UNSET else data.timezone)
    version = schedule.version
    if data.version is not _UNSET:
        version = None if data.version is None else version_resolve(schedule.workflow,
                                                                    data.version)
    if data.inputs is not _UNSET or data.version is not _UNSET:
        given = schedule.inputs if data.inputs is _UNSET else data.inputs
        schedule.inputs = _inputs_resolved(schedule.workflow, version, given)
    enabled = schedule.enabled if data.enabled is _UNSET else bool(data.enabled)
    recompute = (schedule.next_run_at is None or cron != schedule.cron
                 or tz.key != schedule.timezone or enabled and not schedule.enabled)
    if recompute:
        schedule.next_run_at = due_times(cron, tz, now)[0]
    schedule.cron, schedule.timezone, schedule.version = cron, tz.key, version
    schedule.enabled = enabled
    schedule.updated_at = now


def schedule_delete(schedule: Schedule) -> None:
    Schedule.objects.filter(pk=schedule.pk).delete()


# --- Firing ------------------------------------------------------------------------------------

def schedules_fire_due(now: datetime | None = None) -> int:
    """Start one execution for every enabled schedule due at `now` (default: the current
    time); returns how many started. One schedule's failure never stops the others."""
    moment = now or timezone.now()
    due = list(Schedule.objects.filter(enabled=True, next_run_at__lte=moment)
               .order_by("next_run_at").values_list("pk", "next_run_at")[:FIRE_BATCH])
    started = 0
    for pk, due_at in due:
        if due_at is None:  # excluded by the filter; for the type checker
            continue
        try:
            started += schedule_fire(pk, due_at, moment) is not None
        except Exception:
            logger.exception("schedule %s could not be fired", pk)
    return started


def schedule_fire(pk: uuid.UUID, due_at: datetime, now: datetime) -> Execution | None:
    """Claim the schedule's due time `due_at` and, if this call won it, start the run. Returns
    the execution started (None: another pass won the claim, or the run was refused)."""
    timing = Schedule.objects.filter(pk=pk).values_list("cron", "timezone").first()
    if timing is None:
        return None
    try:
        following: datetime | None = next_due(*timing, now, previous=due_at)
        failure = ""
    except InvalidSchedule as error:  # stored before a rule changed: it stops, and says why
        following, failure = None, error.message
    with transaction.atomic():
        # A change of cron or timezone meanwhile moved next_run_at too: then this claim fails.
        claimed = Schedule.objects.filter(pk=pk, enabled=True, next_run_at=due_at).update(
            next_run_at=following, last_run_at=now)
        if not claimed:
            return None
        # Read under the row lock the claim holds: the inputs and version as they are now.
        schedule = Schedule.objects.select_related(
            "workflow", "workflow__team", "version", "created_by").get(pk=pk)
        execution, error_text = (None, failure) if failure else _start(schedule, due_at)
        recorded: dict[str, Any] = {"last_error": error_text}
        if execution is not None:
            recorded["last_execution"] = execution
        Schedule.objects.filter(pk=pk).update(**recorded)
    return execution


def _start(schedule: Schedule, due_at: datetime) -> tuple[Execution | None, str]:
    """Start the schedule's run in a savepoint; (execution, "") or (None, why it was refused).
    The team's execution limits count it like any execute; a day slot taken for a run that
    then did not start is given back."""
    release = None
    try:
        release = ratelimit.take_execution_slot(schedule.workflow.team)
        with transaction.atomic():
            execution = services.execution_start(
                schedule.workflow, schedule.created_by, services.ExecuteRequest(
                    inputs=schedule.inputs, trigger=Trigger.SCHEDULE, version=schedule.version,
                    trigger_data={"scheduleId": str(schedule.pk),
                                  "dueAt": due_at.isoformat()}))
            Execution.objects.filter(pk=execution.pk).update(schedule=schedule)
        return execution, ""
    except ApiError as error:
        text = f"{error.status}: {error.message}"
    except Exception:
        logger.exception("schedule %s: the run could not be started", schedule.pk)
        text = "500: the run could not be started (an internal error; see the server log)"
    if release is not None:
        release()
    return None, text


# --- Shapes ------------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return iso(moment)


def schedule_shape(schedule: Schedule, *, now: datetime | None = None) -> dict[str, Any]:
    """docs/api.md's schedule, plus its plain-language `description`, the `upcoming` due times (none
    while paused), the version's tag and the last run's status."""
    version = schedule.version
    last = schedule.last_execution
    try:
        upcoming = due_times(schedule.cron, timezone_checked(schedule.timezone),
                             now or timezone.now(), UPCOMING) if schedule.enabled else []
    except InvalidSchedule:
        upcoming = []
    return {
        "id": str(schedule.pk), "workflowId": str(schedule.workflow_id), "cron": schedule.cron,
        "timezone": schedule.timezone, "inputs": schedule.inputs,
        "version": version.version if version is not None else None,
        "versionTag": (version.tag or None) if version is not None else None,
        "enabled": schedule.enabled, "nextRunAt": _iso(schedule.next_run_at),
        "lastRunAt": _iso(schedule.last_run_at),
        "lastExecutionId": str(last.pk) if last is not None else None,
        "lastExecutionStatus": last.status if last is not None else None,
        "lastError": schedule.last_error or None,
        "description": describe(schedule.cron, schedule.timezone),
        "upcoming": [_iso(moment) for moment in upcoming],
        "createdAt": _iso(schedule.created_at), "updatedAt": _iso(schedule.updated_at),
    }
