"""Execution state. Every transition is a conditional UPDATE (see executions/engine/state.py), so a
stale or duplicate worker can never overwrite newer state."""

import uuid

from django.db import models
from django.utils import timezone


class ExecutionStatus(models.TextChoices):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class NodeStatus(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class NodePhase(models.TextChoices):
    """Where a RUNNING node run is in its attempt (NONE in every other status)."""

    NONE = "", "none"
    RUNNING = "running", "running inline"  # an inline executor claimed it
    SUBMITTING = "submitting", "submitting"  # a remote job is being submitted
    SUBMITTED = "submitted", "submitted"  # the remote job is in flight
    RETRY_WAIT = "retry_wait", "waiting to retry"  # backing off before the next attempt


class Trigger(models.TextChoices):
    API = "api"
    WEBHOOK = "webhook"
    EDITOR = "editor"
    SCHEDULE = "schedule"
    BATCH = "batch"


TERMINAL_NODE = {NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.SKIPPED,
                 NodeStatus.CANCELLED}


class Execution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, db_index=False,
                                 related_name="executions")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, db_index=False,
                             related_name="executions")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    workflow_version = models.ForeignKey("workflows.WorkflowVersion", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.API)
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices,
                              default=ExecutionStatus.RUNNING)
    error = models.TextField(blank=True, default="")
    nodes = models.JSONField(default=list)
    edges = models.JSONField(default=list)
    inputs = models.JSONField(default=dict)
    trigger_data = models.JSONField(default=dict, blank=True)
    target_node_id = models.CharField(max_length=200, blank=True, default="")
    # Execute's `force`: every node runs again, none reuses a cached result.
    force = models.BooleanField(default=False)
    final_output = models.JSONField(default=dict, blank=True)
    credits_used = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    cancel_requested = models.BooleanField(default=False)
    # The engine's lease: one advance() at a time; an expired lease is taken over by the sweeper.
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When the engine wants to look at this execution again (a poll or a retry is due).
    wake_at = models.DateTimeField(null=True, blank=True)
    # A wake-up (a webhook, a call's outcome, a cancel) arrived while the lease was held: the
    # holder runs another pass before it lets go (engine/state.py, coalesced wake-ups).
    wake_requested = models.BooleanField(default=False)
    last_seq = models.BigIntegerField(default=0)
    # A re-run records the execution it repeats; with `from_failed` the nodes that completed
    # there were carried over (cached, not charged again).
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="reruns")
    schedule = models.ForeignKey("executions.Schedule", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="executions")

    # A foreign key whose column leads one of these indexes (or a unique constraint) takes
    # db_index=False: its own index would be one more to write on every insert and every
    # update that is not HOT, and serve no lookup the longer one does not
    # (tests/test_schema_indexes.py).
    class Meta:
        indexes = [
            models.Index(fields=["workflow", "-created_at"]),
            models.Index(fields=["status", "wake_at"]),
            models.Index(fields=["team", "-created_at"]),
            # The Runs page's filters (status, trigger) and the statistics' windows.
            models.Index(fields=["team", "status", "-created_at"], name="execution_team_status"),
            models.Index(fields=["team", "trigger", "-created_at"], name="execution_team_trigger"),
        ]

    def __str__(self) -> str:
        return f"execution {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status != ExecutionStatus.RUNNING


