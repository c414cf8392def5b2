"""The workflow list shows each workflow's last run status and its runs in the last 7 days,
computed in the list's own query (no query per workflow)."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Team, User
from executions.models import ExecutionStatus
from tests.executions.stats_data import Run, flux_run, make_run, make_workflow

pytestmark = pytest.mark.django_db


def list_page(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get("/workflows/")
    assert response.status_code == 200
    return str(response.content.decode())


def row_of(html: str, name: str) -> str:
    rows: list[str] = re.findall(r'<tr data-testid="workflow-row">.*?</tr>', html, flags=re.S)
    [row] = [r for r in rows if f">{name}</a>" in r]
    return row


def test_each_row_shows_its_last_run_and_runs_this_week(owner: User, team: Team) -> None:
    fox = make_workflow(team, owner, name="Fox")
    make_run(fox, flux_run(days_ago=10))
    make_run(fox, flux_run(days_ago=2))
    make_run(fox, flux_run(ExecutionStatus.FAILED, days_ago=0))
    busy = make_workflow(team, owner, name="Busy")
    make_run(busy, Run(status=ExecutionStatus.RUNNING, duration_ms=None))
    make_workflow(team, owner, name="Quiet")
    html = list_page(owner)
    assert 'data-status="FAILED"' in row_of(html, "Fox")
    assert re.search(r'data-testid="workflow-runs-7d"[^>]*>2<', row_of(html, "Fox"))
    assert 'data-status="RUNNING"' in row_of(html, "Busy")
    assert re.search(r'data-testid="workflow-runs-7d"[^>]*>1<', row_of(html, "Busy"))
    assert "never run" in row_of(html, "Quiet")
    assert re.search(r'data-testid="workflow-runs-7d"[^>]*>0<', row_of(html, "Quiet"))
    assert f'href="/workflows/{fox.pk}/stats/"' in row_of(html, "Fox")


def test_the_list_takes_the_same_queries_for_many_workflows(owner: User, team: Team) -> None:
    def count_queries() -> int:
        client = Client()
        client.force_login(owner)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/workflows/").status_code == 200
        return len(captured.captured_queries)

    make_run(make_workflow(team, owner, name="One"), flux_run())
    few = count_queries()
    for i in range(5):
        make_run(make_workflow(team, owner, name=f"More {i}"), flux_run())
    assert count_queries() == few
