"""A team's measures are summed in the database (one grouped statement): they equal the sum of
its current members' own measures for every grain, and the statements do not grow with members."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from quality.performance.definitions import TIME_BUCKETS, counters_sum
from quality.performance.models import PersonHour
from quality.performance.selectors import Span, person_measures, team_measures
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project, make_worker

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)  # a Sunday evening: days and weeks turn over


def work(person, project, hour, rng):
    histogram = [0] * TIME_BUCKETS
    submissions = rng.randint(1, 9)
    for _ in range(submissions):
        histogram[rng.randrange(TIME_BUCKETS)] += 1
    PersonHour.objects.create(
        user=person,
        project=project,
        hour=hour,
        submissions=submissions,
        reworks=rng.randint(0, 2),
        final_tasks=rng.randint(0, submissions),
        active_seconds=rng.randint(60, 3600),
        gold_scored=rng.randint(0, 3),
        gold_score_micros=rng.randint(0, 3_000_000),
        reviews_passed=rng.randint(0, 3),
        reviews_failed=rng.randint(0, 2),
        corrections=rng.randint(0, 1),
        agreement_count=rng.randint(0, 4),
        agreement_micros=rng.randint(0, 4_000_000),
        skips=rng.randint(0, 2),
        lease_expiries=rng.randint(0, 1),
        time_histogram=histogram,
    )


@pytest.fixture
def world():
    rng = random.Random(15)
    admin = make_user(Role.ADMIN, mfa=True)
    people = [make_worker() for _ in range(5)]
    loner = make_worker()  # in no team: in no team's sums
    day = make_team("Day", members=people[:3])
    night = make_team("Night", members=people[3:])
    projects = [make_project(), make_project()]
    for person in [*people, loner]:
        for _ in range(6):
            hour = START + timedelta(hours=rng.randrange(0, 24 * 9))
            project = rng.choice(projects)
            if not PersonHour.objects.filter(user=person, project=project, hour=hour).exists():
                work(person, project, hour, rng)
    return admin, {day.pk: people[:3], night.pk: people[3:]}, projects


def expected(admin, teams, span, project_id=None):
    """Each team's counters per period, summed in Python from its members' own rows."""
    parts = defaultdict(list)
    for team_id, members in teams.items():
        for member in members:
            for row in person_measures(
                admin, span=span, person_id=member.pk, project_id=project_id
            ):
                parts[(team_id, row.period_start, row.period_end)].append(row.counters)
    return {key: counters_sum(counters) for key, counters in parts.items()}


@pytest.mark.parametrize("grain", ["hour", "day", "week", "all"])
def test_a_team_is_the_sum_of_its_members_in_every_grain(world, grain):
    admin, teams, _ = world
    span = Span.of(START, START + timedelta(days=9), grain)

    rows = team_measures(admin, span=span)

    got = {(row.subject, row.period_start, row.period_end): row.counters for row in rows}
    assert got == expected(admin, teams, span)
    assert len(got) > len(teams) or grain == "all"


def test_a_team_in_one_project_sums_only_that_projects_work(world):
    admin, teams, projects = world
    span = Span.of(START, START + timedelta(days=9), "day")

    rows = team_measures(admin, span=span, project_id=projects[0].pk)

    got = {(row.subject, row.period_start, row.period_end): row.counters for row in rows}
    assert got == expected(admin, teams, span, project_id=projects[0].pk)


def test_a_period_cut_short_leaves_the_rest_out(world):
    admin, teams, _ = world
    span = Span.of(START + timedelta(days=2), START + timedelta(days=4), "all")

    [day, _] = sorted(team_measures(admin, span=span), key=lambda row: row.name)

    assert day.counters == expected(admin, teams, span)[(day.subject, span.since, span.until)]


def test_the_statements_do_not_grow_with_members_or_rows():
    admin = make_user(Role.ADMIN, mfa=True)
    project = make_project()
    rng = random.Random(3)
    few = [make_worker() for _ in range(2)]
    make_team("Few", members=few)
    for person in few:
        work(person, project, START, rng)
    span = Span.of(START, START + timedelta(days=1), "day")
    team_measures(admin, span=span)  # the viewer's roles are read once and kept on them
    with CaptureQueriesContext(connection) as small:
        team_measures(admin, span=span)
    many = [make_worker() for _ in range(20)]
    make_team("Many", members=many)
    for person in many:
        for hours in range(3):
            work(person, project, START + timedelta(hours=hours), rng)

    with CaptureQueriesContext(connection) as large:
        rows = team_measures(admin, span=span)

    assert len(rows) == 2
    assert len(large.captured_queries) == len(small.captured_queries)
    assert len(large.captured_queries) == 2  # the teams, and the one grouped sum
