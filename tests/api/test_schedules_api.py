"""docs/api.md "Schedules" through the full API: list, create, read, change (pause, resume) and
delete a workflow's schedules as owner, teammate, viewer and stranger, with key scopes, and the
422 `invalid_schedule` shapes."""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.scopes import WORKFLOWS_READ
from executions.models import Schedule
from tests.conftest import ApiClient

from .run_helpers import create_workflow

pytestmark = pytest.mark.django_db
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYS = {"id", "workflowId", "cron", "timezone", "inputs", "version", "enabled", "nextRunAt",
        "lastRunAt", "lastExecutionId", "lastError"}
SCHEDULE_NOT_FOUND = {"error": "Schedule not found", "code": "not_found"}
WORKFLOW_NOT_FOUND = {"error": "Workflow not found", "code": "not_found"}
FORBIDDEN_ROLE = {"error": "Your role in this team cannot do this", "code": "forbidden_role"}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def workflow(api: ApiClient) -> dict[str, Any]:
    return create_workflow(api)


def add(client: ApiClient, workflow: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/workflows/{workflow['id']}/schedules",
                       {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", **body})


@pytest.fixture
def schedule(api: ApiClient, workflow: dict[str, Any]) -> dict[str, Any]:
    response = add(api, workflow, inputs={"Prompt": "a fox"})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


# --- Create and read ---------------------------------------------------------------------------

def test_create_answers_201_with_the_schedule_shape(schedule: dict[str, Any],
                                                    workflow: dict[str, Any]) -> None:
    assert set(schedule) >= KEYS
    assert schedule["workflowId"] == workflow["id"]
    assert schedule["cron"] == "0 9 * * 1-5"
    assert schedule["timezone"] == "Europe/Berlin"
    assert schedule["inputs"] == {"prompt": "a fox"}
    assert schedule["version"] is None and schedule["enabled"] is True
    assert ISO_MS.match(schedule["nextRunAt"])
    assert schedule["lastRunAt"] is None and schedule["lastExecutionId"] is None
    assert schedule["lastError"] is None
    assert schedule["description"] == "At 09:00 AM, Monday through Friday (Europe/Berlin)"
    assert len(schedule["upcoming"]) == 3 and schedule["upcoming"][0] == schedule["nextRunAt"]
    next_run = datetime.fromisoformat(schedule["nextRunAt"].replace("Z", "+00:00"))
    assert next_run.weekday() < 5


def test_the_defaults_are_utc_enabled_no_inputs(api: ApiClient,
                                                workflow: dict[str, Any]) -> None:
    response = api.post(f"/workflows/{workflow['id']}/schedules", {"cron": "*/15 * * * *"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["timezone"], body["enabled"], body["inputs"]) == ("UTC", True, {})


def test_list_and_get(api: ApiClient, workflow: dict[str, Any],
                      schedule: dict[str, Any]) -> None:
    listed = api.get(f"/workflows/{workflow['id']}/schedules")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["schedules"]] == [schedule["id"]]
    got = api.get(f"/schedules/{schedule['id']}")
    assert got.status_code == 200
    assert got.json()["cron"] == schedule["cron"]


def test_a_pinned_version_by_number_or_tag(api: ApiClient, workflow: dict[str, Any]) -> None:
    assert api.post(f"/workflows/{workflow['id']}/versions/1/tag",
                    {"tag": "1.0.0"}).status_code == 200
    by_tag = add(api, workflow, version="v1.0.0")
    assert by_tag.status_code == 201, by_tag.content
    assert (by_tag.json()["version"], by_tag.json()["versionTag"]) == (1, "1.0.0")
    unknown = add(api, workflow, version=9)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Version not found",
                                                           "code": "not_found"})


