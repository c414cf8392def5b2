"""Seal the output:webhook signing secrets saved in plain text before they were write-only:
in workflows, their versions, executions' graphs and node runs' stored inputs."""

from typing import Any

from django.db import migrations

# Frozen here: the write-only params as of this migration.
SECRET_PARAMS = {"output:webhook": ("secret",)}


def _sealed_params(node_type: Any, params: Any) -> bool:
    """Seal plain-text secrets in `params` in place; True if anything changed."""
    from workflows.secretbox import is_sealed_param, seal_param

    if not isinstance(params, dict):
        return False
    changed = False
    for name in SECRET_PARAMS.get(node_type, ()) if isinstance(node_type, str) else ():
        value = params.get(name)
        if isinstance(value, str) and value and not is_sealed_param(value):
            params[name] = seal_param(value)
            changed = True
    return changed


def _sealed_graph(nodes: Any) -> bool:
    changed = False
    for node in nodes if isinstance(nodes, list) else []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict):
            changed = _sealed_params(data.get("nodeType"), data.get("params")) or changed
    return changed


def _seal_graphs(queryset: Any) -> None:
    for row in queryset.only("pk", "nodes").iterator():
        if _sealed_graph(row.nodes):
            row.save(update_fields=["nodes"])


def seal(apps: Any, schema_editor: Any) -> None:
    for model in (apps.get_model("workflows", "Workflow"),
                  apps.get_model("workflows", "WorkflowVersion")):
        _seal_graphs(model.objects.all())
    # Every execution: a node out of a run's scope has no node run, but is in its graph.
    _seal_graphs(apps.get_model("executions", "Execution").objects.all())
    runs = apps.get_model("executions", "NodeRun").objects.filter(
        node_type__in=list(SECRET_PARAMS))
    for run in runs.only("pk", "node_type", "input").iterator():
        stored = run.input.get("params") if isinstance(run.input, dict) else None
        if _sealed_params(run.node_type, stored):
            run.save(update_fields=["input"])


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0002_webhook_settings"),
        ("executions", "0002_idempotency"),
    ]

    operations = [migrations.RunPython(seal, migrations.RunPython.noop)]
