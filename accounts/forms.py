"""Browser forms for teams, members, invitations and API keys, and the admin's user forms
(email, no username)."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import Role, User
from .scopes import ALL_SCOPES

MAX_EXPIRY_DAYS = 3650

SCOPE_HELP = {
    "workflows:read": "list and read workflows",
    "workflows:write": "create, change and delete workflows",
    "workflows:execute": "run and cancel workflows",
    "executions:read": "read executions and their outputs",
    "usage:read": "read credits and usage",
    "team:manage": "manage members, invitations and provider keys",
}

EXPIRY_CHOICES = [("never", "Never"), ("30", "30 days"), ("90", "90 days"),
                  ("365", "1 year"), ("custom", "Custom")]


def _offer_only(field: forms.Field, allowed: Iterable[str]) -> None:
    """Show only the choices the person may pick; the field still accepts every valid one, so
    a forged choice reaches the service and is refused there (403), not passed off as a typo."""
    offered = set(allowed)
    widget = field.widget
    widget.choices = [c for c in widget.choices if c[0] in offered]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. CI pipeline",
                                                         "autocomplete": "off"}))
    scopes = forms.MultipleChoiceField(
        choices=[(s, f"{s} — {SCOPE_HELP.get(s, '')}") for s in ALL_SCOPES],
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to give the key every scope.")
    expiry = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="never",
                               widget=forms.RadioSelect, label="Expires")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_EXPIRY_DAYS, label="Days",
        widget=forms.NumberInput(attrs={"placeholder": "days", "inputmode": "numeric"}))

    def __init__(self, *args: Any, allowed_scopes: Iterable[str] = ALL_SCOPES,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_only(self.fields["scopes"], allowed_scopes)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        expiry = data.get("expiry")
        if expiry == "custom" and data.get("expires_in_days") is None \
                and "expires_in_days" not in self.errors:
            self.add_error("expires_in_days", "Enter a number of days.")
        return data

    def days(self) -> int | None:
        """The chosen lifetime in days, None for a key that never expires."""
        expiry = self.cleaned_data["expiry"]
        if expiry == "never":
            return None
        if expiry == "custom":
            return int(self.cleaned_data["expires_in_days"])
        return int(expiry)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, label="Team name")


class TeamSwitchForm(forms.Form):
    team = forms.IntegerField(min_value=1)


class RoleField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, **kwargs)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"placeholder": "name@example.com", "autocomplete": "off"}))
    role = RoleField(initial=Role.EDITOR)

    def __init__(self, *args: Any, allowed_roles: Iterable[str] = Role.values,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_only(self.fields["role"], allowed_roles)


class MemberRoleForm(forms.Form):
    role = RoleField()


class TransferForm(forms.Form):
    user = forms.IntegerField(min_value=1, max_value=2**62, label="New owner")


class TeamDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=110, label="Type the team's name to confirm",
                              widget=forms.TextInput(attrs={"autocomplete": "off"}))


class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm[User]):
    class Meta:
        model = User
        fields = "__all__"
