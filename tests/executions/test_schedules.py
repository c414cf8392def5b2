"""Schedules (executions/schedules.py): validation, due times in a timezone, and firing — one
execution per due time however many passes race for it, one catch-up fire after downtime, and
refusals recorded rather than raised."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from accounts.credits import credit_balance, credits_grant
from accounts.models import Team, User
from executions import schedules
from executions.models import Execution, Schedule
from executions.schedules import InvalidSchedule, ScheduleData
from tests.api.run_helpers import inputs_graph, simple_graph
from wireflow_site import ratelimit
from wireflow_site.errors import InvalidRequest, NotFound
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create

BERLIN = ZoneInfo("Europe/Berlin")


def make_workflow(owner: User, team: Team, graph: dict[str, Any] | None = None) -> Workflow:
    body = graph or simple_graph()
    return workflow_create(user=owner, team=team, data=WorkflowData(
        name="Scheduled", nodes=body["nodes"], edges=body["edges"]))


@pytest.fixture
def workflow(owner: User, team: Team) -> Workflow:
    return make_workflow(owner, team)


def create(workflow: Workflow, cron: str = "* * * * *", **fields: Any) -> Schedule:
    return schedules.schedule_create(workflow, workflow.created_by,
                                     ScheduleData(cron=cron, **fields))


def make_due(schedule: Schedule, at: datetime) -> datetime:
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=at)
    return at


def runs_of(schedule: Schedule) -> list[Execution]:
    return list(Execution.objects.filter(schedule=schedule))


# --- Validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("cron, says", [
    ("* * * * * *", "exactly five fields"),
    ("0 0 9 * * * 2026", "exactly five fields"),
    ("61 * * * *", "not a valid cron"),
    ("* 24 * * *", "not a valid cron"),
    ("0 9 * *", "exactly five fields"),
    ("", "exactly five fields"),
    ("every day", "exactly five fields"),
    ("@daily", "exactly five fields"),
    ("0 0 30 2 *", "never falls due"),
    ("x" * 200, "at most 120"),
])
def test_a_bad_cron_is_refused_with_a_clear_message(cron: str, says: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        schedules.schedule_preview(cron, "UTC")
    assert refused.value.status == 422
    assert refused.value.code == "invalid_schedule"
    assert says in refused.value.message


def test_a_seconds_cron_is_told_that_seconds_are_not_supported() -> None:
    with pytest.raises(InvalidSchedule, match="seconds are not supported"):
        schedules.cron_normalised("* * * * * *")


@pytest.mark.parametrize("name", ["Mars/Olympus", "europe/berlin", "../../etc/passwd", "",
                                  "Europe/Berlin\x00", "x" * 300])
def test_an_unknown_timezone_is_refused(name: str) -> None:
    with pytest.raises(InvalidSchedule, match="Unknown timezone"):
        schedules.timezone_checked(name)


def test_extra_spaces_in_a_cron_are_tidied() -> None:
    assert schedules.cron_normalised("  0   9 * *  1-5 ") == "0 9 * * 1-5"


def test_a_schedule_gets_its_plain_language_reading_with_the_timezone() -> None:
    assert schedules.describe("0 9 * * *", "Europe/Berlin") == \
        "At 09:00 AM, every day (Europe/Berlin)"


@pytest.mark.parametrize(("cron", "reading"), [
    ("* * * * *", "Every minute (UTC)"),
    ("*/15 * * * *", "Every 15 minutes (UTC)"),
    ("0 0 1 * *", "At 12:00 AM, on day 1 of the month (UTC)"),
])
def test_a_reading_says_nothing_twice(cron: str, reading: str) -> None:
    assert schedules.describe(cron, "UTC") == reading


def test_unknown_inputs_are_refused_like_an_execute(workflow: Workflow) -> None:
    with pytest.raises(InvalidRequest, match="Unknown input: Colour"):
        create(workflow, inputs={"Colour": "red"})


def test_inputs_are_stored_by_node_id(workflow: Workflow) -> None:
    assert create(workflow, inputs={"prompt": "a fox"}).inputs == {"prompt": "a fox"}
    assert create(workflow, inputs={"PROMPT": "a wolf"}).inputs == {"prompt": "a wolf"}


def test_a_missing_required_input_is_refused(owner: User, team: Team) -> None:
    workflow = make_workflow(owner, team, inputs_graph())
    with pytest.raises(InvalidRequest, match="Missing required input: 'Style'"):
        create(workflow)
    assert create(workflow, inputs={"Style": "photo"}).inputs == {"style": "photo"}


def test_an_unknown_version_is_404(workflow: Workflow) -> None:
    with pytest.raises(NotFound, match="Version not found"):
        create(workflow, version=7)
    assert create(workflow, version=1).version is not None


# --- Due times -------------------------------------------------------------------------------

def test_next_run_is_computed_on_the_timezone_wall_clock_across_dst() -> None:
    # Berlin moves its clocks forward on 29 March 2026 and back on 25 October 2026.
    spring = schedules.due_times("0 9 * * *", BERLIN, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    assert spring == [datetime(2026, 3, 29, 7, tzinfo=UTC), datetime(2026, 3, 30, 7, tzinfo=UTC)]
    autumn = schedules.due_times("0 9 * * *", BERLIN, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert autumn == [datetime(2026, 10, 25, 8, tzinfo=UTC),
                      datetime(2026, 10, 26, 8, tzinfo=UTC)]


def test_a_wall_time_that_happens_twice_when_dst_ends_is_due_once() -> None:
    first = schedules.due_times("30 2 * * *", BERLIN, datetime(2026, 10, 24, 12, tzinfo=UTC))[0]
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    after = schedules.due_times("30 2 * * *", BERLIN, first + timedelta(seconds=5),
                                previous=first)[0]
    assert after == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # not 02:30 winter time


def test_a_wall_time_skipped_when_dst_starts_is_due_right_after_the_change() -> None:
    [due] = schedules.due_times("30 2 * * *", BERLIN, datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert due == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 summer time


def test_a_new_schedule_is_due_next_in_its_timezone_stored_in_utc(workflow: Workflow) -> None:
    schedule = create(workflow, "0 9 * * *", timezone="Europe/Berlin")
    assert schedule.next_run_at is not None
    assert schedule.next_run_at > timezone.now()
    local = schedule.next_run_at.astimezone(BERLIN)
    assert (local.hour, local.minute) == (9, 0)
    assert schedule.next_run_at.utcoffset() == timedelta(0)


def test_pause_keeps_everything_and_resume_computes_from_now(workflow: Workflow) -> None:
    schedule = create(workflow)
    past = make_due(schedule, timezone.now() - timedelta(hours=3))
    schedule.refresh_from_db()
    paused = schedules.schedule_update(schedule, ScheduleData(enabled=False))
    assert paused.next_run_at == past and not paused.enabled
    assert schedules.schedules_fire_due() == 0
    resumed = schedules.schedule_update(paused, ScheduleData(enabled=True))
    assert resumed.next_run_at is not None and resumed.next_run_at > timezone.now()


# --- Firing ----------------------------------------------------------------------------------

def test_a_due_schedule_starts_one_execution_with_its_inputs_and_version(
        workflow: Workflow, sent: list[str], django_capture_on_commit_callbacks: Any) -> None:
    schedule = create(workflow, inputs={"Prompt": "a fox"}, version=1)
    now = timezone.now()
    make_due(schedule, now - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert schedules.schedules_fire_due(now) == 1
    [execution] = runs_of(schedule)
    assert execution.trigger == "schedule"
    assert execution.inputs == {"prompt": "a fox"}
    assert execution.workflow_version is not None and execution.workflow_version.version == 1
    assert sent == [str(execution.pk)]
    schedule.refresh_from_db()
    assert schedule.last_execution_id == execution.pk
    assert schedule.last_run_at == now and schedule.last_error == ""
    assert schedule.next_run_at is not None and schedule.next_run_at > now


def test_a_schedule_not_yet_due_does_not_fire(workflow: Workflow, sent: list[str]) -> None:
    create(workflow)
    assert schedules.schedules_fire_due() == 0
    assert not sent


def test_two_passes_at_the_same_moment_start_one_execution(workflow: Workflow,
                                                           sent: list[str]) -> None:
    schedule = create(workflow)
    now = timezone.now()
    due = make_due(schedule, now - timedelta(seconds=1))
    assert schedules.schedules_fire_due(now) == 1
    assert schedules.schedules_fire_due(now) == 0
    # A pass that read the due time before the other claimed it loses the claim too.
    assert schedules.schedule_fire(schedule.pk, due, now) is None
    assert len(runs_of(schedule)) == 1


def test_after_downtime_a_schedule_fires_once_and_is_next_due_in_the_future(
        workflow: Workflow, sent: list[str]) -> None:
    schedule = create(workflow, "*/5 * * * *")
    now = timezone.now()
    make_due(schedule, now - timedelta(hours=3))  # 36 slots were missed
    assert schedules.schedules_fire_due(now) == 1
    assert schedules.schedules_fire_due(now) == 0
    schedule.refresh_from_db()
    assert len(runs_of(schedule)) == 1
    assert schedule.next_run_at is not None
    assert now < schedule.next_run_at <= now + timedelta(minutes=5)


def test_a_deleted_schedule_keeps_its_executions(workflow: Workflow, sent: list[str]) -> None:
    schedule = create(workflow)
    now = timezone.now()
    make_due(schedule, now)
    schedules.schedules_fire_due(now)
    schedules.schedule_delete(schedule)
    assert Execution.objects.filter(workflow=workflow, trigger="schedule").count() == 1


# --- Refusals --------------------------------------------------------------------------------

def fire_now(schedule: Schedule) -> Schedule:
    now = timezone.now()
    make_due(schedule, now)
    schedules.schedules_fire_due(now)
    schedule.refresh_from_db()
    assert schedule.last_run_at == now
    assert schedule.next_run_at is not None and schedule.next_run_at > now
    return schedule


def test_an_inactive_workflow_is_recorded_not_run(workflow: Workflow, sent: list[str]) -> None:
    schedule = create(workflow)
    Workflow.objects.filter(pk=workflow.pk).update(is_active=False)
    fired = fire_now(schedule)
    assert fired.last_error == "409: Workflow is inactive"
    assert fired.last_execution_id is None and not runs_of(schedule)


@pytest.fixture
def limits_on(settings: Any) -> Callable[[Team], None]:
    settings.RATE_LIMITS_ENABLED = True
    limiter = ratelimit.limiter()

    def forget(team: Team) -> None:
        for bucket in (ratelimit.EXECUTIONS, ratelimit.EXECUTIONS_DAY):
            limiter.redis.delete(ratelimit.bucket_key(team.pk, bucket))  # type: ignore[attr-defined]

    return forget


def test_the_team_minute_limit_is_recorded_as_a_429(workflow: Workflow, team: Team,
                                                    sent: list[str],
                                                    limits_on: Callable[[Team], None]) -> None:
    limits_on(team)
    for _ in range(10):  # the free plan's executions a minute, used by other runs
        ratelimit.take_execution_slot(team)
    fired = fire_now(create(workflow))
    assert fired.last_error.startswith("429: Rate limit exceeded. Try again in ")
    assert not runs_of(fired)
    limits_on(team)


def test_a_run_that_did_not_start_gives_its_day_slot_back(workflow: Workflow, team: Team,
                                                          sent: list[str],
                                                          limits_on: Callable[[Team], None]
                                                          ) -> None:
    limits_on(team)
    Workflow.objects.filter(pk=workflow.pk).update(is_active=False)
    fire_now(create(workflow))
    limiter = ratelimit.limiter()
    day = limiter.redis.zcard(ratelimit.bucket_key(team.pk, ratelimit.EXECUTIONS_DAY))  # type: ignore[attr-defined]
    assert day == 0
    limits_on(team)


@pytest.fixture
def broke_owner(settings: Any, make_user: Callable[..., User]) -> User:
    settings.SIGNUP_CREDITS = 0
    return make_user("broke@example.com")


def test_insufficient_credits_are_recorded_as_a_402(broke_owner: User, sent: list[str]) -> None:
    team = broke_owner.current_team
    assert team is not None and credit_balance(team.pk) == 0
    nodes = [{"id": "prompt", "type": "basedNode", "position": {"x": 0, "y": 0},
              "data": {"label": "Prompt", "nodeType": "input:text", "params": {"text": "a"}}},
             {"id": "gen", "type": "basedNode", "position": {"x": 300, "y": 0},
              "data": {"label": "Generate", "nodeType": "generate:nano_banana_pro",
                       "params": {}}}]
    edges = [{"id": "e1", "source": "prompt", "target": "gen", "sourceHandle": "out-text",
              "targetHandle": "in-prompt"}]
    workflow = make_workflow(broke_owner, team, {"nodes": nodes, "edges": edges})
    fired = fire_now(create(workflow))
    assert fired.last_error.startswith("402: Insufficient credits. Required: 20")
    assert not runs_of(fired)
    credits_grant(team, 100, note="test")
    assert fire_now(fired).last_error == ""
    assert len(runs_of(fired)) == 1


def test_one_schedule_failing_does_not_stop_the_others(owner: User, team: Team,
                                                       sent: list[str]) -> None:
    inactive = make_workflow(owner, team)
    active = make_workflow(owner, team)
    refused, fired = create(inactive), create(active)
    Workflow.objects.filter(pk=inactive.pk).update(is_active=False)
    now = timezone.now()
    Schedule.objects.update(next_run_at=now)
    assert schedules.schedules_fire_due(now) == 1
    assert not runs_of(refused) and len(runs_of(fired)) == 1


# --- Racing passes on separate connections -----------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_concurrent_passes_in_separate_transactions_start_exactly_one_execution(
        owner: User, team: Team, sent: list[str]) -> None:
    schedule = create(make_workflow(owner, team))
    now = timezone.now()
    make_due(schedule, now - timedelta(seconds=1))
    passes = 4
    barrier = threading.Barrier(passes)
    started: list[int] = []
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            barrier.wait(timeout=30)
            started.append(schedules.schedules_fire_due(now))
        except BaseException as error:  # handed to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_pass) for _ in range(passes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(started) == [0] * (passes - 1) + [1]
    assert len(runs_of(schedule)) == 1


def test_a_stored_cron_that_never_falls_due_stops_and_says_why(workflow: Workflow,
                                                                sent: list[str]) -> None:
    schedule = create(workflow)
    Schedule.objects.filter(pk=schedule.pk).update(cron="0 0 30 2 *")
    now = timezone.now()
    make_due(schedule, now)
    assert schedules.schedules_fire_due(now) == 0
    schedule.refresh_from_db()
    assert schedule.next_run_at is None and "never falls due" in schedule.last_error
    assert not runs_of(schedule)


def test_beat_fires_the_schedules_task_every_tick(settings: Any) -> None:
    from executions.tasks import fire_schedules_task

    entry = settings.CELERY_BEAT_SCHEDULE["fire-due-schedules"]
    assert entry["task"] == fire_schedules_task.name == "executions.fire_schedules"
    assert entry["schedule"] == settings.SCHEDULE_TICK_SECONDS
