from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import User
from .services import user_setup_personal_team


@receiver(post_save, sender=User)
def give_new_user_a_team(sender: type[User], instance: User, created: bool, **_: Any) -> None:
    if created:
        user_setup_personal_team(instance)