class NodeRun(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, db_index=False,
                                  related_name="node_runs")
    node_id = models.CharField(max_length=200)
    node_type = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True, default="")
    position = models.PositiveIntegerField(default=0)  # topological order, for display
    status = models.CharField(max_length=10, choices=NodeStatus.choices,
                              default=NodeStatus.PENDING)
    phase = models.CharField(max_length=12, blank=True, choices=NodePhase.choices,
                             default=NodePhase.NONE)
    attempt = models.PositiveIntegerField(default=0)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    ports = models.JSONField(null=True, blank=True)  # values delivered on each output port
    error = models.TextField(blank=True, default="")
    attempts_log = models.JSONField(default=list, blank=True)
    progress = models.FloatField(null=True, blank=True)
    logs = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=200, blank=True, default="")
    remote = models.JSONField(default=dict, blank=True)  # provider URLs for the job in flight
    cache_key = models.CharField(max_length=64, blank=True, default="")
    cached = models.BooleanField(default=False)
    credits = models.FloatField(default=0)
    # The most this node may be charged: its cost bound, covered by the execution's reservation
    # before it ran (accounts/credits.py, credits_cover_node). None for free nodes.
    credits_limit = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "node_id"],
                                               name="one_run_per_node")]
        # Equality only (engine/nodectx.cached_result): a plain index, without the LIKE index
        # that db_index=True would add to a CharField on PostgreSQL.
        indexes = [models.Index(fields=["request_id"]),
                   models.Index(fields=["cache_key"], name="noderun_cache_key")]
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.node_id} ({self.status})"


class ExecutionEvent(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, db_index=False,
                                  related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=20)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["execution", "seq"],
                                               name="one_event_per_seq")]
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.execution_id}#{self.seq} {self.type}"


class IdempotencyState(models.TextChoices):
    PROCESSING = "processing"
    DONE = "done"


class IdempotencyRecord(models.Model):
    """One Idempotency-Key of a team: claimed by the first request, then its stored response.
    See wireflow_site/idempotency.py for the protocol."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, db_index=False,
                             related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # sha256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=IdempotencyState.choices,
                             default=IdempotencyState.PROCESSING)
    # Who holds the claim: a stale claim taken over gets a new token, so the request that lost
    # it can no longer store its response.
    token = models.UUIDField(default=uuid.uuid4)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "key"],
                                               name="one_idempotency_record_per_team_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.team_id}:{self.key} ({self.state})"


class Schedule(models.Model):
    """A cron schedule of a workflow: `next_run_at` is claimed with a conditional UPDATE (from
    the value read to the next due time after now), so one due time starts one execution
    whatever the number of beat and worker processes, and downtime costs one catch-up fire."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE,
                                 related_name="schedules")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="schedules")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    cron = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")  # an IANA name
    inputs = models.JSONField(default=dict, blank=True)
    version = models.ForeignKey("workflows.WorkflowVersion", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_execution = models.ForeignKey(Execution, null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="schedule_due")]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone})"


class BatchStatus(models.TextChoices):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class RowStatus(models.TextChoices):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Batch(models.Model):
    """Many executions of one workflow, a row of inputs each, at most `concurrency` at once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE,
                                 related_name="batches")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, db_index=False,
                             related_name="batches")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey("workflows.WorkflowVersion", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=BatchStatus.choices,
                              default=BatchStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)
    concurrency = models.PositiveSmallIntegerField(default=5)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["team", "-created_at"], name="batch_team_created"),
                   models.Index(fields=["status"], name="batch_status")]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.status})"


class BatchRow(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, db_index=False, related_name="rows")
    index = models.PositiveIntegerField()
    inputs = models.JSONField(default=dict)
    execution = models.OneToOneField(Execution, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="batch_row")
    status = models.CharField(max_length=10, choices=RowStatus.choices,
                              default=RowStatus.PENDING)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "index"],
                                               name="one_row_per_index")]
        indexes = [models.Index(fields=["batch", "status", "index"], name="batch_row_status")]
        ordering = ["index"]

    def __str__(self) -> str:
        return f"{self.batch_id}[{self.index}] ({self.status})"


def _upload_path(instance: "Upload", filename: str) -> str:
    # An unguessable folder per upload: the URL is the capability to read it.
    return f"uploads/{instance.token}/{filename}"


class Upload(models.Model):
    """A media file a person uploaded for an input node (image, video or audio), stored through
    Django's default storage (the filesystem, or an S3-compatible bucket when configured)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, db_index=False,
                             related_name="uploads")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=_upload_path, max_length=300)
    original_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["team", "-created_at"], name="upload_team_created")]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.content_type})"
