from __future__ import annotations

from django import forms

from core.converters import MAX_ID
from payments.models import StripeEventStatus


class LedgerFilterForm(forms.Form):
    person = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, label="Person (user id)"
    )
    account = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, label="Account (id)"
    )
    source = forms.CharField(required=False, max_length=200, label="Source key starts with")


class StripeEventFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *StripeEventStatus.choices]
    )
    type = forms.CharField(required=False, max_length=100, label="Type starts with")
    search = forms.CharField(required=False, max_length=255, label="Event, object or account id")
