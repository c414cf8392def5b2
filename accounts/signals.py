from typing import Any

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from .credits import credits_release_execution
from .models import User
from .services import user_setup_personal_team


@receiver(post_save, sender=User)
def give_new_user_a_team(sender: type[User], instance: User, created: bool, **_: Any) -> None:
    if created:
        user_setup_personal_team(instance)


@receiver(pre_delete, sender="executions.Execution")
def release_credits_of_deleted_execution(sender: type, instance: Any, **_: Any) -> None:
    """Deleting a workflow deletes its executions, running ones too: their reservation would
    otherwise stay held forever."""
    credits_release_execution(instance.team_id, instance.pk)
