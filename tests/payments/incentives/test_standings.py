"""Where a person stands in the programs that apply to them, so far this period: the tiers'
thresholds against the figures the close will read (shown on the annotator's My performance)."""

from datetime import timedelta

import pytest

from payments.selectors.incentives import incentive_standings_of
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project, make_worker
from tests.payments.incentives.helpers import WEEK, program, work

pytestmark = pytest.mark.django_db
NOW = WEEK + timedelta(days=2)


def test_a_person_sees_each_tier_against_their_figures_so_far():
    person, project = make_user(), make_project()
    program(
        tiers=[
            {"reward": 500, "min_final_tasks": 10},
            {"reward": 2_000, "min_final_tasks": 40, "min_gold_low_ppm": 900_000},
        ]
    )
    work(person, project, hour=WEEK + timedelta(hours=3), final_tasks=12, gold_scored=3)

    (standing,) = incentive_standings_of(user_id=person.pk, at=NOW)

    assert (standing.starts_at, standing.ends_at) == (WEEK, WEEK + timedelta(days=7))
    first, second = standing.tiers
    assert first.met and (first.reward, first.number) == (500, 1)
    (tasks,) = first.thresholds
    assert (tasks.label, tasks.required, tasks.actual) == ("final tasks", 10, 12)
    assert not second.met
    assert [t.met for t in second.thresholds] == [False, False]


def test_work_of_an_earlier_period_does_not_count():
    person, project = make_user(), make_project()
    program(tiers=[{"reward": 500, "min_final_tasks": 10}])
    work(person, project, hour=WEEK - timedelta(hours=3), final_tasks=50)

    (standing,) = incentive_standings_of(user_id=person.pk, at=NOW)

    assert standing.tiers[0].thresholds[0].actual == 0
    assert not standing.tiers[0].met


def test_only_the_programs_that_apply_to_the_person_are_listed():
    person, project, other_project = make_worker(), make_project(), make_project()
    team, other_team = make_team(members=[person]), make_team()
    program(scope="team", team=team)
    program(scope="team", team=other_team)
    program(scope="project", project=other_project)
    program(scope="project", project=project)
    work(person, project, hour=WEEK + timedelta(hours=3), final_tasks=1)

    standings = incentive_standings_of(user_id=person.pk, at=NOW)

    assert sorted(
        (s.program.scope, s.program.team_id, s.program.project_id) for s in standings
    ) == [
        ("project", None, project.pk),
        ("team", team.pk, None),
    ]
