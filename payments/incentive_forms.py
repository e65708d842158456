"""Forms of the incentive pages: a program, a version and its tier rows. Amounts are typed as
decimal text and read exactly (kit.money.parse_micros); percentages as decimal text read into
parts per million. No float is involved. The rules themselves are checked by the services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings

from kit.money import (
    CURRENCY_EXPONENTS,
    Minor,
    MoneyError,
    format_micros,
    micros_per_minor,
    parse_micros,
)
from labeling.models import Project
from payments.incentive_rules import PPM, BudgetPolicy, RewardKind
from payments.models import IncentivePeriodKind, IncentiveScope
from workforce.models import Team

TIER_ROWS = 5


def minor_of(text: str, currency: str) -> int:
    """Decimal text as whole minor units of `currency`; ValidationError otherwise."""
    try:
        micros = parse_micros(text, currency)
    except MoneyError as exc:
        raise forms.ValidationError(str(exc)) from None
    step = micros_per_minor(currency)
    if micros.amount % step:
        raise forms.ValidationError(f"Use whole minor units of {currency}.")
    return micros.amount // step


def ppm_of(text: str) -> int:
    """A percentage typed as decimal text ("95", "95.5") as parts per million."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise forms.ValidationError("A percentage, e.g. 95 or 97.5.") from None
    scaled = value * 10_000
    if scaled != scaled.to_integral_value() or not value.is_finite():
        raise forms.ValidationError("At most four decimals.")
    return int(scaled)


class ProgramForm(forms.Form):
    name = forms.CharField(max_length=120)
    scope = forms.ChoiceField(choices=IncentiveScope.choices)
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"), required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)
    period = forms.ChoiceField(choices=IncentivePeriodKind.choices)
    currency = forms.ChoiceField(choices=[(c, c) for c in sorted(CURRENCY_EXPONENTS)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.QUORUM_LEDGER_DEFAULT_CURRENCY


class VersionForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (RewardKind.BONUS, "Bonus (a fixed amount)"),
            (RewardKind.MULTIPLIER, "Multiplier (% of the period's earnings)"),
        ]
    )
    cap = forms.CharField(required=False, help_text="Per person and period; empty: no cap.")
    budget = forms.CharField(required=False, help_text="Per period, in all; empty: no budget.")
    budget_policy = forms.ChoiceField(
        choices=[
            (BudgetPolicy.SCALE, "Scale every bonus down to the budget"),
            (BudgetPolicy.STOP, "Pay the best first until the budget is spent"),
        ]
    )
    effective_from = forms.DateTimeField(required=False, help_text="UTC; empty: now.")
    note = forms.CharField(max_length=500, required=False)

    def money(self, name: str, currency: str) -> int | None:
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return None
        try:
            return minor_of(text, currency)
        except forms.ValidationError as exc:
            self.add_error(name, exc)
            return None


class TierForm(forms.Form):
    reward = forms.CharField(
        required=False, help_text="The bonus amount, or the multiplier in % (10 = +10%)."
    )
    min_final_tasks = forms.IntegerField(required=False, min_value=0)
    min_active_minutes = forms.IntegerField(required=False, min_value=0)
    min_gold_low = forms.CharField(required=False, help_text="%")
    min_review_pass = forms.CharField(required=False, help_text="%")
    min_agreement = forms.CharField(required=False, help_text="%")

    def is_blank(self) -> bool:
        return not any(
            (self.cleaned_data or {}).get(name) not in (None, "") for name in self.fields
        )

    def tier(self, kind: str, currency: str) -> dict[str, Any] | None:
        """The tier as the services take it, or None (errors added to the row)."""
        data = self.cleaned_data
        tier: dict[str, Any] = {}
        try:
            text = (data.get("reward") or "").strip()
            if not text:
                raise forms.ValidationError("Give the reward.")
            tier["reward"] = (
                ppm_of(text) if kind == RewardKind.MULTIPLIER else minor_of(text, currency)
            )
        except forms.ValidationError as exc:
            self.add_error("reward", exc)
        for name in ("min_final_tasks", "min_active_minutes"):
            if data.get(name) is not None:
                tier[name] = data[name]
        for field, name in (
            ("min_gold_low", "min_gold_low_ppm"),
            ("min_review_pass", "min_review_pass_ppm"),
            ("min_agreement", "min_agreement_ppm"),
        ):
            text = (data.get(field) or "").strip()
            if text:
                try:
                    tier[name] = ppm_of(text)
                except forms.ValidationError as exc:
                    self.add_error(field, exc)
        return None if self.errors else tier


TierFormSet = forms.formset_factory(TierForm, extra=TIER_ROWS, max_num=TIER_ROWS)


class PeriodForm(forms.Form):
    period_start = forms.DateField(help_text="The first day of the period (UTC).")


def tier_rows_initial(
    tiers: list[dict[str, Any]], kind: str, currency: str
) -> list[dict[str, Any]]:
    """A version's tiers as initial form rows (decimal text, never floats)."""

    def percent(value: int | None) -> str:
        return "" if value is None else format((Decimal(value) / (PPM // 100)).normalize(), "f")

    rows = []
    for tier in tiers:
        reward = (
            percent(tier["reward"])
            if kind == RewardKind.MULTIPLIER
            else format_micros(
                Minor(tier["reward"], currency).to_micros(), with_code=False
            ).replace(",", "")
        )
        rows.append(
            {
                "reward": reward,
                "min_final_tasks": tier.get("min_final_tasks"),
                "min_active_minutes": tier.get("min_active_minutes"),
                "min_gold_low": percent(tier.get("min_gold_low_ppm")),
                "min_review_pass": percent(tier.get("min_review_pass_ppm")),
                "min_agreement": percent(tier.get("min_agreement_ppm")),
            }
        )
    return rows
