"""The Runs pages: the team's executions (filtered, paged) and one run (its graph on the
editor's read-only canvas, painted with each node's status, live while it runs; the timeline and
each node's input, output, attempts and error; Re-run, Retry from failed, Cancel)."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.models import Team, User
from accounts.permissions import actions_for
from accounts.selectors import current_team_for_user, membership_role
from wireflow_site.errors import InvalidRequest, NotFound
from workflows.node_secrets import redact_graph

from . import presenters, runs_selectors, selectors
from .models import Execution, ExecutionStatus, Trigger
from .presenters import format_duration
from .runs_selectors import parse_moment

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(required=False,
                               choices=[("", "Any status"), *ExecutionStatus.choices])
    trigger = forms.ChoiceField(required=False, choices=[("", "Any trigger"), *Trigger.choices])
    workflow = forms.ChoiceField(required=False, choices=[("", "Every workflow")])
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To",
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, team: Team | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workflows = runs_selectors.team_workflows(team) if team else []
        field = self.fields["workflow"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Every workflow"), *self.workflows]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data

    def run_filter(self) -> runs_selectors.RunFilter:
        """What was valid of the filters (an invalid one is shown with its error, not used)."""
        data = self.cleaned_data if self.is_bound else {}
        since, until = data.get("since"), data.get("until")
        return runs_selectors.RunFilter(
            workflow_id=data.get("workflow") or None,  # a choice among the team's workflows
            status=data.get("status") or None, trigger=data.get("trigger") or None,
            since=parse_moment(since.isoformat()) if since else None,
            until=parse_moment(until.isoformat(), end_of_day=True) if until else None)


@dataclass(frozen=True)
class Row:
    summary: dict[str, Any]
    execution: Execution

    @property
    def duration(self) -> str:
        return format_duration(self.summary["durationMs"])


def _query(form: RunFilterForm, **changes: str | None) -> str:
    params = {name: value for name in ("status", "trigger", "workflow", "since", "until")
              if (value := form.data.get(name, "")) and name not in form.errors}
    params.update({k: v for k, v in changes.items() if v})
    return "?" + urlencode(params) if params else "?"


@login_required
@never_cache
def runs_page(request: HttpRequest) -> HttpResponse:
    team = current_team_for_user(_user(request))
    form = RunFilterForm(request.GET or None, team=team)
    if form.is_bound:
        form.is_valid()  # errors are shown; the valid filters still apply
    rows: list[Row] = []
    next_cursor = None
    if team is not None:
        filters = form.run_filter()
        try:
            page, next_cursor = runs_selectors.executions_for_team(
                team, filters, limit=PAGE_SIZE, cursor=request.GET.get("cursor", "")[:500])
        except InvalidRequest:  # a cursor edited by hand: the first page
            page, next_cursor = runs_selectors.executions_for_team(team, filters, limit=PAGE_SIZE)
        rows = [Row(summary, execution) for summary, execution
                in zip(presenters.summaries(page), page, strict=True)]
    filtered = any(form.data.get(name) for name in form.fields)
    return render(request, "executions/runs.html", {
        "team": team, "form": form, "rows": rows, "filtered": filtered,
        "older_url": _query(form, cursor=next_cursor) if next_cursor else None,
        "newest_url": _query(form) if request.GET.get("cursor") else None,
    })


@login_required
@never_cache
def run_page(request: HttpRequest, execution_id: str) -> HttpResponse:
    user = _user(request)
    try:
        execution = selectors.execution_get_for_user(user, execution_id)
    except NotFound as exc:
        raise Http404("Execution not found") from exc
    workflow = execution.workflow
    permissions = actions_for(membership_role(user, execution.team))
    config = {"mode": "view", "workflowId": str(workflow.pk), "executionId": str(execution.pk),
              "graph": {"nodes": redact_graph(execution.nodes), "edges": execution.edges},
              "csrfToken": get_token(request), "apiBase": "/api/v1", "listUrl": "/runs/",
              "team": {"id": execution.team_id, "name": execution.team.name},
              "permissions": permissions}
    summary = presenters.summaries([execution])[0]
    return render(request, "executions/run.html", {
        "execution": execution, "workflow": workflow, "summary": summary, "config": config,
        "duration": format_duration(summary["durationMs"]),
        "reruns": list(execution.reruns.order_by("-created_at").only("id", "status",
                                                                     "created_at")[:10]),
        "can_execute": permissions.get("execute", False),
    })
