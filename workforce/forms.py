from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm
from django import forms
from django.db import transaction
from django.http import HttpRequest
from django_countries import countries

from workforce.choices import language_choices, time_zone_choices
from workforce.models import AnnotatorStatus, Skill
from workforce.selectors import terms_current
from workforce.services import annotator_signup_complete


def _country_choices() -> list[tuple[str, str]]:
    return [("", "Choose your country"), *((code, str(name)) for code, name in countries)]


class ProfileFieldsMixin(forms.Form):
    country = forms.ChoiceField(choices=_country_choices)
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC", label="Time zone")
    languages = forms.MultipleChoiceField(
        choices=language_choices,
        help_text="The languages you can label in (hold Ctrl or ⌘ to choose several).",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )


class AnnotatorSignupForm(ProfileFieldsMixin, SignupForm):
    """allauth's e-mail sign-up plus what an annotator must tell us and the current terms."""

    full_name = forms.CharField(max_length=150, label="Full name", required=False)
    terms_version = forms.CharField(widget=forms.HiddenInput)
    accept_terms = forms.BooleanField(
        label="I accept the terms of work",
        error_messages={"required": "You must accept the terms of work to sign up."},
    )

    field_order = [
        "email",
        "full_name",
        "password1",
        "password2",
        "country",
        "time_zone",
        "languages",
        "terms_version",
        "accept_terms",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)
        self.terms = terms_current()
        if self.terms is not None:
            self.fields["terms_version"].initial = self.terms.version
            self.fields[
                "accept_terms"
            ].label = f"I accept the terms of work (version {self.terms.version})"

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.terms is None:
            raise forms.ValidationError(
                "Sign-up is closed until the operator publishes terms of work."
            )
        if cleaned.get("accept_terms") and cleaned.get("terms_version") != self.terms.version:
            self.add_error(
                "accept_terms",
                f"The terms changed to version {self.terms.version} while you were reading; please review them.",
            )
        return cleaned

    def save(self, request: HttpRequest) -> Any:
        with transaction.atomic():
            user = super().save(request)
            if self.cleaned_data.get("full_name"):
                user.full_name = self.cleaned_data["full_name"]
                user.save(update_fields=["full_name"])
            annotator_signup_complete(
                user=user,
                country=self.cleaned_data["country"],
                time_zone=self.cleaned_data["time_zone"],
                languages=self.cleaned_data["languages"],
                terms_version=self.cleaned_data["terms_version"],
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        return user


class ProfileForm(ProfileFieldsMixin):
    pass


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=AnnotatorStatus.choices)
    reason = forms.CharField(
        required=False, max_length=300, help_text="Recorded in the audit trail."
    )


class SkillLevelForm(forms.Form):
    skill = forms.ModelChoiceField(queryset=Skill.objects.all(), empty_label="Choose a skill")
    level = forms.IntegerField(min_value=1, max_value=10, initial=1)


class SkillCreateForm(forms.Form):
    slug = forms.SlugField(max_length=60, help_text="Short code, e.g. en-sentiment.")
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
