"""The form a manager moves a person to another tier with, on the person's page."""

from __future__ import annotations

from django import forms

from workforce.selectors.tiers import (
    ANNOTATOR,
    LEAD,
    reviewer_tier,
    tier_label,
    tier_max_review_level,
)
from workforce.services.tier_moves import TIER_REASON_MAX


def tier_choices() -> list[tuple[str, str]]:
    """Every tier, lowest first: annotator, each reviewer level, lead."""
    tiers = [ANNOTATOR, *(reviewer_tier(k) for k in range(1, tier_max_review_level() + 1)), LEAD]
    return [(tier, tier_label(tier)) for tier in tiers]


class TierMoveForm(forms.Form):
    tier = forms.ChoiceField(choices=tier_choices, label="Move to tier")
    reason = forms.CharField(
        max_length=TIER_REASON_MAX,
        label="Reason",
        help_text="Required: the person is told.",
    )
