"""The forms finance sets rate cards with: a version (when, currency, note) and its rate rows, and
the preview's question (which project, which person)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.converters import MAX_ID
from kit.money import CURRENCY_EXPONENTS, Micros, MoneyError, format_micros, parse_micros
from payments.models import MAX_SKILL_LEVEL, RateUnit, WorkKind
from payments.services.rates import NOTE_MAX, RateSpec
from workforce.selectors.tiers import (
    ANNOTATOR,
    LEAD,
    reviewer_tier,
    tier_label,
    tier_max_review_level,
)

BLANK_ROWS = 4


def rate_tier_choices() -> list[tuple[str, str]]:
    """Any tier, then every tier lowest first."""
    tiers = [ANNOTATOR, *(reviewer_tier(k) for k in range(1, tier_max_review_level() + 1)), LEAD]
    return [("", "Any tier"), *((tier, tier_label(tier)) for tier in tiers)]


def _currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(CURRENCY_EXPONENTS)]


class RateVersionForm(forms.Form):
    effective_from = forms.DateTimeField(
        required=False,
        label="Effective from (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now. Never before now: work already done keeps the rates it had.",
    )
    currency = forms.ChoiceField(choices=_currency_choices, initial="USD")
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        label="Note",
        help_text="Why the rates change (shown in the history).",
    )


class RateRowForm(forms.Form):
    """One rate; a row left without a kind and an amount is ignored."""

    work_kind = forms.ChoiceField(
        choices=[("", "—"), *WorkKind.choices], required=False, label="Work"
    )
    review_level = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=99,
        label="Review level",
        help_text="Review only; 0: any level.",
    )
    tier = forms.ChoiceField(choices=rate_tier_choices, required=False, label="Tier")
    min_skill_level = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SKILL_LEVEL,
        label="Skill level at least",
        help_text="In the project's skill; 0: any.",
    )
    unit = forms.ChoiceField(choices=RateUnit.choices, label="Paid")
    amount = forms.CharField(
        required=False,
        max_length=30,
        label="Amount",
        help_text="In the version's currency, up to 6 decimals (e.g. 0.0035).",
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("work_kind") and not (data.get("amount") or "").strip()

    def rate_spec(self, currency: str) -> RateSpec | None:
        """The rate of this row in `currency`, or None (with the errors on the row's fields)."""
        data = self.cleaned_data
        if not data.get("work_kind"):
            self.add_error("work_kind", "Choose the kind of work this rate pays.")
        try:
            amount = parse_micros(data.get("amount") or "", currency)
        except MoneyError as exc:
            self.add_error("amount", str(exc))
            return None
        if not data.get("work_kind"):
            return None
        return RateSpec(
            work_kind=data["work_kind"],
            unit=data["unit"],
            amount_micros=amount.amount,
            review_level=data.get("review_level") or 0,
            tier=data.get("tier") or "",
            min_skill_level=data.get("min_skill_level") or 0,
        )


RateRowFormSet = forms.formset_factory(RateRowForm, extra=BLANK_ROWS, max_num=200)


def rate_rows_initial(rates: Any, currency: str) -> list[dict[str, Any]]:
    """The rows of an existing version, to start the next one from (amounts as typed text)."""
    return [
        {
            "work_kind": rate.work_kind,
            "review_level": rate.review_level,
            "tier": rate.tier,
            "min_skill_level": rate.min_skill_level,
            "unit": rate.unit,
            "amount": format_micros(Micros(rate.amount_micros, currency), with_code=False),
        }
        for rate in rates
    ]


class RatePreviewForm(forms.Form):
    project = forms.IntegerField(min_value=1, max_value=MAX_ID, label="Project (id)")
    person = forms.CharField(
        max_length=254, label="Person", help_text="Their e-mail address or user id."
    )
