"""Hand data of the people dashboards' tests: hourly rollup rows written as the rollup job would
(the rollups themselves are tested in tests/quality/performance), two teams with their managers,
a skill, standings, and two projects.

Hours are two days back from now, so the default period (the last 7 days) holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Role
from labeling.models import Project
from quality.performance.definitions import TIME_BUCKETS
from quality.performance.models import PersonHour
from quality.performance.rollups import hour_floor
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project, make_worker
from workforce.models import AnnotatorStatus, Skill, Team
from workforce.services import skill_create
from workforce.services.teams import team_member_add


def base_hour() -> datetime:
    """An hour two days back, the first hour of the hand data."""
    return hour_floor(timezone.now()) - timedelta(days=2)


def histogram(**buckets: int) -> list[int]:
    """A time histogram with `b<i>=count` set, e.g. histogram(b2=3)."""
    counts = [0] * TIME_BUCKETS
    for name, count in buckets.items():
        counts[int(name[1:])] = count
    return counts


def rollup(person: Any, project: Project, hour: datetime, **counters: Any) -> PersonHour:
    """One person-hour row as the rollup job writes it."""
    counters.setdefault("time_histogram", [0] * TIME_BUCKETS)
    return PersonHour.objects.create(user=person, project=project, hour=hour, **counters)


@dataclass
class World:
    manager: Any
    other_manager: Any
    admin: Any
    team: Team
    other_team: Team
    a: Any
    b: Any
    c: Any
    d: Any
    p1: Project
    p2: Project
    skill: Skill
    hour: datetime


def make_world() -> World:
    """The manager's team holds A (active, skilled), B (probation) and D (active, no work);
    the other team holds C. Over two days:

    - A: 10 submissions, 6 final tasks in p1 on day 0 (gold 4 scored, 3.0 right), 2 final tasks
      in p2 on day 1; 3600 s active; reviews 3 passed 1 failed.
    - B: 4 submissions, 1 final task in p1 on day 0 (gold 2 scored, 2.0 right); 1800 s active;
      no reviews.
    - C: 20 submissions, 9 final tasks in p1 (another team: never in the manager's views).
    """
    skill = skill_create(slug="ner", name="Named entities", actor=None)
    a = make_worker(skill=skill, email="a@example.test")
    b = make_worker(status=AnnotatorStatus.PROBATION, email="b@example.test")
    c = make_worker(email="c@example.test")
    d = make_worker(email="d@example.test")
    manager = make_user(Role.MANAGER, mfa=True)
    other_manager = make_user(Role.MANAGER, mfa=True)
    admin = make_user(Role.ADMIN, mfa=True)
    team = make_team("Alpha", managers=[manager], members=[a, b, d])
    other_team = make_team("Beta", managers=[other_manager], members=[c])
    p1, p2 = make_project(), make_project()
    hour = base_hour()
    rollup(
        a,
        p1,
        hour,
        submissions=8,
        final_tasks=6,
        active_seconds=2400,
        gold_scored=4,
        gold_score_micros=3_000_000,
        reviews_passed=3,
        reviews_failed=1,
        time_histogram=histogram(b2=6, b4=2),
    )
    rollup(
        a,
        p2,
        hour + timedelta(days=1),
        submissions=2,
        final_tasks=2,
        active_seconds=1200,
        time_histogram=histogram(b5=2),
    )
    rollup(
        b,
        p1,
        hour + timedelta(hours=1),
        submissions=4,
        final_tasks=1,
        active_seconds=1800,
        gold_scored=2,
        gold_score_micros=2_000_000,
        time_histogram=histogram(b6=4),
    )
    rollup(
        c,
        p1,
        hour,
        submissions=20,
        final_tasks=9,
        active_seconds=3600,
        time_histogram=histogram(b1=20),
    )
    return World(
        manager=manager,
        other_manager=other_manager,
        admin=admin,
        team=team,
        other_team=other_team,
        a=a,
        b=b,
        c=c,
        d=d,
        p1=p1,
        p2=p2,
        skill=skill,
        hour=hour,
    )


def add_people(manager_team: Team, n: int, project: Project, hour: datetime) -> list[Any]:
    """`n` more people in the team, each with one rollup row (for pagination and query counts)."""
    people = []
    for i in range(n):
        person = make_worker()
        team_member_add(team=manager_team, user=person, actor=None)
        rollup(
            person,
            project,
            hour,
            submissions=i + 1,
            final_tasks=i % 7,
            active_seconds=60 * (i + 1),
            time_histogram=histogram(b3=i + 1),
        )
        people.append(person)
    return people
