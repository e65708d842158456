"""My performance: a person's own measures over time against the thresholds that matter to them,
never anyone else's."""

from datetime import timedelta

import pytest

from accounts.models import Role
from tests.dashboards.people_data import make_world
from tests.factories import make_user
from tests.quality.factories import spam_rule

pytestmark = pytest.mark.django_db
URL = "/dashboards/me/"


@pytest.fixture
def world():
    return make_world()


def values(response):
    return {d.name: v for d, v in response.context["measures"]}


def test_a_person_sees_their_own_measures(client, world):
    client.force_login(world.a)

    response = client.get(URL)

    assert response.status_code == 200
    shown = values(response)
    assert shown["submissions"] == "10"
    assert shown["final_tasks"] == "8"
    assert shown["gold_accuracy"] == "75.0%"


def test_nobody_elses_work_is_counted(client, world):
    client.force_login(world.c)

    response = client.get(URL)

    assert values(response)["submissions"] == "20"
    assert sum(response.context["chart"]["submissions"]) == 20


def test_a_person_on_probation_sees_its_lines(client, world, settings):
    settings.QUORUM_PROBATION_PASS_LOWER = 0.8
    client.force_login(world.b)

    response = client.get(URL)

    labels = [t["label"] for t in response.context["chart"]["thresholds"]]
    assert "Probation: pass line" in labels
    assert {"label": "Probation: pass line", "value": 0.8} in response.context["chart"][
        "thresholds"
    ]
    assert "You leave probation" in response.content.decode()


def test_a_person_sees_the_promotion_line(client, world):
    client.force_login(world.a)

    response = client.get(URL)

    assert response.context["standing"]["next_tier"] is not None
    assert 'id="promotion"' in response.content.decode()


def test_the_quality_rules_of_their_projects_are_shown(client, world):
    rule = spam_rule(world.manager)
    client.force_login(world.a)

    response = client.get(URL)

    assert [r.name for r in response.context["rules"]] == [rule.name]


def test_people_who_do_not_label_are_refused(client, world):
    client.force_login(make_user(Role.CUSTOMER, mfa=True))

    assert client.get(URL).status_code == 403


def test_without_a_program_no_bonus_thresholds_are_shown(client, world):
    client.force_login(world.a)

    response = client.get(URL)

    assert response.context["incentive_thresholds"] == []
    assert 'id="thresholds-incentives"' not in response.content.decode()


def test_a_person_sees_the_bonus_tiers_against_their_figures_this_period(client, world):
    from django.utils import timezone

    from tests.payments.incentives.helpers import program

    program(
        tiers=[
            {"reward": 1_250, "min_final_tasks": 1},
            {"reward": 5_000, "min_final_tasks": 10**6},
        ],
        now=timezone.now() - timedelta(days=30),
    )
    client.force_login(world.a)

    response = client.get(URL)

    (shown,) = response.context["incentive_thresholds"]
    assert [tier["reward"] for tier in shown["tiers"]] == ["12.50 USD bonus", "50.00 USD bonus"]
    assert shown["tiers"][1]["met"] is False
    assert shown["tiers"][1]["thresholds"][0]["line"] == "1,000,000"
    assert 'id="thresholds-incentives"' in response.content.decode()


def test_a_person_downloads_their_own_days_and_nobody_elses(client, world):
    client.force_login(world.a)

    own = client.get(f"/dashboards/people/{world.a.pk}/days.csv")
    other = client.get(f"/dashboards/people/{world.b.pk}/days.csv")

    assert own.status_code == 200
    assert len(own.content.decode().strip().splitlines()) == 3  # header and two days
    assert other.status_code == 404
