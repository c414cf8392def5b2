"""The Schedules page of a workflow: its schedules (cron and its reading, next run, last run
and error), add / edit (cron, timezone, inputs, version), pause, resume and delete (confirmed),
and the JSON preview the form asks for while a person types. Members of the workflow's team
see it; viewers read only (a forged POST is a 403 page); strangers get 404."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from wireflow_site.errors import ApiError, InvalidRequest, NotFound
from wireflow_site.isotime import iso
from workflows.models import Workflow
from workflows.pages import workflow_or_404
from workflows.selectors import user_can_modify
from workflows.settings_views import version_choices

from . import schedules
from .models import ExecutionStatus, Schedule
from .run_inputs import RunInput, run_inputs

FORBIDDEN = "Your role in this team cannot do this: viewers cannot change schedules."
INPUT_TEXT_MAX = 10_000
PILLS: dict[str, str] = {
    ExecutionStatus.COMPLETED: "badge-active", ExecutionStatus.FAILED: "badge-revoked",
    ExecutionStatus.CANCELLED: "badge-expired", ExecutionStatus.RUNNING: "badge-running"}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required guarantees it
    return request.user


def _schedule_or_404(request: HttpRequest, workflow: Workflow, schedule_id: str) -> Schedule:
    try:
        schedule = schedules.schedule_get_for_user(_user(request), schedule_id)
    except NotFound as exc:
        raise Http404("Schedule not found") from exc
    if schedule.workflow_id != workflow.pk:
        raise Http404("Schedule not found")
    return schedule


# --- The form ----------------------------------------------------------------------------------

def _input_field(spec: RunInput) -> forms.Field:
    label = f"{spec.label} ({spec.type})"
    help_text = "Leave empty for the node's own value." if spec.default is not None or \
        not spec.required else "Required: the workflow has no value for it."
    if spec.type == "number":
        return forms.FloatField(label=label, required=False, help_text=help_text)
    if spec.type == "boolean":
        return forms.NullBooleanField(label=label, required=False, widget=forms.Select(
            choices=[("unknown", "The node's own value"), ("true", "Yes"), ("false", "No")]))
    if spec.type == "select" and spec.options:
        return forms.ChoiceField(label=label, required=False, help_text=help_text,
                                 choices=[("", "—"), *[(o, o) for o in spec.options]])
    return forms.CharField(label=label, required=False, max_length=INPUT_TEXT_MAX,
                           help_text=help_text)


class ScheduleForm(forms.Form):
    cron = forms.CharField(
        max_length=schedules.CRON_MAX, initial="0 9 * * *",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                      "data-testid": "cron-input"}),
        help_text="Five fields: minute hour day-of-month month day-of-week. "
                  "\"0 9 * * 1-5\" is 09:00 on weekdays; \"*/15 * * * *\" every 15 minutes.")
    timezone = forms.CharField(
        max_length=schedules.TIMEZONE_MAX, initial="UTC",
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off",
                                      "data-testid": "timezone-input"}),
        help_text="An IANA name, e.g. Europe/Berlin: the cron is read on its clock.")
    version = forms.ChoiceField(label="Version", required=False)

    def __init__(self, *args: Any, workflow: Workflow, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version = self.fields["version"]
        assert isinstance(version, forms.ChoiceField)
        version.choices = version_choices(workflow)
        self.inputs = run_inputs(workflow.nodes)
        for index, spec in enumerate(self.inputs):
            self.fields[f"input_{index}"] = _input_field(spec)

    def input_fields(self) -> list[forms.BoundField]:
        return [self[f"input_{index}"] for index in range(len(self.inputs))]

    def data_for_schedule(self) -> schedules.ScheduleData:
        cleaned = self.cleaned_data
        given = {spec.node_id: cleaned[f"input_{index}"] for index, spec in enumerate(self.inputs)
                 if cleaned.get(f"input_{index}") not in (None, "")}
        return schedules.ScheduleData(cron=cleaned["cron"], timezone=cleaned["timezone"],
                                      inputs=given, version=cleaned["version"] or None)

    def add_service_error(self, error: ApiError) -> None:
        fields = error.extra.get("fields") or []
        field = fields[0] if fields and fields[0] in ("cron", "timezone") else None
        if isinstance(error, NotFound):
            field = "version"
        self.add_error(field, error.message)


def _initial(schedule: Schedule) -> dict[str, Any]:
    version = schedule.version
    initial: dict[str, Any] = {"cron": schedule.cron, "timezone": schedule.timezone,
                               "version": (version.tag or str(version.version)) if version else ""}
    for index, spec in enumerate(run_inputs(schedule.workflow.nodes)):
        if spec.node_id in schedule.inputs:
            initial[f"input_{index}"] = schedule.inputs[spec.node_id]
    return initial


# --- Rows of the list ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    schedule: Schedule
    description: str
    next_run: str
    last_run: str
    pill: str


def _local(moment: datetime | None, tz_name: str) -> str:
    if moment is None:
        return ""
    try:
        local = moment.astimezone(ZoneInfo(tz_name))
    except (ValueError, KeyError):
        local = moment
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def _row(schedule: Schedule) -> Row:
    last = schedule.last_execution
    return Row(schedule=schedule, description=schedules.describe(schedule.cron, schedule.timezone),
               next_run=_local(schedule.next_run_at, schedule.timezone),
               last_run=_local(schedule.last_run_at, schedule.timezone),
               pill=PILLS.get(last.status, "") if last is not None else "")


# --- Pages ---------------------------------------------------------------------------------------

def _page(request: HttpRequest, workflow: Workflow, *, form: ScheduleForm | None = None,
          editing: Schedule | None = None, confirm_delete: Schedule | None = None,
          status: int = 200) -> HttpResponse:
    can_modify = user_can_modify(_user(request), workflow.team)
    return render(request, "executions/schedules.html", {
        "workflow": workflow, "can_modify": can_modify,
        "rows": [_row(s) for s in schedules.schedules_of(workflow)],
        "form": form if form is not None else ScheduleForm(workflow=workflow),
        "editing": editing, "confirm_delete": confirm_delete,
        "timezones": sorted(schedules.timezone_names()),
        "per_workflow_max": schedules.PER_WORKFLOW_MAX,
    }, status=status)


def _submitted(request: HttpRequest, workflow: Workflow, done: str,
               save: Callable[[schedules.ScheduleData], object], *,
               editing: Schedule | None = None) -> HttpResponse:
    """A schedule form posted: saved with `save` and back to the list saying `done`, or the
    page again with the form's errors (403 for a member who may not change schedules)."""
    if not user_can_modify(_user(request), workflow.team):
        messages.error(request, FORBIDDEN)
        return _page(request, workflow, status=403)
    form = ScheduleForm(request.POST, workflow=workflow)
    if form.is_valid():
        try:
            save(form.data_for_schedule())
        except ApiError as error:
            form.add_service_error(error)
        else:
            messages.success(request, done)
            return redirect("workflow_schedules", workflow_id=workflow.pk)
    return _page(request, workflow, form=form, editing=editing, status=400)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def schedules_page(request: HttpRequest, workflow_id: str) -> HttpResponse:
    workflow = workflow_or_404(_user(request), workflow_id)
    if request.method == "GET":
        return _page(request, workflow)
    return _submitted(request, workflow, "Schedule added.",
                      lambda data: schedules.schedule_create(workflow, _user(request), data))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, workflow_id: str, schedule_id: str) -> HttpResponse:
    workflow = workflow_or_404(_user(request), workflow_id)
    schedule = _schedule_or_404(request, workflow, schedule_id)
    if request.method == "GET":
        form = ScheduleForm(initial=_initial(schedule), workflow=workflow)
        return _page(request, workflow, form=form, editing=schedule)
    return _submitted(request, workflow, "Schedule saved.",
                      lambda data: schedules.schedule_update(schedule, data), editing=schedule)


