from django.contrib import admin

from .models import Template, Workflow, WorkflowVersion


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin[Workflow]):
    list_display = ["name", "team", "is_active", "version", "execution_count", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "team__name", "team__slug"]
    raw_id_fields = ["team", "created_by", "template"]
    readonly_fields = ["id", "created_at", "updated_at", "version", "execution_count",
                       "last_executed_at"]
    exclude = ["webhook_secret"]  # encrypted; set it on the workflow's settings page


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin[WorkflowVersion]):
    list_display = ["workflow", "version", "created_at", "created_by"]
    raw_id_fields = ["workflow", "created_by"]
    readonly_fields = ["created_at"]


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin[Template]):
    list_display = ["name", "scope", "team", "author", "version", "use_count", "updated_at"]
    list_filter = ["scope"]
    search_fields = ["name", "slug", "team__name"]
    raw_id_fields = ["team", "author", "source_workflow"]
    # The graph is a snapshot: republish from a workflow to change it, never edit it here.
    readonly_fields = ["id", "nodes", "edges", "version", "use_count", "created_at",
                       "updated_at"]
