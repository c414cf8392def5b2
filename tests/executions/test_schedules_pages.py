"""The Schedules page of a workflow (/workflows/<id>/schedules/): list with the plain-language
reading, next and last run; add, edit, pause, resume, delete with confirmation; form errors
shown server-side; the JSON preview; as owner, viewer, stranger and anonymous."""

from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from executions import schedules
from executions.models import Execution, Schedule
from tests.accounts.helpers import logged_in
from tests.api.run_helpers import inputs_graph
from workflows.models import Workflow
from workflows.services import WorkflowData, workflow_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(team: Team, owner: User) -> Workflow:
    graph = inputs_graph()
    return workflow_create(user=owner, team=team, data=WorkflowData(
        name="Fox pipeline", nodes=graph["nodes"], edges=graph["edges"]))


def url(workflow: Workflow, rest: str = "") -> str:
    return f"/workflows/{workflow.pk}/schedules/{rest}"


def text_of(response: Any) -> str:
    text: str = unescape(response.content.decode())
    return text


def add(workflow: Workflow, **fields: Any) -> Schedule:
    return schedules.schedule_create(workflow, workflow.created_by, schedules.ScheduleData(
        **{"cron": "0 9 * * *", "timezone": "Europe/Berlin", "inputs": {"Style": "photo"},
           **fields}))


# Input fields in the form follow the graph's input nodes: Prompt, Style, Count, Photo.
FORM = {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "input_0": "a grey wolf",
        "input_1": "sketch", "input_2": "", "input_3": "", "version": ""}


def test_an_empty_list_says_what_to_do(owner: User, workflow: Workflow) -> None:
    response = logged_in(owner).get(url(workflow))
    assert response.status_code == 200
    page = text_of(response)
    assert "No schedules yet" in page
    assert 'data-testid="schedule-form"' in page
    assert '<option value="Europe/Berlin">' in page  # the timezone datalist


def test_the_list_shows_the_reading_next_and_last_run_and_error(owner: User,
                                                                 workflow: Workflow) -> None:
    schedule = add(workflow)
    execution = Execution.objects.create(workflow=workflow, team=workflow.team,
                                         deadline_at=timezone.now() + timedelta(hours=1),
                                         status="FAILED", schedule=schedule)
    Schedule.objects.filter(pk=schedule.pk).update(
        last_execution=execution, last_run_at=timezone.now(),
        last_error="429: Rate limit exceeded. Try again in 12 seconds.")
    page = text_of(logged_in(owner).get(url(workflow)))
    assert "At 09:00 AM, every day (Europe/Berlin)" in page
    assert f'href="/runs/{execution.pk}/"' in page
    assert "FAILED" in page
    assert "Rate limit exceeded. Try again in 12 seconds." in page
    assert "09:00 CE" in page  # the next run on Berlin's clock (CET or CEST)


def test_the_owner_adds_a_schedule_with_inputs(owner: User, workflow: Workflow) -> None:
    response = logged_in(owner).post(url(workflow), FORM, follow=True)
    assert response.status_code == 200
    assert "Schedule added." in text_of(response)
    schedule = Schedule.objects.get()
    assert (schedule.cron, schedule.timezone) == ("0 9 * * 1-5", "Europe/Berlin")
    assert schedule.inputs == {"prompt": "a grey wolf", "style": "sketch"}
    assert schedule.created_by == owner and schedule.version is None


@pytest.mark.parametrize("changes, says", [
    ({"cron": "* * * * * *"}, "seconds are not supported"),
    ({"cron": "61 * * * *"}, "is not a valid cron expression"),
    ({"timezone": "Mars/Olympus"}, "Unknown timezone"),
    ({"input_1": ""}, "Missing required input: 'Style'"),
])
def test_form_errors_are_shown_on_the_page(owner: User, workflow: Workflow,
                                           changes: dict[str, str], says: str) -> None:
    response = logged_in(owner).post(url(workflow), {**FORM, **changes})
    assert response.status_code == 400
    assert says in text_of(response)
    assert not Schedule.objects.exists()


