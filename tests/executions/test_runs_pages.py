"""The Runs pages: the team's runs (filters, paging, the empty states) and a run's page (its
graph handed to the editor's read-only canvas with the execution to follow), scoped to the
team: another team's run is 404, a viewer may look but not act."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from executions.models import Execution, ExecutionStatus
from tests.accounts.helpers import logged_in
from tests.api.test_executions_api import create, start, text_to_result
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False


def listed(response: Any) -> list[str]:
    """The execution ids of the Runs table, in order."""
    assert response.status_code == 200
    html = response.content.decode()
    return [part.split('"', 1)[0] for part in html.split('data-execution-id="')[1:]]


def editor_config(response: Any) -> dict[str, Any]:
    html = response.content.decode()
    start_at = html.index('<script id="editor-config" type="application/json">')
    raw = html[start_at:].split(">", 1)[1].split("</script>", 1)[0]
    return dict(json.loads(raw))


@pytest.fixture
def workflow_id(api: ApiClient) -> str:
    return create(api, text_to_result())


def test_the_runs_page_lists_the_teams_runs_newest_first(owner: User, api: ApiClient,
                                                         workflow_id: str) -> None:
    started = [start(api, workflow_id) for _ in range(3)]
    response = logged_in(owner).get("/runs/")
    assert listed(response) == started[::-1]
    html = response.content.decode()
    assert "Fox" in html and 'class="pill pill-running"' in html and "v1" in html
    assert 'data-testid="nav-runs"' in html and 'aria-current="page" data-testid="nav-runs"' in html


def test_a_run_says_when_it_started_in_words(owner: User, api: ApiClient,
                                             workflow_id: str) -> None:
    older = start(api, workflow_id)
    Execution.objects.filter(pk=older).update(started_at=timezone.now() - timedelta(hours=3))
    start(api, workflow_id)
    html = logged_in(owner).get("/runs/").content.decode()
    assert ">now</time>" in html and ">3\xa0hours ago</time>" in html


def test_the_runs_page_filters_by_status_trigger_workflow_and_dates(
        owner: User, api: ApiClient, workflow_id: str) -> None:
    other = create(api, text_to_result())
    failed, ok, old = start(api, workflow_id), start(api, other), start(api, workflow_id)
    Execution.objects.filter(pk=failed).update(status=ExecutionStatus.FAILED)
    Execution.objects.filter(pk=old).update(created_at=timezone.now() - timedelta(days=5))
    client = logged_in(owner)
    assert listed(client.get("/runs/?status=FAILED")) == [failed]
    assert listed(client.get(f"/runs/?workflow={other}")) == [ok]
    assert listed(client.get("/runs/?trigger=editor")) == []
    assert listed(client.get("/runs/?trigger=api&status=RUNNING")) == [ok, old]
    today = timezone.now().date()
    assert listed(client.get(f"/runs/?since={today}")) == [ok, failed]
    assert listed(client.get(f"/runs/?until={today - timedelta(days=4)}")) == [old]


def test_bad_filters_show_their_error_and_the_rest_still_apply(
        owner: User, api: ApiClient, workflow_id: str) -> None:
    started = start(api, workflow_id)
    response = logged_in(owner).get("/runs/?status=NOPE&since=yesterday&until=2026-01-01")
    assert listed(response) == []  # until 2026-01-01 applies; the bad ones are ignored
    html = response.content.decode()
    assert 'data-testid="filter-error-status"' in html
    assert 'data-testid="filter-error-since"' in html
    stranger_workflow = logged_in(owner).get("/runs/?workflow=00000000-0000-0000-0000-000000000000")
    assert listed(stranger_workflow) == [started]
    assert 'data-testid="filter-error-workflow"' in stranger_workflow.content.decode()


def test_the_runs_page_pages_with_an_older_link(owner: User, api: ApiClient, workflow_id: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("executions.runs_views.PAGE_SIZE", 2)
    started = [start(api, workflow_id) for _ in range(5)]
    client = logged_in(owner)
    seen: list[str] = []
    url = "/runs/?status=RUNNING"
    while url:
        response = client.get(url)
        seen += listed(response)
        html = response.content.decode()
        marker = 'data-testid="older-page"'
        url = ""
        if marker in html:
            href = html.split(marker)[0].rsplit('href="', 1)[1].split('"', 1)[0]
            url = "/runs/" + href.replace("&amp;", "&")
            assert "status=RUNNING" in url
    assert seen == started[::-1]
    assert listed(client.get("/runs/?cursor=garbage")) == started[::-1][:2]


def test_an_empty_runs_page_says_what_to_do(owner: User) -> None:
    html = logged_in(owner).get("/runs/").content.decode()
    assert 'data-testid="runs-empty"' in html and "No runs yet" in html and "/workflows/" in html
    filtered = logged_in(owner).get("/runs/?status=FAILED").content.decode()
    assert "No runs match these filters" in filtered


def test_a_stranger_sees_none_of_the_teams_runs(stranger: User, api: ApiClient,
                                               workflow_id: str) -> None:
    start(api, workflow_id)
    assert listed(logged_in(stranger).get("/runs/")) == []


def test_the_runs_page_needs_a_login(client: Client) -> None:
    response = client.get("/runs/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_runs_page_shows_the_graph_on_the_canvas_with_the_execution_to_follow(
        owner: User, api: ApiClient, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    response = logged_in(owner).get(f"/runs/{execution_id}/")
    assert response.status_code == 200
    config = editor_config(response)
    assert config["mode"] == "view" and config["executionId"] == execution_id
    assert config["workflowId"] == workflow_id
    assert [n["id"] for n in config["graph"]["nodes"]] == ["words", "out"]
    assert config["permissions"]["execute"] is True
    html = response.content.decode()
    assert "Run of" in html and "Fox" in html and 'data-testid="view-only"' not in html


def test_a_viewer_may_look_at_a_run_but_not_act(viewer: User, api: ApiClient,
                                                workflow_id: str) -> None:
    response = logged_in(viewer).get(f"/runs/{start(api, workflow_id)}/")
    assert response.status_code == 200
    assert editor_config(response)["permissions"]["execute"] is False
    assert 'data-testid="view-only"' in response.content.decode()


def test_another_teams_run_is_404(stranger: User, api: ApiClient, workflow_id: str) -> None:
    execution_id = start(api, workflow_id)
    for path in (f"/runs/{execution_id}/", "/runs/not-a-uuid/",
                 "/runs/00000000-0000-0000-0000-000000000000/"):
        assert logged_in(stranger).get(path).status_code == 404


def test_a_rerun_links_back_to_its_original(owner: User, api: ApiClient,
                                            workflow_id: str) -> None:
    original = start(api, workflow_id)
    again = api.post(f"/workflows/executions/{original}/rerun", {}).json()["executionId"]
    client = logged_in(owner)
    assert f"/runs/{original}/" in client.get(f"/runs/{again}/").content.decode()
    assert f"/runs/{again}/" in client.get(f"/runs/{original}/").content.decode()


def test_the_runs_page_costs_a_fixed_number_of_queries(owner: User, api: ApiClient,
                                                       django_assert_max_num_queries: Any) -> None:
    for _ in range(10):
        start(api, create(api, text_to_result()))
    client = logged_in(owner)
    with django_assert_max_num_queries(15):  # session, team, filters' workflows, page, versions
        assert len(listed(client.get("/runs/"))) == 10


@pytest.mark.parametrize(("charged", "shown"), [
    ("0.0022", "0.0022"), ("3.1867", "3.1867"), ("4", "4"), ("0", "0")])
def test_a_runs_credits_are_shown_to_the_ledgers_4_decimals(
        owner: User, api: ApiClient, workflow_id: str, charged: str, shown: str) -> None:
    """A sub-cent charge (an LLM call's 0.0022) must not read 0, as if the run were free."""
    from decimal import Decimal

    execution_id = start(api, workflow_id)
    Execution.objects.filter(pk=execution_id).update(credits_used=Decimal(charged))
    html = logged_in(owner).get("/runs/").content.decode()
    row = html.split(f'data-execution-id="{execution_id}"', 1)[1].split("</tr>", 1)[0]
    assert f'<td class="num">{shown}</td>' in row, row
