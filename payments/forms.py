from __future__ import annotations

from django import forms
from django_countries import countries

from core.converters import MAX_ID
from kit.money import CURRENCY_EXPONENTS
from payments.models import PayoutProvider, StripeEventStatus


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


def _country_choices() -> list[tuple[str, str]]:
    return [("", "Choose…"), *((code, str(name)) for code, name in countries)]


def _currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(CURRENCY_EXPONENTS)]


_NO_AUTOFILL = {"autocomplete": "off", "spellcheck": "false"}


class BankDetailsForm(forms.Form):
    """New bank details. Which fields apply depends on the bank's country; the service checks
    them (payments/bank_validation.py) and names the field that is wrong."""

    country = forms.ChoiceField(label="Country of the bank account", choices=_country_choices)
    currency = forms.ChoiceField(label="Currency you are paid in", choices=_currency_choices)
    holder_name = forms.CharField(
        label="Account holder's name", max_length=140, help_text="As your bank knows it."
    )
    iban = forms.CharField(
        label="IBAN",
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs=_NO_AUTOFILL),
        help_text="Countries that use IBANs (most of Europe, the Middle East, Brazil...).",
    )
    routing_number = forms.CharField(
        label="Routing number (ABA)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs=_NO_AUTOFILL),
        help_text="United States: the 9 digits of your bank's routing number.",
    )
    sort_code = forms.CharField(
        label="Sort code",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs=_NO_AUTOFILL),
        help_text="United Kingdom: 6 digits, e.g. 20-00-00.",
    )
    account_number = forms.CharField(
        label="Account number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs=_NO_AUTOFILL),
        help_text="United States, United Kingdom, and countries without IBANs.",
    )
    bic = forms.CharField(
        label="SWIFT/BIC code",
        required=False,
        max_length=15,
        widget=forms.TextInput(attrs=_NO_AUTOFILL),
        help_text="Countries without IBANs (optional with an IBAN).",
    )

    DETAIL_FIELDS = ("holder_name", "iban", "routing_number", "sort_code", "account_number", "bic")


class CountryProvidersForm(forms.Form):
    country = forms.ChoiceField(choices=_country_choices)
    providers = forms.MultipleChoiceField(
        choices=PayoutProvider.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: people with a bank in this country cannot add a payout account.",
    )