def test_the_owner_edits_a_schedule(owner: User, workflow: Workflow) -> None:
    schedule = add(workflow)
    client = logged_in(owner)
    form = text_of(client.get(url(workflow, f"{schedule.pk}/")))
    assert 'value="0 9 * * *"' in form and "Edit schedule" in form
    response = client.post(url(workflow, f"{schedule.pk}/"),
                           {**FORM, "cron": "30 7 * * *", "version": "1"}, follow=True)
    assert "Schedule saved." in text_of(response)
    schedule.refresh_from_db()
    assert schedule.cron == "30 7 * * *"
    assert schedule.version is not None and schedule.version.version == 1


def test_pause_and_resume(owner: User, workflow: Workflow) -> None:
    schedule = add(workflow)
    client = logged_in(owner)
    paused = client.post(url(workflow, f"{schedule.pk}/pause"), follow=True)
    assert 'data-testid="paused"' in text_of(paused)
    assert Schedule.objects.get().enabled is False
    client.post(url(workflow, f"{schedule.pk}/resume"))
    assert Schedule.objects.get().enabled is True


def test_delete_asks_first(owner: User, workflow: Workflow) -> None:
    schedule = add(workflow)
    client = logged_in(owner)
    confirm = client.get(url(workflow, f"{schedule.pk}/delete"))
    assert "Delete this schedule?" in text_of(confirm)
    assert Schedule.objects.exists()
    done = client.post(url(workflow, f"{schedule.pk}/delete"), follow=True)
    assert "Schedule deleted." in text_of(done)
    assert not Schedule.objects.exists()


def test_a_viewer_sees_the_list_read_only(viewer: User, workflow: Workflow) -> None:
    schedule = add(workflow)
    client = logged_in(viewer)
    page = text_of(client.get(url(workflow)))
    assert "At 09:00 AM, every day (Europe/Berlin)" in page
    assert 'data-testid="read-only"' in page
    assert 'data-testid="schedule-form"' not in page and "pause-schedule" not in page
    for path in ("", f"{schedule.pk}/", f"{schedule.pk}/pause", f"{schedule.pk}/delete"):
        refused = client.post(url(workflow, path), FORM)
        assert refused.status_code == 403, path
        assert "viewers cannot change schedules" in text_of(refused)
    assert Schedule.objects.get().enabled is True


def test_a_stranger_and_another_workflow_get_404(stranger: User, owner: User,
                                                 workflow: Workflow) -> None:
    schedule = add(workflow)
    them = logged_in(stranger)
    for path in ("", "preview?cron=*+*+*+*+*", f"{schedule.pk}/", f"{schedule.pk}/delete"):
        assert them.get(url(workflow, path)).status_code == 404, path
    assert them.post(url(workflow, f"{schedule.pk}/pause")).status_code == 404
    other = workflow_create(user=owner, team=workflow.team, data=WorkflowData(
        name="Other", nodes=workflow.nodes, edges=workflow.edges))
    assert logged_in(owner).get(url(other, f"{schedule.pk}/")).status_code == 404
    assert Schedule.objects.get().enabled is True


def test_anonymous_is_sent_to_log_in(workflow: Workflow) -> None:
    response = Client().get(url(workflow))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_preview_reads_a_cron_and_lists_the_next_times(owner: User,
                                                           workflow: Workflow) -> None:
    response = logged_in(owner).get(url(workflow, "preview"),
                                    {"cron": "0 9 * * *", "timezone": "Europe/Berlin"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["description"] == "At 09:00 AM, every day (Europe/Berlin)"
    assert len(body["upcoming"]) == 3 and all(t.endswith("Z") for t in body["upcoming"])
    assert all("09:00" in t for t in body["upcomingLocal"])


@pytest.mark.parametrize("query, field", [({"cron": "* * * * * *"}, "cron"),
                                          ({"cron": "0 9 * * *", "timezone": "Nowhere"},
                                           "timezone"),
                                          ({"cron": "x" * 5000}, "cron")])
def test_the_preview_explains_what_is_wrong(owner: User, workflow: Workflow,
                                            query: dict[str, str], field: str) -> None:
    response = logged_in(owner).get(url(workflow, "preview"), query)
    assert response.status_code == 422
    assert response.json()["ok"] is False and response.json()["field"] == field