# --- 422 invalid_schedule, 400 invalid_request -----------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"cron": "* * * * * *"}, "cron"),
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "0 9 * *"}, "cron"),
    ({"cron": "@hourly"}, "cron"),
    ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"cron": "0 9 * * *", "timezone": "../../etc/passwd"}, "timezone"),
])
def test_a_bad_cron_or_timezone_is_422_invalid_schedule(api: ApiClient,
                                                        workflow: dict[str, Any],
                                                        body: dict[str, Any], field: str) -> None:
    response = api.post(f"/workflows/{workflow['id']}/schedules", body)
    assert response.status_code == 422, response.content
    error = response.json()
    assert error["code"] == "invalid_schedule"
    assert error["fields"] == [field]
    assert error["error"]
    assert not Schedule.objects.exists()


def test_a_seconds_cron_is_told_why(api: ApiClient, workflow: dict[str, Any]) -> None:
    error = add(api, workflow, cron="*/10 * * * * *").json()
    assert "exactly five fields" in error["error"]
    assert "seconds are not supported" in error["error"]


@pytest.mark.parametrize("body", [{}, {"cron": 5}, {"cron": "0 9 * * *", "inputs": []},
                                  {"cron": "0 9 * * *", "enabled": "maybe"},
                                  {"cron": "0 9 * * *", "inputs": {"prompt": "a\u0000b"}}])
