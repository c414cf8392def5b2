"""`manage.py rotateproviderkeys`: re-encrypt every team provider key with the first of
WIREFLOW_ENCRYPTION_KEYS. Rotating: put the new secret first, keep the old one after it, run
this, then drop the old one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.provider_keys import provider_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt the teams' provider keys with the first of WIREFLOW_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotation = provider_keys_rotate()
        self.stdout.write(f"Re-encrypted {rotation.resealed} provider key(s).")
        if rotation.unreadable:
            ids = ", ".join(str(pk) for pk in rotation.unreadable)
            raise CommandError(f"{len(rotation.unreadable)} provider key(s) could not be "
                               f"decrypted with any configured key (ids {ids}); left as they are.")
