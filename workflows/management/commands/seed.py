from typing import Any

from django.core.management.base import BaseCommand

from workflows.services import DEMO_EMAIL, demo_account_ensure
from workflows.templates import starter_templates_list, starter_templates_sync


class Command(BaseCommand):
    help = ("Create the demo account if missing and install the starter templates in the "
            "gallery (safe to run again).")

    def handle(self, *args: Any, **options: Any) -> None:
        user, team = demo_account_ensure()
        synced = starter_templates_sync()
        self.stdout.write(self.style.SUCCESS(
            f"Demo account {DEMO_EMAIL} ready in team {team.name!r}; "
            f"{len(starter_templates_list())} starter template(s) in the gallery "
            f"({synced.added} added, {synced.updated} updated)."))