def _act(request: HttpRequest, workflow_id: str, schedule_id: str, action: str) -> HttpResponse:
    workflow = workflow_or_404(_user(request), workflow_id)
    schedule = _schedule_or_404(request, workflow, schedule_id)
    if request.method == "GET":  # only delete asks first
        return _page(request, workflow, confirm_delete=schedule)
    if not user_can_modify(_user(request), workflow.team):
        messages.error(request, FORBIDDEN)
        return _page(request, workflow, status=403)
    if action == "delete":
        schedules.schedule_delete(schedule)
        messages.success(request, "Schedule deleted. Its past runs stay in Runs.")
    else:
        resumed = action == "resume"
        schedules.schedule_update(schedule, schedules.ScheduleData(enabled=resumed))
        messages.success(request, "Schedule resumed." if resumed else
                         "Schedule paused: it will not run until it is resumed.")
    return redirect("workflow_schedules", workflow_id=workflow.pk)


@login_required
@require_http_methods(["POST"])
def schedule_pause(request: HttpRequest, workflow_id: str, schedule_id: str) -> HttpResponse:
    return _act(request, workflow_id, schedule_id, "pause")


@login_required
@require_http_methods(["POST"])
def schedule_resume(request: HttpRequest, workflow_id: str, schedule_id: str) -> HttpResponse:
    return _act(request, workflow_id, schedule_id, "resume")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def schedule_delete(request: HttpRequest, workflow_id: str, schedule_id: str) -> HttpResponse:
    return _act(request, workflow_id, schedule_id, "delete")


@login_required
@never_cache
@require_GET
def schedule_preview(request: HttpRequest, workflow_id: str) -> JsonResponse:
    """What a cron and timezone mean, for the form as a person types: 200 `{ok: true, cron,
    timezone, description, upcoming: [ISO times]}`, or 422 `{ok: false, error, field}`."""
    workflow_or_404(_user(request), workflow_id)
    cron = request.GET.get("cron", "")[:schedules.CRON_MAX + 1]
    tz_name = request.GET.get("timezone", "UTC")[:schedules.TIMEZONE_MAX + 1]
    try:
        preview = schedules.schedule_preview(cron, tz_name)
    except (schedules.InvalidSchedule, InvalidRequest) as error:
        fields = error.extra.get("fields") or [None]
        return JsonResponse({"ok": False, "error": error.message, "field": fields[0]},
                            status=422)
    return JsonResponse({"ok": True, "cron": preview.cron, "timezone": preview.timezone,
                         "description": preview.description,
                         "upcoming": [iso(t) for t in preview.upcoming],
                         "upcomingLocal": [_local(t, preview.timezone)
                                           for t in preview.upcoming]})
