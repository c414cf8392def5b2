"""Schedules API (mounted at the API root, paths as docs/api.md gives them): a workflow's schedules,
listed and created under the workflow, read, changed and deleted by their own id."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.params import functions as param
from pydantic import BaseModel, Field, field_validator

from accounts.auth import ApiAuth, caller_of
from accounts.permissions import Action, require_role
from accounts.scopes import WORKFLOWS_READ, WORKFLOWS_WRITE
from workflows.models import Workflow
from workflows.schemas import COMMON_ERRORS, ErrorOut, FieldsErrorOut, VersionRef, storable
from workflows.selectors import workflow_get_for_user

from . import schedules
from .models import Schedule

router = Router(tags=["schedules"])
_read = ApiAuth(WORKFLOWS_READ)
_write = ApiAuth(WORKFLOWS_WRITE)
_NO_BODY = param.Body(None)

_CRON = ("Five fields: minute hour day-of-month month day-of-week (e.g. \"0 9 * * 1-5\"); "
         "never more often than once a minute. Invalid: 422 invalid_schedule.")
_TIMEZONE = "An IANA name (Europe/Berlin); the cron is read on its wall clock. Default UTC."
_INPUTS = "Values for input nodes, by node id or label (stored by node id)."
_VERSION = "Run this saved version (a number or a tag); null: the current graph."


class ScheduleIn(BaseModel):
    cron: str = Field(description=_CRON)
    timezone: str = Field("UTC", description=_TIMEZONE)
    inputs: dict[str, Any] = Field(default_factory=dict, description=_INPUTS)
    version: VersionRef | None = Field(None, description=_VERSION)
    enabled: bool = Field(True, description="false: saved, but paused")

    @field_validator("inputs")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


class ScheduleUpdateIn(BaseModel):
    """Every field optional: what is sent changes, the rest stays."""

    cron: str | None = Field(None, description=_CRON)
    timezone: str | None = Field(None, description=_TIMEZONE)
    inputs: dict[str, Any] | None = Field(None, description=_INPUTS)
    version: VersionRef | None = Field(None, description=_VERSION)
    enabled: bool | None = Field(None, description="false pauses (nothing is cleared); true "
                                                   "resumes from now")

    @field_validator("inputs")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)

    def data(self) -> schedules.ScheduleData:
        sent = {name: getattr(self, name) for name in self.model_fields_set
                if name == "version" or getattr(self, name) is not None}
        return schedules.ScheduleData(**sent)


class ScheduleOut(Schema):
    id: str
    workflowId: str
    cron: str
    timezone: str
    inputs: dict[str, Any]
    version: int | None = Field(description="The pinned version's number; null: current graph")
    versionTag: str | None
    enabled: bool
    nextRunAt: str | None
    lastRunAt: str | None
    lastExecutionId: str | None
    lastExecutionStatus: str | None
    lastError: str | None = Field(description="Why the last due time started no run (e.g. a "
                                              "429 or 402), else null")
    description: str = Field(description="The cron in plain language, with the timezone")
    upcoming: list[str] = Field(description="The next due times (none while paused)")
    createdAt: str | None
    updatedAt: str | None


class ScheduleListOut(Schema):
    schedules: list[ScheduleOut]


_ERRORS: dict[int, Any] = {404: ErrorOut, **COMMON_ERRORS}
_WRITE_ERRORS: dict[int, Any] = {422: FieldsErrorOut, **_ERRORS}


def _workflow(request: HttpRequest, workflow_id: str) -> Workflow:
    caller = caller_of(request)
    return workflow_get_for_user(caller.user, workflow_id, team=caller.lookup_team)


def _schedule(request: HttpRequest, schedule_id: str, *, modify: bool = False) -> Schedule:
    caller = caller_of(request)
    schedule = schedules.schedule_get_for_user(caller.user, schedule_id,
                                               team=caller.lookup_team)
    if modify:
        require_role(caller.user, schedule.team, Action.MODIFY)
    return schedule


@router.get("/workflows/{workflow_id}/schedules", auth=_read,
            response={200: ScheduleListOut, **_ERRORS}, summary="The workflow's schedules")
def list_schedules(request: HttpRequest, workflow_id: str) -> Any:
    workflow = _workflow(request, workflow_id)
    return {"schedules": [schedules.schedule_shape(s) for s in schedules.schedules_of(workflow)]}


@router.post("/workflows/{workflow_id}/schedules", auth=_write,
             response={201: ScheduleOut, **_WRITE_ERRORS},
             summary="Run the workflow on a cron schedule",
             description="Each due time starts one execution (trigger `schedule`); after "
                         "downtime it fires once. A refusal (429, 402) is kept in "
                         "`lastError`. 422 `invalid_schedule` for a bad cron or timezone.")
def create_schedule(request: HttpRequest, workflow_id: str, payload: ScheduleIn) -> Any:
    caller = caller_of(request)
    workflow = _workflow(request, workflow_id)
    require_role(caller.user, workflow.team, Action.MODIFY)
    created = schedules.schedule_create(workflow, caller.user, schedules.ScheduleData(
        **payload.model_dump()))
    return Status(201, schedules.schedule_shape(created))


@router.get("/schedules/{schedule_id}", auth=_read, response={200: ScheduleOut, **_ERRORS},
            summary="One schedule")
def get_schedule(request: HttpRequest, schedule_id: str) -> Any:
    return schedules.schedule_shape(_schedule(request, schedule_id))


@router.put("/schedules/{schedule_id}", auth=_write, response={200: ScheduleOut, **_WRITE_ERRORS},
            summary="Change, pause (enabled: false) or resume a schedule",
            description="Only the fields sent change. A new cron or timezone, or a resume, "
                        "computes the next run from now.")
def update_schedule(request: HttpRequest, schedule_id: str,
                    payload: ScheduleUpdateIn | None = _NO_BODY) -> Any:
    schedule = _schedule(request, schedule_id, modify=True)
    changes = payload.data() if payload else schedules.ScheduleData()
    return schedules.schedule_shape(schedules.schedule_update(schedule, changes))


@router.delete("/schedules/{schedule_id}", auth=_write, response={204: None, **_ERRORS},
               summary="Delete a schedule (its past executions stay)")
def delete_schedule(request: HttpRequest, schedule_id: str) -> Any:
    schedules.schedule_delete(_schedule(request, schedule_id, modify=True))
    return Status(204, None)
