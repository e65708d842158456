"""A project's pace, ETA and lateness (quality.performance.pace) on hand-computed figures."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import NotFound
from quality.performance.models import ProjectHour
from quality.performance.pace import PaceStatus, finals_in_window, pace_of, project_pace_get
from tests.labeling.factories import make_customer_user, make_project

NOW = datetime(2026, 11, 20, 14, 20, tzinfo=UTC)


def test_48_final_tasks_in_24_hours_is_2_an_hour_so_10_left_take_5_hours():
    pace = pace_of(project_id=1, final_tasks_in_window=48, remaining=10, deadline=None, now=NOW)

    assert pace.per_hour == 2
    assert pace.eta == NOW + timedelta(hours=5)
    assert pace.status == PaceStatus.NO_DEADLINE
    assert not pace.is_late


def test_an_eta_after_the_deadline_is_late_and_one_on_it_is_on_time():
    late = pace_of(
        project_id=1,
        final_tasks_in_window=48,
        remaining=10,
        deadline=NOW + timedelta(hours=4, minutes=59),
        now=NOW,
    )
    on_time = pace_of(
        project_id=1,
        final_tasks_in_window=48,
        remaining=10,
        deadline=NOW + timedelta(hours=5),
        now=NOW,
    )

    assert late.status == PaceStatus.LATE and late.is_late
    assert on_time.status == PaceStatus.ON_TIME and not on_time.is_late


def test_the_eta_is_rounded_up_to_the_second_in_integers():
    # 1 task at 7 per 24 h: 86400 / 7 = 12342.857... s, so 12343 s.
    pace = pace_of(project_id=1, final_tasks_in_window=7, remaining=1, deadline=None, now=NOW)

    assert pace.eta == NOW + timedelta(seconds=12343)


def test_without_final_tasks_in_the_window_there_is_no_pace_and_no_eta():
    pace = pace_of(
        project_id=1,
        final_tasks_in_window=0,
        remaining=10,
        deadline=NOW + timedelta(days=3),
        now=NOW,
    )

    assert pace.per_hour is None
    assert pace.eta is None
    assert pace.status == PaceStatus.NO_PACE
    assert not pace.is_late


def test_a_passed_deadline_with_work_left_is_late_even_without_a_pace():
    pace = pace_of(
        project_id=1,
        final_tasks_in_window=0,
        remaining=1,
        deadline=NOW - timedelta(hours=1),
        now=NOW,
    )

    assert pace.status == PaceStatus.LATE


def test_a_project_with_nothing_left_is_done_and_never_late():
    pace = pace_of(
        project_id=1,
        final_tasks_in_window=0,
        remaining=0,
        deadline=NOW - timedelta(days=1),
        now=NOW,
    )

    assert pace.status == PaceStatus.DONE
    assert pace.eta is None


@pytest.mark.django_db
def test_the_window_is_the_24_whole_hours_before_the_current_hour():
    project = make_project()
    start = datetime(2026, 11, 19, 14, tzinfo=UTC)  # floor(now) - 24 h: in
    for hour, n in (
        (start - timedelta(hours=1), 100),  # 13:00 the day before: out
        (start, 5),
        (datetime(2026, 11, 20, 13, tzinfo=UTC), 7),  # the last whole hour: in
        (datetime(2026, 11, 20, 14, tzinfo=UTC), 1000),  # the current hour: out
    ):
        ProjectHour.objects.create(project=project, hour=hour, final_tasks=n)

    assert finals_in_window([project.pk], now=NOW) == {project.pk: 12}


@pytest.mark.django_db
def test_a_customer_reads_the_pace_of_their_own_project_only():
    mine, theirs = make_project(), make_project()
    viewer = make_customer_user(mine.customer)

    assert project_pace_get(viewer, project_id=mine.pk, now=NOW).project_id == mine.pk
    with pytest.raises(NotFound):
        project_pace_get(viewer, project_id=theirs.pk, now=NOW)
