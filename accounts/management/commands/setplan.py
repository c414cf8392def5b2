"""`manage.py setplan <team slug or owner email> <plan>`: an operator moves a team to a plan.

The new limits apply from the team's next request; what it already used in the current windows
still counts."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.plans import PLANS, PlanChangeError, team_for_operator, team_set_plan


class Command(BaseCommand):
    help = "Put a team, named by its slug or its owner's email address, on a plan."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("team", help="the team's slug, or the email address of its owner")
        parser.add_argument("plan", help=f"one of {', '.join(PLANS)}")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            team = team_for_operator(options["team"])
            previous = team.plan
            team_set_plan(team, options["plan"].strip().lower())
        except PlanChangeError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Team {team.name} ({team.slug}) is now on the {team.plan} plan "
                          f"(was {previous}).")
