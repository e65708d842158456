"""Every measure against the hand-computed dataset of conftest.hand_dataset, read from rollups."""

from datetime import timedelta

import pytest

from quality.models import PersonHour, ProjectHour
from quality.performance.definitions import Costs
from quality.performance.rollups import rollups_rebuild
from quality.performance.selectors import (
    Span,
    customer_measures,
    person_measures,
    project_measures,
    team_measures,
)
from tests.quality.performance.conftest import H

pytestmark = pytest.mark.django_db


@pytest.fixture
def rolled(hand_dataset):
    rollups_rebuild(now=H + timedelta(hours=3))
    return hand_dataset


def only(rows, subject, hour=None):
    [row] = [r for r in rows if r.subject == subject and (hour is None or r.period_start == hour)]
    return row


def test_the_first_hour_of_a_person_has_every_measure_as_computed_by_hand(rolled):
    rows = person_measures(rolled.manager, span=Span.of(H, H + timedelta(hours=2), "hour"))

    m = only(rows, rolled.a.pk, H).measures

    assert m["submissions"] == 4
    assert m["final_tasks"] == 1
    assert m["active_hours"] == pytest.approx(70 / 3600)  # 3 + 7 + 12 + 40 + 8 (skip) + 0
    assert m["submissions_per_active_hour"] == pytest.approx(4 * 3600 / 70)
    assert m["final_tasks_per_active_hour"] == pytest.approx(3600 / 70)
    assert m["time_per_task_median"] == pytest.approx(10.0)
    assert m["time_per_task_p90"] == pytest.approx(39.0)
    assert m["gold_accuracy"] == pytest.approx(0.5)
    assert m["gold_accuracy_low"] == pytest.approx(0.0546, abs=1e-4)  # Wilson, 0.5 of 1
    assert m["gold_accuracy_high"] == pytest.approx(0.9454, abs=1e-4)
    assert m["review_pass_rate"] == pytest.approx(1 / 3)
    assert m["correction_rate"] == pytest.approx(1 / 3)
    assert m["rework_rate"] == pytest.approx(1 / 4)
    assert m["agreement"] == pytest.approx(0.8)
    assert m["skips"] == 1
    assert m["lease_expiries"] == 1
    assert m["cost_per_final_task_minor"] is None


def test_a_day_adds_the_hours_and_their_histograms(rolled):
    rows = person_measures(rolled.manager, span=Span.of(H, H + timedelta(hours=2), "day"))

    m = only(rows, rolled.a.pk).measures

    assert m["submissions"] == 5
    assert m["time_per_task_median"] == pytest.approx(12.5)  # rank 2.5 in [10, 15)
    assert m["time_per_task_p90"] == 3600.0  # rank 4.5 in the open bucket


def test_review_time_is_not_annotation_time(rolled):
    assert not PersonHour.objects.exclude(user__in=[rolled.a, rolled.b, rolled.c]).exists()


def test_a_team_is_the_sum_of_its_members(rolled):
    [row] = team_measures(rolled.manager, span=Span.of(H, H + timedelta(hours=2), "all"))

    assert row.measures["submissions"] == 6  # A's 5 and B's 1
    assert row.measures["final_tasks"] == 2  # each member's share of task 1
    assert row.measures["agreement"] == pytest.approx(0.7)


def test_a_project_counts_a_final_task_once_however_many_labeled_it(rolled, settings):
    rows = project_measures(rolled.manager, span=Span.of(H, H + timedelta(hours=2), "all"))

    row = only(rows, rolled.project.pk)

    assert row.measures["final_tasks"] == 1
    assert row.measures["submissions"] == 6
    assert ProjectHour.objects.get(project=rolled.project).final_tasks == 1


def test_costs_given_by_a_caller_price_the_rows_and_nothing_else_does(rolled):
    asked = []

    def costs_of(kind, subject, start, end):
        asked.append((kind, subject, start, end))
        return Costs(currency="USD", cost_minor=1250, earnings_minor=700)

    span = Span.of(H, H + timedelta(hours=2), "all")
    [row] = project_measures(
        rolled.manager, span=span, project_id=rolled.project.pk, costs_of=costs_of
    )

    assert row.measures["cost_per_final_task_minor"] == 1250  # one final task
    # A: 70 s + 4000 s, B: 20 s; 700 * 3600 / 4090 = 616.1
    assert row.measures["earnings_per_active_hour_minor"] == 616
    assert asked == [("project", rolled.project.pk, span.since, span.until)]


def test_a_customer_row_sums_its_projects_and_counts_final_tasks_once(rolled):
    [row] = customer_measures(rolled.customer_user, span=Span.of(H, H + timedelta(hours=2), "all"))

    assert row.subject == rolled.project.customer_id
    assert row.measures["submissions"] == 6
    assert row.measures["final_tasks"] == 1
