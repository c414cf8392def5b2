from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .credits import credits_release_execution
from .models import User
from .services import user_setup_personal_team


@receiver(post_save, sender=User)
def give_new_user_a_team(sender: type[User], instance: User, created: bool, **_: Any) -> None:
    if created:
        user_setup_personal_team(instance)


@receiver(post_delete, sender="executions.Execution")
def release_credits_of_deleted_execution(sender: type, instance: Any, **_: Any) -> None:
    """Deleting a workflow deletes its executions, running ones too, whose reservation would
    otherwise stay held. Released after commit, in a transaction of its own: taking the credit
    lock inside the delete could deadlock with a worker charging one of its nodes."""
    transaction.on_commit(partial(credits_release_execution, instance.team_id, instance.pk))
