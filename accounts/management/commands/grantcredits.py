"""`manage.py grantcredits <team slug or owner email> <amount>`: an operator adds credits.

A positive amount is a grant. A negative amount is recorded as an adjustment (to correct a
mistaken grant) and is refused if it would take the balance below zero: the ledger is
append-only, so corrections are new entries, never edits."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.credits import as_text, credits_adjust, credits_grant, to_credits
from accounts.plans import PlanChangeError, team_for_operator
from wireflow_site.errors import InvalidRequest


class Command(BaseCommand):
    help = ("Add credits (1 credit = US$0.01) to a team named by its slug or its owner's email "
            "address. A negative amount takes credits back, never below a zero balance.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("team", help="the team's slug, or the email address of its owner")
        parser.add_argument("amount", help="credits, up to 4 decimals, e.g. 500 or -12.5")
        parser.add_argument("--note", default="", help="why (kept in the ledger)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            team = team_for_operator(options["team"])
            amount = to_credits(options["amount"])
            if amount > 0:
                balance = credits_grant(team, amount, note=options["note"] or "Operator grant")
            else:
                balance = credits_adjust(team, amount,
                                         note=options["note"] or "Operator adjustment")
        except (PlanChangeError, InvalidRequest) as error:
            raise CommandError(str(error)) from None
        verb = "Granted" if amount > 0 else "Took back"
        self.stdout.write(f"{verb} {as_text(abs(amount))} credits for team {team.name} "
                          f"({team.slug}); the balance is now {as_text(balance)}.")
