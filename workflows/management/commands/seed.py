from typing import Any

from django.core.management.base import BaseCommand

from workflows.services import DEMO_EMAIL, demo_account_ensure, starter_templates_install


class Command(BaseCommand):
    help = "Create the demo account and its starter workflows if missing (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        user, team = demo_account_ensure()
        added = starter_templates_install(user=user, team=team)
        for workflow in added:
            self.stdout.write(f"Added starter workflow: {workflow.name}")
        self.stdout.write(self.style.SUCCESS(
            f"Demo account {DEMO_EMAIL} ready in team {team.name!r}; "
            f"{len(added)} starter workflow(s) added."))
