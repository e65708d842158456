"""Demo of a lead granted by hand (idempotent): the Day shift's manager makes the shift's lead a
Lead tier with a reason, so the person page shows the tier, the audit has the move and the lead
has the "Promoted to Lead" notification.

Call `demo_gaps_seed()` from `demo.services.demo_seed` after `demo_teams_seed` (the manager must
manage the lead's team) and `demo_standing_seed` (a tier computed there is superseded here).
"""

from __future__ import annotations

from accounts.models import User
from workforce.selectors.tiers import LEAD, tier_of
from workforce.services.tier_moves import tier_move

DAY_MANAGER = "manager@demo.quorum"
DAY_LEAD = "lead@demo.quorum"
LEAD_REASON = "Leads the Day shift: answers questions and checks new people's first tasks."


def demo_gaps_seed() -> list[str]:
    """Grant the Day shift's lead the Lead tier once; return what was created."""
    manager = User.objects.filter(email=DAY_MANAGER).first()
    lead = User.objects.filter(email=DAY_LEAD).first()
    if manager is None or lead is None or tier_of(user=lead) == LEAD:
        return []
    tier_move(user=lead, tier=LEAD, actor=manager, reason=LEAD_REASON)
    return [f"tier: {DAY_LEAD} made Lead by {DAY_MANAGER}"]
