from __future__ import annotations

from django import forms

from accounts.models import Role


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses this key, e.g. “nightly export job”."
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Leave empty for a key that never expires.",
    )


class RoleGrantForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    level = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=9,
        help_text="Review level, for the reviewer role only.",
    )


class UserSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search e-mail or name")
    role = forms.ChoiceField(required=False, choices=[("", "Any role"), *Role.choices])


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False, help_text="e.g. role.granted, or role. for all role changes"
    )
    actor = forms.CharField(required=False, label="Actor e-mail")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
