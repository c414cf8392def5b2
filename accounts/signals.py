from functools import partial
from typing import Any

from allauth.account.signals import user_signed_up
from django.contrib import messages
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from wireflow_site.errors import ApiError

from . import invitations
from .credits import credits_release_execution
from .models import User
from .services import user_setup_personal_team


@receiver(post_save, sender=User)
def give_new_user_a_team(sender: type[User], instance: User, created: bool, **_: Any) -> None:
    if created:
        user_setup_personal_team(instance)


@receiver(user_signed_up)
def accept_invitation_on_sign_up(sender: type, request: HttpRequest | None, user: User,
                                 **_: Any) -> None:
    """Someone who opened an invitation link and then signed up joins that team at once (the
    link's page kept its token in the session). With another address nothing happens here: the
    invitation page they are sent back to says why."""
    if request is None or not hasattr(request, "session"):
        return
    token = request.session.pop(invitations.SESSION_KEY, None)
    invitation = invitations.invitation_find(token) if isinstance(token, str) else None
    if invitation is None:
        return
    try:
        membership = invitations.invitation_accept(invitation, user=user)
    except ApiError:
        return
    messages.success(request, f"You joined {invitation.team.name} as "
                              f"{membership.get_role_display()}.")
    request.session[invitations.JOINED_SESSION_KEY] = invitation.pk


@receiver(post_delete, sender="executions.Execution")
def release_credits_of_deleted_execution(sender: type, instance: Any, **_: Any) -> None:
    """Deleting a workflow deletes its executions, running ones too, whose reservation would
    otherwise stay held. Released after commit, in a transaction of its own: taking the credit
    lock inside the delete could deadlock with a worker charging one of its nodes."""
    transaction.on_commit(partial(credits_release_execution, instance.team_id, instance.pk))
