from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_migrate


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        # The starter templates are rows of the gallery: every `migrate` installs or updates
        # them, so a production site has them without running `seed`.
        post_migrate.connect(_install_starter_templates, sender=self,
                             dispatch_uid="workflows.starter_templates")


def _install_starter_templates(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    connection = connections[using]
    if "workflows_template" not in connection.introspection.table_names():
        return  # migrated back before the gallery existed
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return  # a partial migrate: the models may not match the tables yet
    from .templates import starter_templates_sync

    starter_templates_sync()
