"""`manage.py createapikey --email E`: an operator's way to get an API key without the browser.

The key is the last line of the output, so scripts can take it with `tail -n 1`."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.scopes import ALL_SCOPES
from accounts.services import api_key_create_for_email
from wireflow_site.errors import InvalidRequest


class Command(BaseCommand):
    help = ("Create an API key for the user with this email (creating the user, with no "
            "usable password, and their team if missing). Prints the key as the last line.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="Created by createapikey")
        parser.add_argument("--scopes", nargs="+", metavar="SCOPE", default=None,
                            help=f"any of {', '.join(ALL_SCOPES)}; default: all of them")
        parser.add_argument("--expires-in-days", type=int, default=None, metavar="D",
                            help="1 to 3650; default: never expires")

    def handle(self, *args: Any, **options: Any) -> None:
        unknown = sorted(set(options["scopes"] or []) - set(ALL_SCOPES))
        if unknown:
            raise CommandError(f"Unknown scope: {', '.join(unknown)}. "
                               f"Known scopes: {', '.join(ALL_SCOPES)}")
        try:
            created = api_key_create_for_email(
                email=options["email"], name=options["name"], scopes=options["scopes"],
                expires_in_days=options["expires_in_days"])
        except InvalidRequest as error:
            raise CommandError(error.message) from None
        api_key = created.api_key
        self.stdout.write(f"Created API key “{api_key.name}” for {api_key.user.email} "
                          f"in team {api_key.team.name} (scopes: {', '.join(api_key.scopes)}).")
        self.stdout.write("Store it now: it will not be shown again.")
        self.stdout.write(created.secret)
