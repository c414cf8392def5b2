from django.contrib import admin

from .models import Workflow, WorkflowVersion


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_active", "is_template", "version", "execution_count",
                    "updated_at"]
    list_filter = ["is_active", "is_template"]
    search_fields = ["name", "team__name", "team__slug"]
    raw_id_fields = ["team", "created_by"]
    readonly_fields = ["id", "created_at", "updated_at", "version", "execution_count",
                       "last_executed_at"]
    exclude = ["webhook_secret"]  # encrypted; set it on the workflow's settings page


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "version", "created_at", "created_by"]
    raw_id_fields = ["workflow", "created_by"]
    readonly_fields = ["created_at"]
