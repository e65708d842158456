"""The demo teams seed: two teams with a manager each, and a project limited to one of them."""

import pytest

from demo.services import DEMO_TOTP_SECRET, demo_seed
from demo.teams import LIMITED_PROJECT, demo_teams_seed
from labeling.models import Project
from workforce.models import Team

pytestmark = pytest.mark.django_db


def test_the_demo_teams_seed_makes_two_managed_teams_and_runs_again_safely():
    first = demo_seed().created  # demo_seed calls demo_teams_seed
    again = demo_teams_seed(totp_secret=DEMO_TOTP_SECRET)

    assert {"Day shift", "Night shift", LIMITED_PROJECT} <= set(first)
    assert again == []
    for team in Team.objects.all():
        assert team.manager_assignments.count() == 1
    assert list(Project.objects.get(name=LIMITED_PROJECT).teams.values_list("name", flat=True)) == [
        "Day shift"
    ]
