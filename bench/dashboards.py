"""Benchmark the people dashboards over HTTP, on PostgreSQL, at a million annotations.

Steps, each printing what it did:

1. Recreate a database of its own (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/quorum_bench_dashboards) and migrate it.
2. Seed BENCH_PEOPLE (10,000) annotators in BENCH_PEOPLE / 100 teams, BENCH_PROJECTS (100)
   projects, and BENCH_ANNOTATIONS (1,000,000) annotations over BENCH_DAYS (90) days in bulk
   inserts of 5,000 rows (the ORM's bulk_create: the rows the queue would write, with every
   column's default): per annotation a task made final a minute later, its work slot (done) and
   the lease it was submitted under (its active time); one in 20 is a gold answer scored 1 or 0,
   one in 10 is reviewed (approved 4 times in 5). Activity is heavy-tailed: person i's share is
   proportional to 1 / (i + 10) ** 0.9 (a Zipf-like tail: a few people do much, most little),
   in sessions of 10 to 60 annotations within one hour of one of their two or three projects.
3. Build the rollups the way the product does: `manage.py rollups_rebuild` (then the catch-up
   job once, which sets the watermark), timed. Nothing is analysed by hand: the jobs refresh
   the planner's statistics of what they read and write when stale, as they do in production.
4. Serve the app with gunicorn (config.wsgi, gthread) with PostgreSQL and Redis (cache and
   sessions; BENCH_REDIS_URL, default redis://127.0.0.1:6379/14) and time, as an administrator
   (who sees every person: the largest table) and as a manager of 10 teams:
   - the manager overview ("dashboards:overview") when that URL exists, else a printed note;
   - the people table, 50 rows, once per sort (every measure both ways, 36 sorts) per round;
   - a person's page (the most active person and a median one);
   - the teams side by side over 30 days (printed, not budgeted: the issue budgets the three
     pages above).
   BENCH_ROUNDS (5) rounds after a first (cold) round, printed on its own: the first request
   of a sort after a rollup run reads everyone's sums (the administrator's cold round also
   warms the manager's, the sums being the same before scope); p50 and p95 per page of the
   rounds after it against the 300 ms budget, and the statements each page runs (counted
   in-process with the same view and viewer: HTTP has no window on them).
5. Print the machine, its load before and after, and the size of the data.

Run: `.venv/bin/python bench/dashboards.py [--report-only] [--keep-db]`. Do not run it at full
size on a shared machine while others work: BENCH_ANNOTATIONS=20000 proves it works.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where bench/queue.py would shadow the
# standard library's `queue`: take it off and put the project root first (as bench/queue.py does).
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import http.client
import math
import os
import random
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._support import (
    ROOT,
    Budget,
    at_most,
    budgets_print,
    database_drop,
    database_recreate,
    load_average,
    machine_lines,
    percentile,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench_dashboards"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
BUDGET_MS = 300.0
BATCH = 5_000


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(value) if value else default


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str
    annotations: int
    people: int
    projects: int
    days: int
    rounds: int
    workers: int
    threads: int
    report_only: bool
    keep_db: bool


def parse_config(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-only", action="store_true", help="exit 0 whatever the figures")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database")
    args = parser.parse_args(argv)
    return Config(
        database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        redis_url=os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
        annotations=_env_int("BENCH_ANNOTATIONS", 1_000_000),
        people=_env_int("BENCH_PEOPLE", 10_000),
        projects=_env_int("BENCH_PROJECTS", 100),
        days=_env_int("BENCH_DAYS", 90),
        rounds=_env_int("BENCH_ROUNDS", 5),
        workers=_env_int("BENCH_WORKERS", os.cpu_count() or 2),
        threads=_env_int("BENCH_THREADS", 4),
        report_only=args.report_only,
        keep_db=args.keep_db,
    )


def app_env(config: Config, workdir: Path) -> dict[str, str]:
    """The environment of every Quorum process of the run (production settings)."""
    import base64

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": config.database_url,
            "DEBUG": "false",
            "SECRET_KEY": f"bench-{secrets.token_urlsafe(32)}",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "MEDIA_ROOT": str(workdir / "media"),
            "REDIS_URL": config.redis_url,
            "CACHE_KEY_PREFIX": "quorum-bench-dashboards",
            "EMAIL_URL": "dummymail://",
            "PAYOUT_DETAILS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    return env


def timed(label: str, started: float) -> None:
    print(f"  {label}: {time.monotonic() - started:.1f} s", flush=True)


# --- Seeding ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    admin: Any
    manager: Any
    busiest: int
    median: int
    people: int
    annotations: int


def _activity(config: Config, rng: random.Random) -> list[int]:
    """How many annotations each person makes: a Zipf-like tail summing to the total."""
    weights = [1 / (i + 10) ** 0.9 for i in range(config.people)]
    total = sum(weights)
    counts = [math.floor(config.annotations * w / total) for w in weights]
    for i in range(config.annotations - sum(counts)):
        counts[i % config.people] += 1
    rng.shuffle(counts)
    return counts


def seed(config: Config) -> Seeded:
    """Seed people, teams, projects and the raw work (see the module docstring)."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Role, User
    from accounts.services import RoleSpec, user_create
    from labeling.models import (
        Annotation,
        AnnotationStatus,
        GoldScore,
        Lease,
        LeaseState,
        Review,
        SlotKind,
        SlotState,
        Task,
        TaskStatus,
        Verdict,
        WorkSlot,
    )
    from labeling.services.projects import customer_create, project_create
    from workforce.models import AnnotatorProfile, AnnotatorStatus, Team, TeamMembership
    from workforce.services.teams import team_manager_assign

    rng = random.Random(15)  # test data, not secrets
    started = time.monotonic()
    customer = customer_create(name="Bench customer", actor=None)
    projects = [
        project_create(
            customer=customer,
            name=f"Project {i + 1}",
            actor=None,
            status="active",
            task_type="single_label",
            labels=["cat", "dog", "bird"],
        ).pk
        for i in range(config.projects)
    ]
    timed(f"{config.projects} projects (services)", started)

    started = time.monotonic()
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(email=f"p{i}@bench.quorum.test", full_name=f"Person {i}", password=unusable)
            for i in range(config.people)
        ],
        batch_size=BATCH,
    )
    people = list(
        User.objects.filter(email__endswith="@bench.quorum.test")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    AnnotatorProfile.objects.bulk_create(
        [
            AnnotatorProfile(
                user_id=pk,
                country="KE",
                time_zone="UTC",
                languages=["en"],
                status=AnnotatorStatus.PROBATION if i % 10 == 0 else AnnotatorStatus.ACTIVE,
                status_before_suspension="",
            )
            for i, pk in enumerate(people)
        ],
        batch_size=BATCH,
    )
    team_count = max(1, config.people // 100)
    Team.objects.bulk_create([Team(name=f"Team {i + 1}") for i in range(team_count)])
    teams = list(Team.objects.order_by("pk").values_list("pk", flat=True))
    TeamMembership.objects.bulk_create(
        [TeamMembership(team_id=teams[i % team_count], user_id=pk) for i, pk in enumerate(people)],
        batch_size=BATCH,
    )
    admin = user_create(
        email="admin@bench.quorum.test",
        password=None,
        roles=[RoleSpec(Role.ADMIN, None)],
        email_verified=True,
    )
    manager = user_create(
        email="manager@bench.quorum.test",
        password=None,
        roles=[RoleSpec(Role.MANAGER, None)],
        email_verified=True,
    )
    reviewer = user_create(
        email="reviewer@bench.quorum.test",
        password=None,
        roles=[RoleSpec(Role.REVIEWER, 1)],
        email_verified=True,
    )
    from allauth.mfa.totp.internal.auth import TOTP

    for user in (admin, manager):
        TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ")
    from workforce.models import Team as TeamModel

    for team in TeamModel.objects.order_by("pk")[:10]:
        team_manager_assign(team=team, user=manager, actor=None)
    timed(f"{config.people:,} people in {team_count} teams (bulk)", started)

    started = time.monotonic()
    counts = _activity(config, rng)
    home = {pk: rng.sample(projects, k=min(len(projects), rng.randint(2, 3))) for pk in people}
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = end - timedelta(days=config.days)
    hours = config.days * 24
    work: list[tuple[int, int, datetime, int]] = []  # person, project, submitted_at, seconds
    for pk, n in zip(people, counts, strict=True):
        while n > 0:
            size = min(n, rng.randint(10, 60))
            project = rng.choice(home[pk])
            hour = first_hour + timedelta(hours=rng.randrange(hours))
            for _ in range(size):
                seconds = max(1, int(rng.lognormvariate(3.3, 0.7)))
                work.append((pk, project, hour + timedelta(seconds=rng.randrange(3600)), seconds))
            n -= size
    rng.shuffle(work)
    written = 0
    for offset in range(0, len(work), BATCH):
        chunk = work[offset : offset + BATCH]
        tasks = Task.objects.bulk_create(
            [
                Task(
                    project_id=project,
                    data={"text": "t"},
                    status=TaskStatus.COMPLETED,
                    annotations_count=1,
                    result={"label": "cat"},
                    completed_at=at + timedelta(minutes=1),
                    created_at=at - timedelta(hours=1),
                )
                for _, project, at, _ in chunk
            ]
        )
        slots = WorkSlot.objects.bulk_create(
            [
                WorkSlot(
                    project_id=task.project_id,
                    task_id=task.pk,
                    kind=SlotKind.ANNOTATE,
                    state=SlotState.DONE,
                    order_key=task.pk,
                )
                for task in tasks
            ]
        )
        leases = Lease.objects.bulk_create(
            [
                Lease(
                    slot_id=slot.pk,
                    task_id=slot.task_id,
                    project_id=slot.project_id,
                    user_id=person,
                    state=LeaseState.SUBMITTED,
                    active_seconds=seconds,
                    claimed_at=at - timedelta(seconds=seconds),
                    expires_at=at + timedelta(minutes=10),
                    ended_at=at,
                    skip_reason="",
                )
                for slot, (person, _, at, seconds) in zip(slots, chunk, strict=True)
            ]
        )
        annotations = Annotation.objects.bulk_create(
            [
                Annotation(
                    task_id=lease.task_id,
                    project_id=lease.project_id,
                    author_id=person,
                    lease_id=lease.pk,
                    revision=1,
                    result={"label": "cat"},
                    status=AnnotationStatus.ACCEPTED,
                    active_seconds=seconds,
                    submitted_at=at,
                )
                for lease, (person, _, at, seconds) in zip(leases, chunk, strict=True)
            ]
        )
        GoldScore.objects.bulk_create(
            [
                GoldScore(
                    annotation_id=a.pk,
                    task_id=a.task_id,
                    project_id=a.project_id,
                    user_id=a.author_id,
                    value=1.0 if rng.random() < 0.85 else 0.0,
                    answer_version=1,
                    scored_at=a.submitted_at,
                )
                for a in annotations
                if a.pk % 20 == 0
            ]
        )
        Review.objects.bulk_create(
            [
                Review(
                    task_id=a.task_id,
                    project_id=a.project_id,
                    annotation_id=a.pk,
                    author_id=a.author_id,
                    reviewer_id=reviewer.pk,
                    level=1,
                    verdict=Verdict.APPROVE if a.pk % 50 else Verdict.CORRECT,
                    created_at=a.submitted_at + timedelta(seconds=30),
                )
                for a in annotations
                if a.pk % 10 == 0
            ]
        )
        written += len(chunk)
        if written % 100_000 < BATCH:
            print(f"    {written:,} annotations", flush=True)
    timed(f"{written:,} annotations with tasks, slots, leases, gold and reviews (bulk)", started)
    by_count = sorted(zip(counts, people, strict=True))
    return Seeded(
        admin=admin,
        manager=manager,
        busiest=by_count[-1][1],
        median=by_count[len(by_count) // 2][1],
        people=len(people),
        annotations=written,
    )


def rollups_build(env: dict[str, str]) -> None:
    """Build the rollups as an operator does: the rebuild command, then the catch-up job."""
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "rollups_rebuild"], cwd=ROOT, env=env, check=True)
    timed("manage.py rollups_rebuild", started)
    from quality.performance.models import PersonHour
    from quality.performance.rollups import rollups_catch_up

    started = time.monotonic()
    rollups_catch_up()
    timed("the catch-up job once (sets the watermark)", started)
    print(f"  person-hour rows: {PersonHour.objects.count():,}")


# --- Timing over HTTP ---------------------------------------------------------------------------


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def statements_of(user: Any, path: str) -> int:
    """The statements the view runs for `user` (in-process, the same code as the server)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code} in-process")
    return len(queries)


class Browser:
    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> float:
        started = time.perf_counter()
        try:
            self.conn.request("GET", path, headers={"Cookie": self.cookie})
            response = self.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return self.get(path)
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
        return elapsed


@dataclass
class PageTimes:
    name: str
    seconds: list[float]
    statements: int | None

    def line(self) -> str:
        p50, p95 = percentile(self.seconds, 50), percentile(self.seconds, 95)
        worst = max(self.seconds) if self.seconds else None
        return (
            f"  {self.name:<44} n={len(self.seconds):>4}  p50 {_ms(p50)}  p95 {_ms(p95)}"
            f"  max {_ms(worst)}  statements {self.statements if self.statements is not None else '-'}"
        )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:7.1f} ms"


def time_pages(config: Config, port: int, seeded: Seeded) -> list[PageTimes]:
    from django.urls import NoReverseMatch, reverse

    from dashboards.people_selectors import SORTS

    results = []
    viewers = [("administrator", seeded.admin), ("manager of 10 teams", seeded.manager)]
    try:
        overview = reverse("dashboards:overview")
    except NoReverseMatch:
        overview = None
        print(
            '  the manager overview ("dashboards:overview") does not exist on this branch: skipped'
        )
    sorts = sorted(SORTS)
    for label, viewer in viewers:
        browser = Browser(port, session_cookie(viewer))
        pages: list[tuple[str, list[str]]] = []
        if overview is not None:
            pages.append((f"overview ({label})", [overview]))
        pages.append(
            (
                f"people table, 7 days, 36 sorts ({label})",
                [f"/dashboards/people/?sort={s}" for s in sorts],
            )
        )
        pages.append(
            (
                f"people table, 90 days, 36 sorts ({label})",
                [f"/dashboards/people/?period=90d&sort={s}" for s in sorts],
            )
        )
        pages.append((f"teams side by side, 30 days ({label})", ["/dashboards/teams/?period=30d"]))
        if label == "administrator":
            for who, pk in (("busiest", seeded.busiest), ("median", seeded.median)):
                pages.append(
                    (
                        f"person page, {who} person, 90 days",
                        [f"/dashboards/people/{pk}/?period=90d"],
                    )
                )
        for name, paths in pages:
            # The first round is the cold one: the first request of each sort after a rollup
            # run reads and sorts everyone's sums (cached until the next run); printed, not
            # budgeted (once per rollup run, not per request).
            cold = [browser.get(path) for path in paths]
            print(PageTimes(f"{name}, first after a rollup run", cold, None).line(), flush=True)
            seconds = []
            for _ in range(config.rounds):
                for path in paths:
                    seconds.append(browser.get(path))
            results.append(PageTimes(name, seconds, statements_of(viewer, paths[-1])))
            print(results[-1].line(), flush=True)
    return results


def main(argv: list[str]) -> int:
    config = parse_config(argv)
    workdir = Path(tempfile.mkdtemp(prefix="quorum-bench-dashboards-"))
    env = app_env(config, workdir)
    print("Quorum people dashboards benchmark")
    print(
        f"size: {config.annotations:,} annotations by {config.people:,} people over "
        f"{config.days} days across {config.projects} projects"
        + ("" if config.annotations >= 1_000_000 else " (a SMALL run, not the budgeted size)")
    )
    print("\nMachine")
    for line in machine_lines(config.database_url):
        print(f"  {line}")
    database_recreate(config.database_url)
    gunicorn = None
    try:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        timed("migrate", started)
        os.environ.update(env)
        import django

        django.setup()
        print("\nSeeding")
        seeded = seed(config)
        print("\nRollups")
        # No ANALYZE by hand: the rollup jobs refresh the statistics of the raw tables they read
        # and of the rollups they write when stale (core/table_statistics.py), as in production.
        rollups_build(env)
        from bench.queue import Gunicorn

        gunicorn = Gunicorn(
            env=env,
            workers=config.workers,
            threads=config.threads,
            log_path=workdir / "gunicorn.log",
        )
        gunicorn.start()
        print(
            f"\nPages over HTTP (gunicorn {config.workers} workers x {config.threads} threads, "
            f"Redis {config.redis_url}, {config.rounds} rounds after a warm-up; load "
            f"{load_average()})"
        )
        results = time_pages(config, gunicorn.port, seeded)
        print(f"  load after: {load_average()} (1/5/15 min)")
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        if not config.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(config.database_url)
    # The issue budgets the overview, the people table and a person's page; the teams page is
    # printed above for information (it reads quality's team sums row by row).
    budgets: list[Budget] = [
        at_most(f"{r.name}: p95", (percentile(r.seconds, 95) or 0) * 1000, BUDGET_MS, "ms")
        for r in results
        if not r.name.startswith("teams")
    ]
    met = budgets_print(
        f"Budgets ({config.annotations:,} annotations, {config.people:,} people)", budgets
    )
    return 0 if met or config.report_only else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
