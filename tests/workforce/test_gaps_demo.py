"""The demo's lead granted by hand: once, by the Day shift's manager, with the person told."""

import pytest

from demo.gaps import DAY_LEAD, demo_gaps_seed
from demo.services import demo_seed
from workforce.models import Notification
from workforce.selectors.tiers import tier_of

pytestmark = pytest.mark.django_db


def test_the_demo_makes_the_day_shifts_lead_a_lead_once():
    first = demo_seed().created  # grants the lead among the rest
    again = demo_gaps_seed()

    lead = Notification.objects.filter(user__email=DAY_LEAD, kind="promoted").get()
    assert first and again == []
    assert tier_of(user=lead.user) == "lead"
    assert lead.title == "Promoted to Lead"
