"""The operator's admin: people, teams, memberships and API keys.

API keys are read-only here apart from their name, and their hash is never shown: a key's
secret exists only in the response that created it.

Invitations are read-only here (they are sent from Settings > Team, which shows the link once;
only its hash exists), apart from revoking them.

A membership removed here (on its own page, in bulk, or on its team's page) goes through
`services.membership_remove`, which revokes the person's keys of that team with it; a
membership cannot be moved to another person or team (that would be a removal in disguise)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone

from . import services
from .forms import EmailUserChangeForm, EmailUserCreationForm
from .invitations import invitation_state
from .models import ApiKey, Invitation, Membership, Team, User


class MembershipForm(forms.ModelForm[Membership]):
    class Meta:
        model = Membership
        fields = ["team", "user", "role", "created_at"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk and {"team", "user"} & set(self.changed_data):
            raise forms.ValidationError("A membership cannot move to another person or team: "
                                        "delete it and add a new one.")
        return cleaned


class MembershipFormSet(BaseInlineFormSet[Membership, Team, forms.ModelForm[Membership]]):
    def delete_existing(self, obj: Membership, commit: bool = True) -> None:
        if commit:
            services.membership_remove(obj.team, obj.user, by=None)


class MembershipInline(admin.TabularInline[Membership, Team]):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password", "current_team")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2")}),
    )
    list_display = ("email", "first_name", "last_name", "is_staff", "date_joined")
    search_fields = ("email", "first_name", "last_name")
    ordering = ("email",)
    raw_id_fields = ("current_team",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ("name", "slug", "plan", "created_at")
    list_filter = ("plan",)
    search_fields = ("name", "slug", "memberships__user__email")
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    form = MembershipForm
    list_display = ("user", "team", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "team__name", "team__slug")
    autocomplete_fields = ["user", "team"]

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(obj.team, obj.user, by=None)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("team", "user"):
            services.membership_remove(membership.team, membership.user, by=None)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "masked", "team", "user", "status", "created_at", "last_used_at",
                    "expires_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("name", "last4", "team__name", "user__email")
    fields = ("name", "masked", "team", "user", "scopes", "created_at", "last_used_at",
              "expires_at", "revoked_at")
    readonly_fields = ("masked", "team", "user", "scopes", "created_at", "last_used_at",
                       "expires_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made at Settings > API Keys or by createapikey, shown once

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ("email", "team", "role", "state", "invited_by", "created_at", "expires_at")
    list_filter = ("role",)
    search_fields = ("email", "team__name", "team__slug")
    fields = ("email", "team", "role", "state", "invited_by", "created_at", "sent_at",
              "expires_at", "accepted_at", "accepted_by", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="State")
    def state(self, obj: Invitation) -> str:
        return invitation_state(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an invitation's link exists only in the email and on the inviter's page

    @admin.action(description="Revoke selected invitations")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        count = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} invitation(s).")