def test_wrong_types_are_400_invalid_request(api: ApiClient, workflow: dict[str, Any],
                                             body: dict[str, Any]) -> None:
    response = api.post(f"/workflows/{workflow['id']}/schedules", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_request"


def test_unknown_inputs_are_400_naming_them(api: ApiClient, workflow: dict[str, Any]) -> None:
    response = add(api, workflow, inputs={"Colour": "red"})
    assert response.status_code == 400
    assert response.json()["fields"] == ["inputs"]
    assert "Unknown input: Colour" in response.json()["error"]


def test_malformed_json_is_400(api: ApiClient, workflow: dict[str, Any]) -> None:
    response = api.post(f"/workflows/{workflow['id']}/schedules", raw="{nope")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_a_workflow_has_a_bounded_number_of_schedules(api: ApiClient, workflow: dict[str, Any],
                                                      settings: Any) -> None:
    from executions import schedules

    for _ in range(schedules.PER_WORKFLOW_MAX):
        assert add(api, workflow).status_code == 201
    refused = add(api, workflow)
    assert refused.status_code == 422
    assert refused.json()["code"] == "too_many_schedules"


# --- Change, pause, resume, delete -----------------------------------------------------------

def test_put_changes_only_what_is_sent(api: ApiClient, schedule: dict[str, Any]) -> None:
    response = api.put(f"/schedules/{schedule['id']}", {"cron": "30 7 * * *"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cron"] == "30 7 * * *"
    assert (body["timezone"], body["inputs"]) == ("Europe/Berlin", {"prompt": "a fox"})
    assert body["nextRunAt"] != schedule["nextRunAt"]
    assert body["description"] == "At 07:30 AM, every day (Europe/Berlin)"


def test_pause_keeps_the_next_run_and_resume_computes_it_again(
        api: ApiClient, schedule: dict[str, Any]) -> None:
    paused = api.put(f"/schedules/{schedule['id']}", {"enabled": False}).json()
    assert paused["enabled"] is False
    assert paused["nextRunAt"] == schedule["nextRunAt"]
    assert paused["upcoming"] == [] and paused["inputs"] == schedule["inputs"]
    resumed = api.put(f"/schedules/{schedule['id']}", {"enabled": True}).json()
    assert resumed["enabled"] is True and ISO_MS.match(resumed["nextRunAt"])


def test_put_with_a_bad_cron_is_422_and_changes_nothing(api: ApiClient,
                                                         schedule: dict[str, Any]) -> None:
    response = api.put(f"/schedules/{schedule['id']}", {"cron": "* * * * * *"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_schedule"
    assert api.get(f"/schedules/{schedule['id']}").json()["cron"] == schedule["cron"]


def test_put_version_null_unpins(api: ApiClient, workflow: dict[str, Any]) -> None:
    pinned = add(api, workflow, version=1).json()
    assert pinned["version"] == 1
    unpinned = api.put(f"/schedules/{pinned['id']}", {"version": None}).json()
    assert unpinned["version"] is None


def test_delete_answers_204(api: ApiClient, schedule: dict[str, Any]) -> None:
    assert api.delete(f"/schedules/{schedule['id']}").status_code == 204
    gone = api.get(f"/schedules/{schedule['id']}")
    assert (gone.status_code, gone.json()) == (404, SCHEDULE_NOT_FOUND)


# --- Who may -----------------------------------------------------------------------------------

def test_a_teammate_may_change_the_team_schedules(api_for: Callable[..., ApiClient],
                                                  teammate: User,
                                                  schedule: dict[str, Any]) -> None:
    them = api_for(teammate)
    assert them.put(f"/schedules/{schedule['id']}", {"enabled": False}).status_code == 200
    assert them.delete(f"/schedules/{schedule['id']}").status_code == 204


def test_a_viewer_reads_but_may_not_change(api_for: Callable[..., ApiClient], viewer: User,
                                           workflow: dict[str, Any],
                                           schedule: dict[str, Any]) -> None:
    them = api_for(viewer, scopes=None)
    assert them.get(f"/workflows/{workflow['id']}/schedules").status_code == 200
    assert them.get(f"/schedules/{schedule['id']}").status_code == 200
    for response in (add(them, workflow),
                     them.put(f"/schedules/{schedule['id']}", {"enabled": False}),
                     them.delete(f"/schedules/{schedule['id']}")):
        assert (response.status_code, response.json()) == (403, FORBIDDEN_ROLE)
    assert Schedule.objects.get().enabled is True


def test_a_stranger_gets_404_everywhere(api_for: Callable[..., ApiClient], stranger: User,
                                        workflow: dict[str, Any],
                                        schedule: dict[str, Any]) -> None:
    them = api_for(stranger)
    for response in (them.get(f"/workflows/{workflow['id']}/schedules"), add(them, workflow)):
        assert (response.status_code, response.json()) == (404, WORKFLOW_NOT_FOUND)
    for response in (them.get(f"/schedules/{schedule['id']}"),
                     them.put(f"/schedules/{schedule['id']}", {"enabled": False}),
                     them.delete(f"/schedules/{schedule['id']}")):
        assert (response.status_code, response.json()) == (404, SCHEDULE_NOT_FOUND)
    assert Schedule.objects.get().enabled is True


@pytest.mark.parametrize("schedule_id", [MISSING_ID, "not-a-uuid", "1"])
def test_an_unknown_schedule_is_404(api: ApiClient, schedule_id: str) -> None:
    response = api.get(f"/schedules/{schedule_id}")
    assert (response.status_code, response.json()) == (404, SCHEDULE_NOT_FOUND)


def test_a_read_only_key_reads_but_may_not_write(api_for: Callable[..., ApiClient], owner: User,
                                                 workflow: dict[str, Any],
                                                 schedule: dict[str, Any]) -> None:
    reader = api_for(owner, scopes=[WORKFLOWS_READ])
    assert reader.get(f"/schedules/{schedule['id']}").status_code == 200
    refused = reader.put(f"/schedules/{schedule['id']}", {"enabled": False})
    assert refused.status_code == 403
    assert refused.json() == {"error": "Forbidden: missing scope workflows:write",
                              "code": "forbidden"}
    assert add(reader, workflow).status_code == 403


def test_a_key_without_read_scope_is_refused(api_for: Callable[..., ApiClient], owner: User,
                                             schedule: dict[str, Any]) -> None:
    them = api_for(owner, scopes=["executions:read"])
    response = them.get(f"/schedules/{schedule['id']}")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_the_browser_session_may_use_the_api(owner: User, workflow: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=False)
    client.force_login(owner)
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules",
                           {"cron": "0 9 * * *"}, content_type="application/json")
    assert response.status_code == 201, response.content


def test_no_key_is_401(workflow: dict[str, Any]) -> None:
    response = Client().get(f"/api/v1/workflows/{workflow['id']}/schedules")
    assert response.status_code == 401
    assert response.json()["code"] == "missing_authorization"
