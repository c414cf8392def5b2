"""Browser forms for teams and API keys, and the admin's user forms (email, no username)."""

from typing import Any

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import User
from .scopes import ALL_SCOPES

MAX_EXPIRY_DAYS = 3650

SCOPE_HELP = {
    "workflows:read": "list and read workflows",
    "workflows:write": "create, change and delete workflows",
    "workflows:execute": "run and cancel workflows",
    "executions:read": "read executions and their outputs",
    "usage:read": "read credits and usage",
}

EXPIRY_CHOICES = [("never", "Never"), ("30", "30 days"), ("90", "90 days"),
                  ("365", "1 year"), ("custom", "Custom")]


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


class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
