"""Template tags of a person's standing on the managers' person page (workforce records only)."""

from __future__ import annotations

from typing import Any

from django import template

from workforce.selectors.tiers import (
    standing_decisions_of,
    tier_candidate_pending_of,
    tier_label,
    tier_of,
)
from workforce.tier_forms import TierMoveForm

register = template.Library()

DECISIONS_SHOWN = 10


@register.simple_tag
def person_standing(person: Any) -> dict[str, Any]:
    """The person's tier, their pending tier candidate, their latest standing decisions and the
    form a manager moves them to another tier with."""
    tier = tier_of(user=person)
    return {
        "tier": tier,
        "tier_label": tier_label(tier),
        "pending": tier_candidate_pending_of(user=person),
        "decisions": list(standing_decisions_of(user=person)[:DECISIONS_SHOWN]),
        "tier_form": TierMoveForm(initial={"tier": tier}),
    }
