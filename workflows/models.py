import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team


class LinkPermission(models.TextChoices):
    PRIVATE = "private"  # only the team's members
    VIEW = "view"  # anyone with the link sees the public page (workflows/sharing_views.py)


class Workflow(models.Model):
    """A team's graph of nodes and edges, saved exactly as the canvas editor sends it."""

    # UUIDs so that ids cannot be enumerated or guessed.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, db_index=False,
                             related_name="workflows")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    nodes = models.JSONField(default=list)
    edges = models.JSONField(default=list)
    tags = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    execution_count = models.PositiveIntegerField(default=0)
    last_executed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Written by the services (millisecond resolution, strictly increasing per workflow) so a
    # client's baseUpdatedAt can be compared exactly for stale-write detection.
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # The public trigger URL's id: set while the webhook is enabled, None otherwise, so a
    # disabled webhook leaves nothing reachable (enabling again gives a new id).
    webhook_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    webhook_enabled = models.BooleanField(default=False)
    # The signing secret, Fernet-encrypted (workflows/secretbox.py); "" when unset.
    webhook_secret = models.TextField(blank=True, default="")
    # The template this workflow was made from ("Use template"), and that template's version.
    template = models.ForeignKey("Template", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    template_version = models.PositiveIntegerField(null=True, blank=True)
    # Pins the webhook trigger to a version (a number or a tag); "" runs the current graph.
    webhook_version = models.CharField(max_length=40, blank=True, default="")
    # Who may open the workflow's public page /workflows/<id>/ (POST /workflows/{id}/visibility).
    link_permission = models.CharField(max_length=10, choices=LinkPermission.choices,
                                       default=LinkPermission.PRIVATE)

    class Meta:
        indexes = [models.Index(fields=["team", "-updated_at"], name="workflow_team_updated")]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """A snapshot of the graph at each save, so an execution can point at the exact graph run."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, db_index=False,
                                 related_name="versions")
    version = models.PositiveIntegerField()
    nodes = models.JSONField(default=list)
    edges = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # A semantic version ("1.4.0") given to this snapshot, unique per workflow; "" when untagged.
    tag = models.CharField(max_length=40, blank=True, default="")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "version"],
                                    name="one_snapshot_per_version"),
            models.UniqueConstraint(fields=["workflow", "tag"], condition=~Q(tag=""),
                                    name="one_version_per_tag"),
        ]
        ordering = ["workflow", "-version"]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.version}"


class TemplateScope(models.TextChoices):
    STARTER = "starter"  # ships with the product, visible to every team
    TEAM = "team"  # visible to the publishing team
    PUBLIC = "public"  # visible to every account on this instance


class Template(models.Model):
    """A snapshot of a workflow's graph, published to be reused (the gallery)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None for the starter templates, which belong to no team.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, db_index=False,
                             related_name="templates")
    scope = models.CharField(max_length=10, choices=TemplateScope.choices,
                             default=TemplateScope.TEAM)
    # The starter templates' file name (workflows/starter_templates/<slug>.json).
    slug = models.SlugField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list)
    nodes = models.JSONField(default=list)
    edges = models.JSONField(default=list)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    source_workflow = models.ForeignKey(Workflow, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    use_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["scope", "-updated_at"], name="template_scope_updated"),
                   models.Index(fields=["team", "-updated_at"], name="template_team_updated")]
        constraints = [
            models.UniqueConstraint(fields=["slug"], condition=Q(scope="starter"),
                                    name="one_starter_template_per_slug"),
        ]

    def __str__(self) -> str:
        return self.name
