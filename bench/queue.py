"""Benchmark the work queue, dataset imports and exports over HTTP, on PostgreSQL.

Steps, each printing what it measured:

1. Recreate a database of its own (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/quorum_bench) and migrate it.
2. Seed a project per path with BENCH_TASKS (1,000,000) tasks and their work slots in set-based SQL: the
   rows the import service would make. By default the project has teams and requirements on, as
   the budgets ask: it is limited to a team that holds every bench annotator and requires not
   holding a skill nobody has, so every claim checks both (`--no-teams`: an open project). Each
   project has a rate card in force (a sub-cent rate per final task), so every submission accrues
   pay in the same transaction as a product with rates does (`--no-rates`: no card, to compare).
3. Create annotators through the services, each with an API token and a signed-in session
   (Django's sign-in, in the configured session engine) with a CSRF token.
4. Serve the app with gunicorn and run claim + submit cycles for 1, 4, 16 and 64 annotators
   (BENCH_SECONDS each, after BENCH_WARMUP), once as the labeling page calls (session cookie and
   X-CSRFToken) and once as API tools call (token); then check that no task was over-assigned.
5. Imports and exports through the API, as a customer's tool calls it (an API token) on the same
   gunicorn server, the jobs run by a Celery worker (`celery -A config worker -Q <the queues
   CELERY_TASK_ROUTES give imports and exports> --concurrency 1`, BENCH_CELERY_CONCURRENCY) with
   Redis as broker. Each import uploads a JSONL file (multipart `file`) to
   POST /api/v1/projects/{id}/imports/ and polls GET /api/v1/imports/{id}/ until the job
   succeeded, timed from the start of the upload; each export POSTs
   /api/v1/projects/{id}/exports/ (jsonl, final rows) and polls GET /api/v1/exports/{id}/ until it
   succeeded, timed from the request, then downloads the file and checks its rows. A failed job
   stops the bench. In order: the smaller file (min(50,000, BENCH_IMPORT_TASKS)) and its export,
   the memory baselines; then BENCH_IMPORT_TASKS (1,000,000) tasks into a second project (after
   an unbudgeted import of the rest when BENCH_EXPORT_ROWS is larger) and, right after it,
   the export of BENCH_EXPORT_ROWS (1,000,000) of its tasks. Between an import and its export the
   tasks are made final by SQL (a seeding step, labelled so and not timed); nothing is analysed
   or vacuumed by the bench: the jobs' own statistics steps run, and their log says what they did.
6. Print per job its rate, the job's own times, the CPU split (server, worker, PostgreSQL, this
   client, other processes) and the peak RSS of the process that ran it.
7. Compare the figures with the budgets: exit 1 when one is missed (always 0 with --report-only).

Run it as a script: `.venv/bin/python bench/queue.py [--report-only] [--keep-db]`; `--help`
lists the rest. The server runs as in production: gunicorn, PostgreSQL and Redis (cache, throttle,
Celery broker) at BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, key prefix quorum-bench);
`--no-redis` measures the embedded cache instead, with no worker (jobs run eagerly inside the
gunicorn request), and says so. `--full-stack` turns the claim and
submit short path off (QUORUM_API_HOT_PATH=false), to compare it with the general request stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts this file's directory first on sys.path, where this file would
# shadow the standard library's `queue` (imported by psycopg, multiprocessing, logging, Celery).
# Remove that entry (the append makes the removal harmless when it is absent) and put the project
# root first, so that `bench`, `config` and the apps import.
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from bench._support import (
    ROOT,
    Budget,
    at_least,
    at_most,
    budgets_print,
    child_pids,
    database_drop,
    database_name,
    database_recreate,
    fmt_ms,
    free_port,
    load_average,
    machine_cpu_seconds,
    machine_lines,
    memory_flat,
    percentile,
    postgres_backend_pids,
    proc_status_kb,
    process_cpu_seconds,
    wait_http_ok,
)

if TYPE_CHECKING:
    from labeling.models import Customer, ImportJob, Project

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# How annotators call: the labeling page (session cookie + CSRF token) and API tools (token).
PATHS = ("session", "token")
LEVELS = (1, 4, 16, 64)
LABELS = ["positive", "negative", "neutral"]
INSTRUCTIONS = "Label the **sentiment** of the review: positive, negative or neutral."
# The per-user "work" throttle (600/minute by default) would cap a benchmark annotator at ten
# requests a second; it is lifted so that the figures show the server, not the throttle.
WORK_RATE = "1000000/minute"
MAX_LOAD_PROCESSES = 4
SEED_BATCH = 100_000
SMALL_IMPORT = 50_000

BUDGET_CYCLES_AT_16 = 300.0
BUDGET_CLAIM_P99_AT_16_MS = 100.0
BUDGET_CLAIM_P50_AT_1_MS = 5.0
BUDGET_CPU_PER_CYCLE_MS = 5.0
BUDGET_IMPORT_TASKS_PER_S = 30_000.0
BUDGET_EXPORT_ROWS_PER_S = 50_000.0


# --- Configuration ------------------------------------------------------------------------------


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value else default


@dataclass(frozen=True)
class Config:
    """Everything a run depends on, from the environment and the command line."""

    database_url: str
    redis_url: str | None
    hot_path: bool
    paths: tuple[str, ...]
    tasks: int
    seconds: float
    warmup: float
    import_sizes: tuple[int, int]
    export_rows: int
    workers: int
    threads: int
    levels: tuple[int, ...]
    report_only: bool
    keep_db: bool
    skip_queue: bool
    skip_import: bool
    skip_export: bool
    celery_concurrency: int
    teams: bool
    rates: bool
    claim_flush_wait: bool


def parse_config(argv: list[str]) -> Config:
    """Read the command line and BENCH_* variables."""
    parser = argparse.ArgumentParser(
        description="Benchmark the work queue, imports and exports against PostgreSQL."
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the budgets but always exit 0"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the bench database and work directory"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=_env_int("BENCH_WORKERS", os.cpu_count() or 2),
        help="gunicorn worker processes (BENCH_WORKERS, default: one per core)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=_env_int("BENCH_THREADS", 8),
        help="gunicorn threads per worker (BENCH_THREADS, default 8)",
    )
    parser.add_argument(
        "--levels",
        default=",".join(str(n) for n in LEVELS),
        help="annotator counts to run, comma-separated (default 1,4,16,64)",
    )
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="serve without Redis (local-memory cache per worker, Celery eager): not production",
    )
    parser.add_argument(
        "--full-stack",
        action="store_true",
        help="turn the claim and submit short path off (QUORUM_API_HOT_PATH=false)",
    )
    parser.add_argument(
        "--paths",
        default=",".join(PATHS),
        help="how annotators call, comma-separated: session (the labeling page), token (default both)",
    )
    parser.add_argument(
        "--celery-concurrency",
        type=int,
        default=_env_int("BENCH_CELERY_CONCURRENCY", 1),
        help="processes of the Celery worker that runs imports and exports"
        " (BENCH_CELERY_CONCURRENCY, default 1)",
    )
    parser.add_argument(
        "--skip-queue", action="store_true", help="skip the claim and submit benchmark"
    )
    parser.add_argument("--skip-import", action="store_true", help="skip the import benchmark")
    parser.add_argument("--skip-export", action="store_true", help="skip the export benchmark")
    parser.add_argument(
        "--no-teams",
        action="store_true",
        help="leave the queue project open to every team, with no requirement (default: limited"
        " to the bench team, with one requirement)",
    )
    parser.add_argument(
        "--no-rates",
        action="store_true",
        help="give the queue projects no rate card, so no submission accrues pay (default: a"
        " card per project, as a product with rates runs: every submit accrues and, final at"
        " once, moves its pay to payable)",
    )
    parser.add_argument(
        "--claims-without-flush-wait",
        action="store_true",
        help="QUORUM_CLAIM_SYNCHRONOUS_COMMIT=false: claims commit without waiting for the flush"
        " to disk (an operator's opt-in with a crash risk, docs/labeling.md; not the default)",
    )
    args = parser.parse_args(argv)
    larger_import = _env_int("BENCH_IMPORT_TASKS", 1_000_000)
    config = Config(
        database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        redis_url=None if args.no_redis else os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
        hot_path=not args.full_stack,
        paths=tuple(p.strip() for p in args.paths.split(",") if p.strip()),
        tasks=_env_int("BENCH_TASKS", 1_000_000),
        seconds=_env_float("BENCH_SECONDS", 20.0),
        warmup=_env_float("BENCH_WARMUP", 3.0),
        import_sizes=(min(SMALL_IMPORT, larger_import), larger_import),
        export_rows=_env_int("BENCH_EXPORT_ROWS", 1_000_000),
        workers=args.workers,
        threads=args.threads,
        levels=tuple(int(n) for n in args.levels.split(",") if n.strip()),
        report_only=args.report_only,
        keep_db=args.keep_db,
        skip_queue=args.skip_queue,
        skip_import=args.skip_import,
        skip_export=args.skip_export,
        celery_concurrency=args.celery_concurrency,
        teams=not args.no_teams,
        rates=not args.no_rates,
        claim_flush_wait=not args.claims_without_flush_wait,
    )
    return config


def app_env(config: Config, workdir: Path) -> dict[str, str]:
    """Return the environment of every Quorum process of the run: server, migrate, children."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": config.database_url,
            "DEBUG": "false",
            "SECRET_KEY": f"bench-{secrets.token_urlsafe(32)}",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "RATE_LIMIT_WORK": WORK_RATE,
            "MEDIA_ROOT": str(workdir / "media"),
            # Empty means "no Redis" to the settings, and it also overrides a REDIS_URL in .env.
            "REDIS_URL": config.redis_url or "",
            "CACHE_KEY_PREFIX": "quorum-bench",
            # Annotators made by the services are told they may work: drop those e-mails.
            "EMAIL_URL": "dummymail://",
            "QUORUM_API_HOT_PATH": "true" if config.hot_path else "false",
            "QUORUM_CLAIM_SYNCHRONOUS_COMMIT": "true" if config.claim_flush_wait else "false",
            # Production requires the key that encrypts payout details (a fresh one per run).
            "PAYOUT_DETAILS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    return env


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process from `env`, to call the services directly."""
    os.environ.update(env)
    import django

    django.setup()


def migrate(env: dict[str, str]) -> None:
    """Run `manage.py migrate` against the bench database."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


# --- Seeding ------------------------------------------------------------------------------------

# One statement per batch inserts the tasks, their work slots and (for completed tasks) their
# annotations: the same columns and values as `labeling.services.imports._insert_chunk` and
# `lease_submit` would write, without a round trip per row.
_SEED_SQL = """
WITH new_tasks AS (
    INSERT INTO {task} (
        project_id, import_job_id, external_id, data, meta, pre_annotation, priority, status,
        annotations_count, result, agreement, is_tie, created_at, completed_at,
        confidence, is_gold, review_level
    )
    SELECT
        %(project)s, %(job)s, NULL,
        jsonb_build_object('text', format(
            'Review %%s: the parcel arrived %%s and the box was %%s. Would order again?',
            g,
            (ARRAY['early', 'on time', 'late', 'very late'])[1 + g %% 4],
            (ARRAY['intact', 'dented', 'wet'])[1 + g %% 3]
        )),
        '{{}}'::jsonb, NULL, 0, %(status)s, %(annotations)s,
        CASE WHEN %(completed)s
            THEN jsonb_build_object('label', (%(labels)s::text[])[1 + g %% %(label_count)s])
        END,
        NULL, false, now(),
        CASE WHEN %(completed)s THEN now() END,
        NULL, false, 0
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
    RETURNING id, priority, result
),
new_slots AS (
    INSERT INTO {slot} (
        project_id, task_id, kind, level, state, priority, order_key, lease_expires_at,
        assignee_id
    )
    SELECT
        %(project)s, t.id, 'annotate', 0, %(slot_state)s, t.priority,
        CASE WHEN %(random_order)s
            -- 62 random bits, like random.SystemRandom().getrandbits(62)
            THEN (floor(random() * 2147483648)::bigint << 31)
                 | floor(random() * 2147483648)::bigint
            ELSE t.id
        END,
        NULL, NULL
    FROM new_tasks AS t CROSS JOIN generate_series(1, %(overlap)s)
)
INSERT INTO {annotation} (
    task_id, project_id, author_id, lease_id, revision, result, status,
    instructions_version, active_seconds, submitted_at, corrects_id, agreement
)
SELECT
    t.id, %(project)s, (%(authors)s::bigint[])[1 + t.id %% %(author_count)s], NULL, 1,
    t.result, 'accepted', %(instructions)s, 5 + t.id %% 90, now(), NULL, NULL
FROM new_tasks AS t
WHERE %(completed)s
"""


def seed_tasks(
    *,
    project: Project,
    job: ImportJob,
    count: int,
    completed: bool = False,
    author_ids: list[int] | None = None,
) -> None:
    """Insert `count` text tasks of `project` with one open slot per overlap, in batches.

    With `completed`, the tasks are final (one accepted annotation each, by `author_ids` in turn,
    slots done), as a standard pipeline leaves them; counters of the project are updated.
    """
    from django.db import connection
    from django.db.models import F

    from labeling.models import (
        Annotation,
        Pipeline,
        Project,
        QueueOrder,
        SlotState,
        Task,
        TaskStatus,
        WorkSlot,
    )

    if completed and (project.pipeline != Pipeline.STANDARD or not author_ids):
        raise ValueError("completed tasks are seeded for standard projects, with authors")
    statement = _SEED_SQL.format(
        task=Task._meta.db_table,
        slot=WorkSlot._meta.db_table,
        annotation=Annotation._meta.db_table,
    )
    instructions = (
        project.instruction_versions.order_by("-version").values_list("version", flat=True).first()
    )
    labels = [label["name"] for label in project.labels]
    params: dict[str, Any] = {
        "project": project.pk,
        "job": job.pk,
        "status": TaskStatus.COMPLETED if completed else TaskStatus.OPEN,
        "annotations": project.overlap if completed else 0,
        "completed": completed,
        "labels": labels,
        "label_count": len(labels),
        "slot_state": SlotState.DONE if completed else SlotState.OPEN,
        "random_order": project.queue_order == QueueOrder.RANDOM,
        "overlap": project.overlap,
        "authors": author_ids or [0],
        "author_count": len(author_ids or [0]),
        "instructions": instructions,
    }
    with connection.cursor() as cursor:
        for first in range(1, count + 1, SEED_BATCH):
            last = min(first + SEED_BATCH - 1, count)
            cursor.execute(statement, {**params, "first": first, "last": last})
    counters: dict[str, Any] = {"tasks_total": F("tasks_total") + count}
    if completed:
        counters["tasks_completed_folded"] = F("tasks_completed_folded") + count
        counters["annotations_folded"] = F("annotations_folded") + count * project.overlap
    Project.objects.filter(pk=project.pk).update(**counters)


def analyze_as_an_import_would(*, project: Project, count: int) -> list[str]:
    """Apply the product's rule for statistics after an import of `count` tasks to seeded rows.

    The seeding stands in for an import job, which analyses the tables it filled when it changed
    enough of them (core.table_statistics.tables_analyze_stale); nothing else is analysed or vacuumed,
    so the figures are those of a database whose autovacuum has not run yet.
    """
    from core.table_statistics import tables_analyze_stale
    from labeling.models import Task, WorkSlot

    return tables_analyze_stale(
        [Task, WorkSlot],
        purpose="after the seeded import",
        changed={Task: count, WorkSlot: count * project.overlap},
    )


def seed_job(*, project: Project, count: int, name: str) -> ImportJob:
    """Record a finished import batch for seeded tasks, so they belong to a batch like imported ones."""
    from django.utils import timezone

    from labeling.models import ImportJob, ImportSource, ImportStatus

    now = timezone.now()
    return ImportJob.objects.create(
        project=project,
        source_kind=ImportSource.UPLOAD,
        source=name,
        file_format="jsonl",
        status=ImportStatus.SUCCEEDED,
        lines_read=count,
        tasks_created=count,
        message=f"Imported {count} task(s).",
        started_at=now,
        finished_at=now,
    )


def customer_get() -> Customer:
    """Return the bench customer, creating it through the services the first time."""
    from labeling.models import Customer
    from labeling.services.projects import customer_create

    existing = Customer.objects.filter(slug="bench").first()
    return existing or customer_create(name="Bench customer", slug="bench", actor=None)


def project_make(name: str) -> Project:
    """Create an active single-label project (standard pipeline, overlap 1) through the services."""
    from labeling.services.projects import project_create

    return project_create(
        customer=customer_get(),
        name=name,
        actor=None,
        task_type="single_label",
        labels=LABELS,
        instructions=INSTRUCTIONS,
        pipeline="standard",
        overlap=1,
        queue_order="random",
        status="active",
    )


BENCH_TEAM = "Bench team"
NOBODYS_SKILL = "bench-nobody-has"


BENCH_RATE_MICROS = 3_500  # 0.0035 USD per final task: sub-cent, so the remainder moves too


def project_price(project: Project) -> list[str]:
    """Give `project` a rate card in force now, through the rate services (accrual on); return
    the lines that say so."""
    from payments.services.rates import RateSpec, rate_card_version_create

    rate_card_version_create(
        actor=None,
        project=project,
        currency="USD",
        rates=[RateSpec("annotation", "per_task", BENCH_RATE_MICROS)],
        note="Bench: every submission accrues.",
    )
    return [
        f"  rates ON: project {project.pk} pays {BENCH_RATE_MICROS} micros USD per final task"
        " (each submit accrues pending pay and, final at once, moves it to payable)"
    ]


def earnings_summary(project_id: int) -> str:
    """How many earnings the run accrued on the project, and whether the ledger reconciles."""
    from payments.models import Earning
    from payments.selectors.ledger import ledger_reconciliation

    count = Earning.objects.filter(project_id=project_id).count()
    clean = ledger_reconciliation().is_clean
    return f"{count:,} earnings accrued; ledger {'reconciles' if clean else 'DOES NOT reconcile'}"


def project_limit_to_team(project: Project, user_ids: list[int]) -> list[str]:
    """Turn teams and requirements on for `project`, through the services: limit it to a team
    holding every one of `user_ids`, and require not holding a skill nobody has (plus the
    project's required skill, if it has one, which the claim checks anyway). Return the lines
    that say so."""
    from accounts.models import User
    from labeling.services.projects import project_access_set, requirements_clean
    from workforce.models import Skill, Team
    from workforce.services.teams import team_create, team_member_add

    team = Team.objects.filter(name=BENCH_TEAM).first()
    if team is None:  # the first project made; the others share its team
        team = team_create(name=BENCH_TEAM, actor=None)
        for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
            team_member_add(team=team, user=user, actor=None)
    skill = Skill.objects.filter(slug=NOBODYS_SKILL).first() or Skill.objects.create(
        slug=NOBODYS_SKILL, name="Bench: a skill nobody has"
    )
    project_access_set(
        project=project,
        actor=None,
        teams=[team],
        requirements=requirements_clean([{"skill": skill.slug, "comparator": "lacks"}]),
    )
    required = (
        f"; required skill {project.required_skill.slug} >= {project.required_level}"
        if project.required_skill is not None
        else "; no required skill"
    )
    return [
        f"  teams and requirements ON: project {project.pk} limited to team {team.name!r}"
        f" ({len(user_ids)} members, every bench annotator)",
        f"    requirement: not {skill.slug} (nobody holds it){required}",
    ]


@dataclass(frozen=True)
class Annotator:
    user_id: int
    token: str
    cookies: str  # the labeling page's: its session and CSRF cookies
    csrf_token: str

    def headers(self, path: str) -> dict[str, str]:
        """The headers of a claim or submit: the labeling page's, or an API tool's."""
        common = {"Content-Type": "application/json", "Accept": "application/json"}
        if path == "token":
            return {**common, "Authorization": f"Token {self.token}"}
        return {**common, "Cookie": self.cookies, "X-CSRFToken": self.csrf_token}


def session_sign_in(user: Any) -> tuple[str, str]:
    """Sign `user` in through Django's `login` (the configured session engine, as the portal's
    sign-in does); return the page's Cookie header (session and CSRF cookies) and CSRF token."""
    from django.conf import settings
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = _get_new_csrf_string()
    return f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}", csrf


def annotators_create(count: int) -> list[Annotator]:
    """Create `count` active annotators, each with an API token and a signed-in session, the way
    sign-up, managers and the sign-in page do."""
    from accounts.services import api_token_create, user_create
    from workforce.models import AnnotatorStatus
    from workforce.selectors import terms_current
    from workforce.services import annotator_signup_complete, annotator_status_set

    terms = terms_current()
    if terms is None:
        raise RuntimeError("no terms of work are published; did the migrations run?")
    annotators = []
    for number in range(1, count + 1):
        user = user_create(
            email=f"annotator{number}@bench.quorum.test",
            password=None,
            full_name=f"Bench annotator {number}",
            email_verified=True,
        )
        profile = annotator_signup_complete(
            user=user,
            country="KE",
            time_zone="Africa/Nairobi",
            languages=["en"],
            terms_version=terms.version,
        )
        annotator_status_set(profile=profile, status=AnnotatorStatus.ACTIVE, actor=None)
        _, key = api_token_create(user=user, name="bench")
        cookie, csrf = session_sign_in(user)
        annotators.append(Annotator(user_id=user.pk, token=key, cookies=cookie, csrf_token=csrf))
    return annotators


# --- The server ---------------------------------------------------------------------------------


class Gunicorn:
    """gunicorn serving config.wsgi on a free local port, logging to a file."""

    def __init__(self, *, env: dict[str, str], workers: int, threads: int, log_path: Path) -> None:
        self.env = env
        self.workers = workers
        self.threads = threads
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def command(self) -> list[str]:
        executable = Path(sys.executable).with_name("gunicorn")
        return [
            str(executable if executable.exists() else "gunicorn"),
            "config.wsgi",
            "-w",
            str(self.workers),
            "-k",
            "gthread",
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
        ]

    def start(self) -> None:
        """Start the server and wait until /healthz answers 200."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        process = self.process
        wait_http_ok(
            f"http://127.0.0.1:{self.port}/healthz",
            timeout=60,
            alive=lambda: process.poll() is None,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def worker_pids(self) -> list[int]:
        """Return the pids of the worker processes (for py-spy)."""
        if self.process is None:
            return []
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), or kill it after 20 seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


# --- Load ---------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What some annotators measured: latencies of counted requests, cycles, errors."""

    cycles: int = 0
    claim_seconds: list[float] = field(default_factory=list)
    submit_seconds: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    out_of_work: int = 0

    def merge(self, other: LoadResult) -> None:
        self.cycles += other.cycles
        self.claim_seconds.extend(other.claim_seconds)
        self.submit_seconds.extend(other.submit_seconds)
        self.errors.update(other.errors)
        self.error_samples.extend(other.error_samples[: max(0, 5 - len(self.error_samples))])
        self.out_of_work += other.out_of_work

    def error(self, what: str, status: int, body: dict[str, Any]) -> None:
        self.errors[f"{what} {status} {body.get('code', '')}".strip()] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{what} {status}: {json.dumps(body)[:300]}")


@dataclass(frozen=True)
class LoadPart:
    """The share of one load process: its annotators' tokens and the shared timetable."""

    port: int
    project_id: int
    callers: list[dict[str, str]]  # each annotator's request headers
    labels: list[str]
    start_at: float  # time.monotonic() values: CLOCK_MONOTONIC is the same in every process
    measure_from: float
    measure_until: float


def _post(
    conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST on a persistent connection; return the status and JSON body (status 0 if it broke)."""
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # the next request opens a new connection
        return 0, {"code": type(exc).__name__, "message": str(exc)}
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"code": "not_json", "message": raw[:200].decode(errors="replace")}
    return response.status, data if isinstance(data, dict) else {"body": data}


def _annotate(
    part: LoadPart, headers: dict[str, str], seed: int, total: LoadResult, lock: threading.Lock
) -> None:
    """Claim and submit as one annotator until the window ends or the queue is empty."""
    rng = random.Random(seed)
    claim_path = f"/api/v1/projects/{part.project_id}/claim/"
    mine = LoadResult()
    conn = http.client.HTTPConnection("127.0.0.1", part.port, timeout=120)
    time.sleep(max(0.0, part.start_at - time.monotonic()))
    try:
        while (started := time.monotonic()) < part.measure_until:
            counted = started >= part.measure_from
            status, body = _post(conn, claim_path, b"", headers)
            claimed = time.monotonic()
            if status == 404 and body.get("code") == "no_work_available":
                mine.out_of_work += 1
                break
            if status != 200:
                mine.error("claim", status, body)
                continue
            if counted:
                mine.claim_seconds.append(claimed - started)
            answer = json.dumps({"result": {"label": rng.choice(part.labels)}}).encode()
            lease_path = f"/api/v1/leases/{body['lease']['id']}/submit/"
            status, body = _post(conn, lease_path, answer, headers)
            if status != 201:
                mine.error("submit", status, body)
                continue
            if counted:
                mine.submit_seconds.append(time.monotonic() - claimed)
                mine.cycles += 1
    finally:
        conn.close()
        with lock:
            total.merge(mine)


def _load_process(part: LoadPart) -> LoadResult:
    """Run one thread per annotator of `part` (in a load process of its own) and merge their figures."""
    total = LoadResult()
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=_annotate,
            args=(part, headers, hash((json.dumps(headers), part.start_at)), total, lock),
        )
        for headers in part.callers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total


CpuSnapshot = tuple[dict[str, dict[int, float]], tuple[float, float]]


def cpu_snapshot(groups: dict[str, Callable[[], list[int]]]) -> CpuSnapshot:
    """The CPU seconds of each pid of each group (named functions returning pids), and the
    machine's busy and total CPU seconds."""
    per_group = {
        name: {pid: cpu for pid in pids() if (cpu := process_cpu_seconds(pid)) is not None}
        for name, pids in groups.items()
    }
    return per_group, machine_cpu_seconds()


def cpu_spent(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds per group between two snapshots, and the machine's ("machine busy", "machine
    total"); a pid counts from the first snapshot, or from its birth if it started later."""
    (groups_before, (busy_before, total_before)), (groups_after, (busy_after, total_after)) = (
        before,
        after,
    )
    seconds = {
        name: sum(cpu - groups_before[name].get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in groups_after.items()
    }
    seconds["machine busy"] = busy_after - busy_before
    seconds["machine total"] = total_after - total_before
    return seconds


def cpu_carry(earlier: CpuSnapshot, later: CpuSnapshot) -> CpuSnapshot:
    """`later`, keeping the last CPU seconds seen of pids that `earlier` had and that are gone
    (a PostgreSQL backend that closed, say), so that their work still counts."""
    groups = {name: {**earlier[0].get(name, {}), **pids} for name, pids in later[0].items()}
    return groups, later[1]


class CpuSampler(threading.Thread):
    """Measure the CPU time each group of processes used in a window, and the machine's.

    Groups are named functions returning pids; a pid's CPU counts from the window's start (or
    from its birth, if it started later) to the window's end.
    """

    def __init__(
        self, *, start: float, end: float, groups: dict[str, Callable[[], list[int]]]
    ) -> None:
        super().__init__(daemon=True)
        self.start_at, self.end_at, self.groups = start, end, groups
        self.seconds: dict[str, float] = {}

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        before = cpu_snapshot(self.groups)
        time.sleep(max(0.0, self.end_at - time.monotonic()))
        self.seconds = cpu_spent(before, cpu_snapshot(self.groups))


@dataclass(frozen=True)
class LevelResult:
    path: str
    annotators: int
    processes: int
    seconds: float
    load: LoadResult
    cpu: dict[str, float]  # CPU seconds in the window per group of processes (see CpuSampler)

    @property
    def cycles_per_second(self) -> float:
        return self.load.cycles / self.seconds

    def claim(self, q: float) -> float | None:
        return percentile(self.load.claim_seconds, q)

    def submit(self, q: float) -> float | None:
        return percentile(self.load.submit_seconds, q)

    def cpu_per_cycle_ms(self) -> dict[str, float] | None:
        """CPU milliseconds per claim + submit cycle of each group of processes."""
        if not self.load.cycles or not self.cpu.get("machine total"):
            return None
        per = {name: 1000 * seconds / self.load.cycles for name, seconds in self.cpu.items()}
        per["server and postgres"] = per["server"] + per["postgres"]
        return per


def run_level(
    *,
    config: Config,
    server: Gunicorn,
    project_id: int,
    path: str,
    callers: list[dict[str, str]],
    labels: list[str],
) -> LevelResult:
    """Drive `len(callers)` annotators against the server for a warm-up and the measured window."""
    from django.db import connections

    connections.close_all()  # the load processes are forked: they must not share our connection
    processes = min(len(callers), MAX_LOAD_PROCESSES)
    start_at = time.monotonic() + 1.0
    parts = [
        LoadPart(
            port=server.port,
            project_id=project_id,
            callers=callers[i::processes],
            labels=labels,
            start_at=start_at,
            measure_from=start_at + config.warmup,
            measure_until=start_at + config.warmup + config.seconds,
        )
        for i in range(processes)
    ]
    load = LoadResult()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        server_pid = server.process.pid if server.process else -1
        sampler = CpuSampler(
            start=parts[0].measure_from,
            end=parts[0].measure_until,
            groups={
                "server": lambda: [server_pid, *server.worker_pids()],
                "postgres": lambda: postgres_backend_pids(database_name(config.database_url)),
                "load generator": lambda: [p for p in child_pids(os.getpid()) if p != server_pid],
            },
        )
        sampler.start()
        for result in pool.map(_load_process, parts):
            load.merge(result)
        sampler.join()
    return LevelResult(
        path=path,
        annotators=len(callers),
        processes=processes,
        seconds=config.seconds,
        load=load,
        cpu=sampler.seconds,
    )


def level_print(level: LevelResult) -> None:
    """Print one line of the queue table (and what went wrong, if anything)."""
    claim = " / ".join(fmt_ms(level.claim(q)) for q in (50, 95, 99))
    submit = " / ".join(fmt_ms(level.submit(q)) for q in (50, 95, 99))
    errors = sum(level.load.errors.values())
    print(
        f"  {level.path:>7}  {level.annotators:>10}  {level.processes:>9}  {level.cycles_per_second:>9,.1f}"
        f"  {claim:>20}  {submit:>20}  {errors:>6}",
        flush=True,
    )
    for kind, count in level.load.errors.most_common():
        print(f"  {'':>10}  error: {kind} x {count}")
    for sample in level.load.error_samples:
        print(f"  {'':>10}  e.g. {sample}")
    if level.load.out_of_work:
        print(f"  {'':>10}  {level.load.out_of_work} annotator(s) found no work left")
    cpu = level.cpu
    if cpu.get("machine total"):
        cores = os.cpu_count() or 1
        share = {name: 100 * seconds / level.seconds for name, seconds in cpu.items()}
        ours = sum(cpu[name] for name in ("server", "postgres", "load generator"))
        others = max(0.0, cpu["machine busy"] - ours)
        idle = max(0.0, cpu["machine total"] - cpu["machine busy"])
        print(
            f"  {'':>10}  CPU, % of one core ({cores} cores = {100 * cores}%): server"
            f" {share['server']:.0f}, postgres {share['postgres']:.0f}, load generator"
            f" {share['load generator']:.0f}, other processes {100 * others / level.seconds:.0f},"
            f" idle {100 * idle / level.seconds:.0f}; load average {load_average()}"
        )
        per_cycle = level.cpu_per_cycle_ms()
        if per_cycle is not None:
            print(
                f"  {'':>10}  CPU per cycle: server {per_cycle['server']:.2f} ms, postgres"
                f" {per_cycle['postgres']:.2f} ms (together {per_cycle['server and postgres']:.2f}"
                f" ms), load generator {per_cycle['load generator']:.2f} ms",
                flush=True,
            )


def over_assigned(project_id: int) -> tuple[int, int]:
    """Count tasks with more annotations than the overlap, and (task, author) pairs annotated twice."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT a.task_id
                FROM labeling_annotation AS a JOIN labeling_project AS p ON p.id = a.project_id
                WHERE a.project_id = %s
                GROUP BY a.task_id, p.overlap
                HAVING count(*) > p.overlap
            ) AS over
            """,
            [project_id],
        )
        tasks_over = int(cursor.fetchone()[0])
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM labeling_annotation WHERE project_id = %s
                GROUP BY task_id, author_id HAVING count(*) > 1
            ) AS twice
            """,
            [project_id],
        )
        pairs_twice = int(cursor.fetchone()[0])
    return tasks_over, pairs_twice


# --- Imports and exports through the API, run by a Celery worker ---------------------------------

POLL_SECONDS = 0.1
JOB_TIMEOUT = 3600.0
READ_CHUNK = 1024 * 1024
API = "/api/v1"

# Marks the tasks of a project final as the submit of a standard pipeline with overlap 1 leaves
# them (task completed with its result, its slot done, one accepted annotation), in one statement
# per range of ids: the seeding step between the import and the export, not a product path.
_COMPLETE_SQL = """
WITH done AS (
    UPDATE {task} AS t SET
        status = %(completed)s,
        annotations_count = 1,
        result = jsonb_build_object('label', (%(labels)s::text[])[1 + t.id %% %(label_count)s]),
        completed_at = now()
    WHERE t.project_id = %(project)s AND t.id BETWEEN %(first)s AND %(last)s
        AND t.status = %(open)s AND NOT t.is_gold
    RETURNING t.id, t.result
),
slots AS (
    UPDATE {slot} AS s SET state = %(slot_done)s
    WHERE s.project_id = %(project)s AND s.state = %(slot_open)s
        AND s.task_id BETWEEN %(first)s AND %(last)s
        -- the slots of the tasks `done` completes (it sees the tasks as they were), each task
        -- found by its key: joined with `done` itself, a freshly imported project the planner
        -- knows too little of was joined by a scan of `done` per slot (50,000 tasks: 430 s on one
        -- machine, more than 4 minutes on another, instead of seconds)
        AND EXISTS (
            SELECT 1 FROM {task} AS o
            WHERE o.id = s.task_id AND o.status = %(open)s AND NOT o.is_gold
        )
)
INSERT INTO {annotation} (
    task_id, project_id, author_id, lease_id, revision, result, status,
    instructions_version, active_seconds, submitted_at, corrects_id, agreement
)
SELECT
    d.id, %(project)s, (%(authors)s::bigint[])[1 + d.id %% %(author_count)s], NULL, 1,
    d.result, 'accepted', %(instructions)s, 5 + d.id %% 90, now(), NULL, NULL
FROM done AS d
"""


def tasks_complete(*, project: Project, count: int, author_ids: list[int]) -> int:
    """Seeding: make the first `count` tasks of `project` final, as annotators' submits would.

    Only what an export reads is written (task status and result, slot state, the annotation);
    the project's counters follow. Nothing is analysed: the export job decides that itself.
    Returns how many tasks were completed.
    """
    from django.db import connection, transaction
    from django.db.models import F

    from labeling.models import (
        Annotation,
        Pipeline,
        Project,
        SlotState,
        Task,
        TaskStatus,
        WorkSlot,
    )

    if project.pipeline != Pipeline.STANDARD or project.overlap != 1 or not author_ids:
        raise ValueError("tasks are completed for standard projects with overlap 1, with authors")
    ids = Task.objects.filter(project=project, is_gold=False).order_by("id")
    first = ids.values_list("id", flat=True).first()
    nth = list(ids.values_list("id", flat=True)[count - 1 : count])
    if first is None or not nth:
        raise RuntimeError(f"project {project.pk} has fewer than {count:,} tasks to complete")
    last = nth[0]
    statement = _COMPLETE_SQL.format(
        task=Task._meta.db_table,
        slot=WorkSlot._meta.db_table,
        annotation=Annotation._meta.db_table,
    )
    labels = [label["name"] for label in project.labels]
    params: dict[str, Any] = {
        "project": project.pk,
        "completed": TaskStatus.COMPLETED,
        "open": TaskStatus.OPEN,
        "slot_done": SlotState.DONE,
        "slot_open": SlotState.OPEN,
        "labels": labels,
        "label_count": len(labels),
        "authors": author_ids,
        "author_count": len(author_ids),
        "instructions": project.instruction_versions.order_by("-version")
        .values_list("version", flat=True)
        .first(),
    }
    completed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for low in range(first, last + 1, SEED_BATCH):
            high = min(low + SEED_BATCH - 1, last)
            cursor.execute(statement, {**params, "first": low, "last": high})
            completed += cursor.rowcount
        Project.objects.filter(pk=project.pk).update(
            tasks_completed_folded=F("tasks_completed_folded") + completed,
            annotations_folded=F("annotations_folded") + completed,
        )
    return completed


def customer_token() -> str:
    """Create the bench customer's user (a member of the customer, through the services) and
    return its API token's key: the imports and exports are called as a customer's tool would."""
    from accounts.services import api_token_create, user_create
    from labeling.services.projects import customer_member_add

    user = user_create(
        email="customer@bench.quorum.test",
        password=None,
        full_name="Bench customer",
        email_verified=True,
    )
    customer_member_add(customer=customer_get(), user=user, actor=None)
    _, key = api_token_create(user=user, name="bench imports and exports")
    return key


def job_queues() -> list[str]:
    """The Celery queues the import and export jobs are routed to (CELERY_TASK_ROUTES)."""
    from fnmatch import fnmatchcase

    from django.conf import settings

    from labeling.services.exports.jobs import EXPORT_RUN_TASK
    from labeling.services.imports.batches import IMPORT_RUN_TASK

    queues: list[str] = []
    for task in (IMPORT_RUN_TASK, EXPORT_RUN_TASK):
        queue = next(
            (
                route["queue"]
                for pattern, route in settings.CELERY_TASK_ROUTES.items()
                if fnmatchcase(task, pattern)
            ),
            settings.CELERY_TASK_DEFAULT_QUEUE,
        )
        if queue not in queues:
            queues.append(queue)
    return queues


class CeleryWorker:
    """A Celery worker of the app (`celery -A config worker`) on some queues, logging to a file."""

    def __init__(
        self, *, env: dict[str, str], queues: list[str], concurrency: int, log_path: Path
    ) -> None:
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @staticmethod
    def _celery() -> str:
        executable = Path(sys.executable).with_name("celery")
        return str(executable if executable.exists() else "celery")

    @property
    def command(self) -> list[str]:
        return [
            self._celery(),
            "-A",
            "config",
            "worker",
            "-Q",
            ",".join(self.queues),
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ]

    def purge(self) -> str:
        """Drop messages an earlier, interrupted run left in these queues (they name its jobs)."""
        done = subprocess.run(
            [self._celery(), "-A", "config", "purge", "-f", "-Q", ",".join(self.queues)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip() or "nothing to purge"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start the worker and wait until it says it is ready."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while " ready." not in self.log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.log_text().splitlines()[-20:])
                raise RuntimeError(f"the Celery worker did not get ready:\n{tail}")
            time.sleep(0.2)

    def returned(self, task_name: str) -> int:
        """How many runs of `task_name` the worker has logged as over (succeeded or raised)."""
        return sum(
            1
            for line in self.log_text().splitlines()
            if f"Task {task_name}[" in line and (" succeeded in " in line or " raised " in line)
        )

    def pids(self) -> list[int]:
        """The main process and its pool."""
        return [] if self.process is None else [self.process.pid, *self.pool_pids()]

    def pool_pids(self) -> list[int]:
        return [] if self.process is None else child_pids(self.process.pid)

    def stop(self) -> None:
        """Stop the worker (SIGTERM: a warm shutdown), or kill it after 30 seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class Api:
    """An API tool calling with a token, on a persistent connection while it keeps calling."""

    # gunicorn closes a connection idle for its keep-alive (2 s by default); one idle for longer
    # than this is closed here first, so that no request is sent into a closing connection.
    IDLE_SECONDS = 1.0

    def __init__(self, port: int, token: str) -> None:
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.last_answer = 0.0

    def _fresh(self) -> None:
        if time.monotonic() - self.last_answer > self.IDLE_SECONDS:
            self.conn.close()  # the next request connects again

    def _answer(self, what: str) -> tuple[int, dict[str, Any]]:
        response = self.conn.getresponse()
        raw = response.read()
        self.last_answer = time.monotonic()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"body": raw[:300].decode(errors="replace")}
        if not isinstance(body, dict):
            raise RuntimeError(f"{what}: HTTP {response.status}, not a JSON object: {raw[:300]!r}")
        return response.status, body

    def call(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = None if payload is None else json.dumps(payload).encode()
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self._fresh()
        self.conn.request(method, path, body=body, headers=headers)
        return self._answer(f"{method} {path}")

    def upload(self, path: str, file: Path) -> tuple[int, dict[str, Any]]:
        """POST `file` as the multipart field `file` (as a browser or `curl -F` sends it)."""
        boundary = secrets.token_hex(16)
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            "Content-Type: application/x-ndjson\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        self._fresh()
        self.conn.putrequest("POST", path)
        headers = {
            **self.headers,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + file.stat().st_size + len(tail)),
        }
        for name, value in headers.items():
            self.conn.putheader(name, value)
        self.conn.endheaders()
        self.conn.send(head)
        with file.open("rb") as source:
            while chunk := source.read(READ_CHUNK):
                self.conn.send(chunk)
        self.conn.send(tail)
        return self._answer(f"POST {path}")

    def download(self, path: str) -> tuple[int, int]:
        """GET a file; return its lines and bytes (read in chunks, kept nowhere)."""
        self._fresh()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}: {response.read()[:300]!r}")
        lines = size = 0
        while chunk := response.read(READ_CHUNK):
            lines += chunk.count(b"\n")
            size += len(chunk)
        self.last_answer = time.monotonic()
        return lines, size

    def close(self) -> None:
        self.conn.close()


def write_jsonl(path: Path, count: int) -> None:
    """Write `count` text tasks as JSON Lines, each with an external id and some metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    moods = ["arrived early", "came on time", "was late", "never showed up"]
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, count + 1):
            record = {
                "external_id": f"{path.stem}-{n}",
                "data": {"text": f"Review {n}: the parcel {moods[n % 4]}. Would order again?"},
                "meta": {"source": "bench", "row": n},
            }
            out.write(json.dumps(record) + "\n")


def _rss_kb(pids: list[int]) -> int | None:
    """The largest resident set of `pids` (the process running the job), in kB."""
    sizes = [kb for pid in pids if (kb := proc_status_kb("VmRSS", pid)) is not None]
    return max(sizes, default=None)


def _seconds_between(job: dict[str, Any], start: str, end: str) -> float | None:
    from datetime import datetime

    if not job.get(start) or not job.get(end):
        return None
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


@dataclass(frozen=True)
class JobRun:
    """One import or export job followed through the API, from the request to its success."""

    kind: str  # "import" or "export"
    items: int
    seconds: float  # from the start of the request to the poll that saw the job succeeded
    request_seconds: float  # the upload (or POST) until its answer
    cpu: dict[str, float]  # CPU seconds in that window per group of processes, and the machine's
    start_kb: int | None  # the job runner's RSS when the request started
    peak_kb: int | None  # its largest RSS while the job ran, sampled at each poll
    job: dict[str, Any]  # the job as the API showed it at its success
    returned_after: float | None  # from the success to the worker's task returning
    analysed: list[str]  # what the job's own statistics step logged it analysed

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def lines(self, unit: str, runner: str) -> list[str]:
        """What to print: speed, where the time went, the CPU split and the runner's memory."""
        if self.kind == "import":
            clock = (
                f"job queued {_seconds_between(self.job, 'created_at', 'started_at') or 0:.2f} s,"
                f" ran {_seconds_between(self.job, 'started_at', 'finished_at') or 0:.2f} s"
            )
        else:
            clock = (
                f"job created to finished"
                f" {_seconds_between(self.job, 'created_at', 'finished_at') or 0:.2f} s"
            )
        returned = ""
        if self.returned_after is not None:
            returned = f"; the worker's task returned {self.returned_after:.2f} s after the success"
            if self.kind == "import":
                returned += " (its statistics step and announcement follow the commit)"
        cpu = self.cpu
        ours = sum(cpu.get(name, 0.0) for name in ("server", "worker", "postgres", "bench"))
        others = max(0.0, cpu.get("machine busy", 0.0) - ours)
        idle = max(0.0, cpu.get("machine total", 0.0) - cpu.get("machine busy", 0.0))
        memory = "-"
        if self.peak_kb is not None:
            memory = f"{self.peak_kb / 1024:.1f} MB"
            if self.start_kb is not None:
                memory += f" (at the request {self.start_kb / 1024:.1f} MB)"
        return [
            f"{self.seconds:.2f} s request to success: {self.per_second:,.0f} {unit}/s",
            f"request answered in {self.request_seconds:.2f} s; by the job's own times: {clock}"
            f"{returned}",
            f"CPU seconds in that window: server {cpu.get('server', 0.0):.1f}, worker"
            f" {cpu.get('worker', 0.0):.1f}, postgres {cpu.get('postgres', 0.0):.1f}, bench client"
            f" {cpu.get('bench', 0.0):.1f}, other processes {others:.1f}, idle {idle:.1f} (of"
            f" {cpu.get('machine total', 0.0):.1f} on {os.cpu_count()} cores); load average"
            f" {load_average()}",
            f"{runner} peak RSS {memory}, sampled every {POLL_SECONDS:g} s",
            "the job's own statistics step (core.table_statistics.tables_analyze_stale): "
            + ("; ".join(f"analysed {what}" for what in self.analysed) or "analysed nothing"),
        ]


@dataclass
class JobBench:
    """The server, the worker and the customer's API tool that imports and exports run through."""

    server: Gunicorn
    worker: CeleryWorker | None  # None: no Redis, jobs run eagerly inside gunicorn's request
    api: Api
    database: str

    def groups(self) -> dict[str, Callable[[], list[int]]]:
        server_pid = self.server.process.pid if self.server.process else -1
        worker = self.worker
        return {
            "server": lambda: [server_pid, *self.server.worker_pids()],
            "worker": lambda: worker.pids() if worker else [],
            "postgres": lambda: postgres_backend_pids(self.database),
            "bench": lambda: [os.getpid()],
        }

    def runner_pids(self) -> list[int]:
        """The processes that run the jobs: the worker's pool, or gunicorn's workers."""
        return self.worker.pool_pids() if self.worker else self.server.worker_pids()

    @property
    def runner(self) -> str:
        return "worker pool process" if self.worker else "gunicorn worker"

    def follow(
        self,
        *,
        kind: str,
        task_name: str,
        request: Callable[[], tuple[int, dict[str, Any]]],
        accepted: int,
        items_of: Callable[[dict[str, Any]], int],
    ) -> JobRun:
        """Make the request that starts a job, poll the job until it succeeded; measure it all.

        A failed job, an unexpected answer or a job still unfinished after JOB_TIMEOUT raises.
        """
        groups = self.groups()
        returned_before = self.worker.returned(task_name) if self.worker else 0
        log_path = self.worker.log_path if self.worker else self.server.log_path
        log_from = log_path.stat().st_size if log_path.exists() else 0
        before = cpu_snapshot(groups)
        start_kb = _rss_kb(self.runner_pids())
        started = time.monotonic()
        status, job = request()
        request_seconds = time.monotonic() - started
        if status != accepted:
            raise RuntimeError(f"the {kind} was refused: HTTP {status}: {json.dumps(job)[:500]}")
        path = f"{API}/{kind}s/{job['id']}/"
        peak_kb = start_kb
        latest = before
        while True:
            latest = cpu_carry(latest, cpu_snapshot(groups))
            rss = _rss_kb(self.runner_pids())
            if rss is not None:
                peak_kb = max(peak_kb or 0, rss)
            if job["status"] == "succeeded":
                break
            if job["status"] == "failed":
                raise RuntimeError(
                    f"the {kind} job {job['id']} FAILED: {job.get('message')}"
                    f" {json.dumps(job.get('errors') or [])[:500]}"
                )
            if time.monotonic() - started > JOB_TIMEOUT:
                raise TimeoutError(f"the {kind} job {job['id']} is still {job['status']}")
            time.sleep(POLL_SECONDS)
            status, job = self.api.call("GET", path)
            if status != 200:
                raise RuntimeError(f"GET {path}: HTTP {status}: {json.dumps(job)[:500]}")
        seconds = time.monotonic() - started
        after = cpu_carry(latest, cpu_snapshot(groups))
        returned_after = None
        if self.worker is not None:
            # The job says it succeeded when its rows are committed; its task goes on with the
            # statistics step and the announcement. The next step waits for the task to return.
            while self.worker.returned(task_name) <= returned_before:
                if time.monotonic() - started > JOB_TIMEOUT:
                    raise TimeoutError(f"the worker's {task_name} did not return")
                time.sleep(POLL_SECONDS)
            returned_after = time.monotonic() - started - seconds
        with log_path.open("rb") as log:
            log.seek(log_from)
            logged = log.read().decode(errors="replace")
        analysed = [
            line.split(" analysed ", 1)[1].strip()
            for line in logged.splitlines()
            if " analysed " in line
        ]
        return JobRun(
            kind=kind,
            items=items_of(job),
            seconds=seconds,
            request_seconds=request_seconds,
            cpu=cpu_spent(before, after),
            start_kb=start_kb,
            peak_kb=peak_kb,
            job=job,
            returned_after=returned_after,
            analysed=analysed,
        )

    def import_file(self, project: Project, path: Path, count: int) -> JobRun:
        """Upload a JSONL file to the project's imports and follow the job to its success."""
        from labeling.services.imports.batches import IMPORT_RUN_TASK

        run = self.follow(
            kind="import",
            task_name=IMPORT_RUN_TASK,
            request=lambda: self.api.upload(f"{API}/projects/{project.pk}/imports/", path),
            accepted=202,
            items_of=lambda job: int(job["tasks_created"]),
        )
        if run.items != count:
            raise RuntimeError(f"the import created {run.items:,} tasks of {count:,}: {run.job}")
        return run

    def export_final(self, project: Project, count: int) -> tuple[JobRun, tuple[int, int]]:
        """Start an export job of the project's final rows as JSONL, follow it to its success,
        then download its file; return the run and the file's lines and bytes."""
        from labeling.services.exports.jobs import EXPORT_RUN_TASK

        run = self.follow(
            kind="export",
            task_name=EXPORT_RUN_TASK,
            request=lambda: self.api.call(
                "POST",
                f"{API}/projects/{project.pk}/exports/",
                {"format": "jsonl", "status": "final"},
            ),
            accepted=201,
            items_of=lambda job: int(job["rows_written"]),
        )
        lines, size = self.api.download(f"{API}/exports/{run.job['id']}/download/")
        if run.items != count or lines != count:
            raise RuntimeError(
                f"the export wrote {run.items:,} rows and its file has {lines:,} lines;"
                f" {count:,} expected"
            )
        return run, (lines, size)


def import_step(bench: JobBench, project: Project, count: int, media: Path, label: str) -> JobRun:
    """Write a JSONL file of `count` tasks, import it through the API and print the figures."""
    path = media / "bench-uploads" / f"bench-{project.pk}-{count}.jsonl"
    write_jsonl(path, count)
    megabytes = path.stat().st_size / 1e6
    run = bench.import_file(project, path, count)
    path.unlink()
    print(f"  {label}: {count:,} tasks ({megabytes:.1f} MB JSONL) into project {project.pk}")
    print("\n".join(f"      {line}" for line in run.lines("tasks", bench.runner)), flush=True)
    return run


def complete_step(project: Project, count: int, author_ids: list[int]) -> None:
    """Seed the data the export reads (by SQL, outside every measured window) and say so."""
    started = time.monotonic()
    completed = tasks_complete(project=project, count=count, author_ids=author_ids)
    print(
        f"  seeding (SQL, not measured, not an API path): {completed:,} imported tasks of project"
        f" {project.pk} made final as submits would (result, slot done, one accepted annotation)"
        f" in {time.monotonic() - started:.1f} s; nothing analysed",
        flush=True,
    )


def export_step(bench: JobBench, project: Project, count: int, label: str) -> JobRun:
    """Export the project's final rows through the API and print the figures."""
    run, (lines, size) = bench.export_final(project, count)
    print(f"  {label}: {count:,} rows of project {project.pk}, JSONL")
    print("\n".join(f"      {line}" for line in run.lines("rows", bench.runner)))
    print(f"      downloaded afterwards: {lines:,} lines, {size / 1e6:.0f} MB", flush=True)
    return run


def imports_and_exports(
    config: Config, bench: JobBench, media: Path, author_ids: list[int]
) -> tuple[list[JobRun], list[JobRun]]:
    """Import through the API, then export what was imported, as described in the module doc.

    Order: the small import and its export first (the memory baselines, in a worker that has
    run nothing yet), then the export project's import and, right after it, its export.
    """
    imports: list[JobRun] = []
    exports: list[JobRun] = []
    small, large = config.import_sizes
    if not config.skip_import:
        print(f"\nimport: POST {API}/projects/{{id}}/imports/ (multipart file), poll the job")
        project = project_make("Bench import small")
        imports.append(import_step(bench, project, small, media, "smaller file"))
        if not config.skip_export:
            print(f"\nexport of the smaller import: POST {API}/projects/{{id}}/exports/, poll")
            complete_step(project, small, author_ids)
            exports.append(export_step(bench, project, small, "smaller export"))
    target = project_make("Bench export")
    fill = config.export_rows - (0 if config.skip_import else large)
    if not config.skip_export and fill > 0:
        print(f"\nfilling the export project through the same API (not a budget): {fill:,} tasks")
        import_step(bench, target, fill, media, "filling import")
    if not config.skip_import:
        print("\nimport: the larger file, into the project exported next")
        imports.append(import_step(bench, target, large, media, "larger file"))
    if not config.skip_export:
        print(
            f"\nexport right after that import: POST {API}/projects/{{id}}/exports/"
            ' {"format": "jsonl", "status": "final"}, poll the job, then download'
        )
        complete_step(target, config.export_rows, author_ids)
        exports.append(export_step(bench, target, config.export_rows, "export"))
    return imports, exports


# --- The run ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything measured, for the budgets."""

    levels: dict[tuple[str, int], LevelResult] = field(default_factory=dict)
    over_tasks: int | None = None
    over_pairs: int | None = None
    imports: list[JobRun] = field(default_factory=list)  # the smaller file, the larger
    exports: list[JobRun] = field(default_factory=list)  # the smaller import's, the larger's


def queue_budgets(figures: Figures, path: str) -> list[Budget]:
    """The queue's budgets for annotators calling one way (`path`)."""
    at_16 = figures.levels.get((path, 16))
    at_1 = figures.levels.get((path, 1))
    p99 = at_16.claim(99) if at_16 else None
    p50 = at_1.claim(50) if at_1 else None
    per_cycle = at_16.cpu_per_cycle_ms() if at_16 else None
    name = f"queue ({path})"
    return [
        at_least(
            f"{name}, 16 annotators: cycles/s",
            at_16.cycles_per_second if at_16 else None,
            BUDGET_CYCLES_AT_16,
            "cycles/s",
            1,
        ),
        at_most(
            f"{name}, 16 annotators: server + postgres CPU per cycle",
            per_cycle["server and postgres"] if per_cycle else None,
            BUDGET_CPU_PER_CYCLE_MS,
            "ms",
        ),
        at_most(
            f"{name}, 16 annotators: claim p99",
            None if p99 is None else p99 * 1000,
            BUDGET_CLAIM_P99_AT_16_MS,
            "ms",
        ),
        at_most(
            f"{name}, 1 annotator: claim p50",
            None if p50 is None else p50 * 1000,
            BUDGET_CLAIM_P50_AT_1_MS,
            "ms",
        ),
    ]


def budgets_of(figures: Figures, paths: tuple[str, ...]) -> list[Budget]:
    """Compare the figures with the budgets."""
    over = (
        None
        if figures.over_tasks is None or figures.over_pairs is None
        else figures.over_tasks + figures.over_pairs
    )
    large_import = figures.imports[-1] if figures.imports else None
    large_export = figures.exports[-1] if figures.exports else None
    return [
        *(budget for path in paths for budget in queue_budgets(figures, path)),
        at_most("queue: over-assigned tasks", over, 0, "", 0),
        at_least(
            "import via API: tasks/s, upload to success (larger file)",
            large_import.per_second if large_import else None,
            BUDGET_IMPORT_TASKS_PER_S,
            "tasks/s",
        ),
        memory_flat(
            "import: job runner's peak RSS flat in file size",
            figures.imports[0].peak_kb if len(figures.imports) == 2 else None,
            large_import.peak_kb if large_import else None,
        ),
        at_least(
            "export via API after the import: rows/s, request to success",
            large_export.per_second if large_export else None,
            BUDGET_EXPORT_ROWS_PER_S,
            "rows/s",
        ),
        memory_flat(
            "export: job runner's peak RSS flat in row count",
            figures.exports[0].peak_kb if len(figures.exports) == 2 else None,
            large_export.peak_kb if large_export else None,
        ),
    ]


def server_print(config: Config, server: Gunicorn) -> None:
    """Say how the server runs: its command, Redis, the short path, the lifted throttle."""
    redis = (
        f"REDIS_URL={config.redis_url}: Redis cache and throttle, Celery broker (production)"
        if config.redis_url
        else "NO REDIS (--no-redis): local-memory cache and throttle per worker, Celery eager;"
        " not the production configuration"
    )
    hot = (
        "QUORUM_API_HOT_PATH=true: claim and submit on the short path (production)"
        if config.hot_path
        else "QUORUM_API_HOT_PATH=false (--full-stack): claim and submit through every middleware and DRF"
    )
    flush = (
        "QUORUM_CLAIM_SYNCHRONOUS_COMMIT=true: claims wait for the flush to disk (production default)"
        if config.claim_flush_wait
        else "QUORUM_CLAIM_SYNCHRONOUS_COMMIT=false (--claims-without-flush-wait): claims commit"
        " without waiting for the flush (an operator's opt-in, not the default)"
    )
    print(f"\nserver: {' '.join(server.command)}")
    print(f"  {redis}")
    print(f"  {hot}")
    print(f"  {flush}")
    print(f"  RATE_LIMIT_WORK={WORK_RATE}: the per-user 'work' throttle lifted for the benchmark")
    print("  EMAIL_URL=dummymail://: e-mails the services send are dropped")
    print(f"  DEBUG=false, log {server.log_path}", flush=True)


def queue_project_seed(config: Config, annotators: list[Annotator], path: str) -> Project:
    """Make and seed the queue project one path runs on, as an import would leave it."""
    print(
        f"\nseeding the queue project of the {path} path with {config.tasks:,} tasks ...",
        flush=True,
    )
    project = project_make(f"Bench queue ({path})")
    if config.teams:
        lines = project_limit_to_team(project, [a.user_id for a in annotators])
    else:
        lines = ["  teams and requirements OFF (--no-teams): the project is open to every team"]
    if config.rates:
        lines += project_price(project)
    else:
        lines += ["  rates OFF (--no-rates): no rate card, so nothing accrues"]
    print("\n".join(lines), flush=True)
    started = time.monotonic()
    job = seed_job(project=project, count=config.tasks, name=f"bench-queue-{path}.jsonl")
    seed_tasks(project=project, job=job, count=config.tasks)
    inserted = time.monotonic() - started
    analyzed = analyze_as_an_import_would(project=project, count=config.tasks)
    seeded = time.monotonic() - started
    print(
        f"  {config.tasks:,} tasks + {config.tasks * project.overlap:,} slots inserted in"
        f" {inserted:.1f} s ({config.tasks / inserted:,.0f} tasks/s); with the import's"
        f" statistics step (analysed: {', '.join(analyzed) or 'nothing'}) {seeded:.1f} s",
        flush=True,
    )
    return project


def queue_bench(config: Config, server: Gunicorn, annotators: list[Annotator]) -> Figures:
    """Seed a queue project per path, serve them, run every load level and check the assignments.

    Each path (the labeling page's session, API tokens) runs on its own freshly seeded project,
    so that neither starts from the slots the other claimed: every claim leaves a dead entry in
    the claim index that later claims step over until a vacuum removes it, and autovacuum is off
    on the development machine (production cleans these tables after 1% of changes, labeling
    0030). Within a path the levels run one after another on the same project, as a queue is
    worked between two vacuums. The server is left running (main stops it), for the imports and
    exports that follow.
    """
    figures = Figures()
    projects = {path: queue_project_seed(config, annotators, path) for path in config.paths}
    labels = [label["name"] for label in next(iter(projects.values())).labels]
    server.start()
    print(f"  server workers: {server.worker_pids()}")
    print(
        f"\nqueue: claim + submit cycles, {config.seconds:g} s per level after"
        f" {config.warmup:g} s warm-up"
    )
    print(
        f"  {'path':>7}  {'annotators':>10}  {'processes':>9}  {'cycles/s':>9}  {'claim p50/95/99 ms':>20}"
        f"  {'submit p50/95/99 ms':>20}  {'errors':>6}",
        flush=True,
    )
    for path in config.paths:
        for count in config.levels:
            if count > len(annotators):
                raise ValueError(f"{count} annotators asked for, {len(annotators)} created")
            level = run_level(
                config=config,
                server=server,
                project_id=projects[path].pk,
                path=path,
                callers=[a.headers(path) for a in annotators[:count]],
                labels=labels,
            )
            figures.levels[path, count] = level
            level_print(level)
    figures.over_tasks, figures.over_pairs = 0, 0
    for path, project in projects.items():
        over_tasks, over_pairs = over_assigned(project.pk)
        figures.over_tasks += over_tasks
        figures.over_pairs += over_pairs
        project.refresh_from_db()
        print(
            f"  after the run ({path}): {project.annotations_total:,} annotations,"
            f" {project.tasks_completed:,} tasks completed; over-assigned: {over_tasks} task(s)"
            f" with more annotations than the overlap ({project.overlap}), {over_pairs}"
            " (task, author) pair(s) annotated twice",
            flush=True,
        )
        print(f"    pay ({path}): {earnings_summary(project.pk)}", flush=True)
    if any(level.load.errors for level in figures.levels.values()):
        print(f"  server log tail ({server.log_path}):")
        lines = server.log_path.read_text(errors="replace").splitlines()[-20:]
        print("\n".join(f"    {line}" for line in lines))
    return figures


def main(argv: list[str]) -> int:
    """Run the whole benchmark; return the exit status."""
    config = parse_config(argv)

    print("bench/queue.py: the work queue, imports and exports over HTTP on PostgreSQL")
    print("\n".join(machine_lines(config.database_url)))
    workdir = Path(tempfile.mkdtemp(prefix="quorum-bench-"))
    env = app_env(config, workdir)
    print(f"database:   {database_name(config.database_url)} (recreated), work directory {workdir}")
    figures = Figures()
    server = Gunicorn(
        env=env, workers=config.workers, threads=config.threads, log_path=workdir / "gunicorn.log"
    )
    worker: CeleryWorker | None = None
    api: Api | None = None
    try:
        started = time.monotonic()
        database_recreate(config.database_url)
        migrate(env)
        django_setup(env)
        print(f"  created and migrated in {time.monotonic() - started:.1f} s", flush=True)

        annotators = annotators_create(max(config.levels, default=1))
        print(
            f"  {len(annotators)} annotators created through the services, each with an API token"
            " and a signed-in session (Django's login)"
        )
        server_print(config, server)

        if not config.skip_queue:
            figures = queue_bench(config, server, annotators)

        if not (config.skip_import and config.skip_export):
            print("\nimports and exports through the API, as a customer's tool with its token")
            if not server.running:
                server.start()
            if config.redis_url:
                worker = CeleryWorker(
                    env=env,
                    queues=job_queues(),
                    concurrency=config.celery_concurrency,
                    log_path=workdir / "celery.log",
                )
                print(f"  Celery worker: {' '.join(worker.command)}")
                print(f"    broker REDIS_URL={config.redis_url}; {worker.purge()}")
                worker.start()
                print(f"    ready, pool {worker.pool_pids()}, log {worker.log_path}", flush=True)
            else:
                print(
                    "  NO CELERY WORKER (--no-redis): CELERY_TASK_ALWAYS_EAGER, each job runs"
                    " inside the gunicorn request that starts it; not the production configuration"
                )
            api = Api(server.port, customer_token())
            bench = JobBench(
                server=server,
                worker=worker,
                api=api,
                database=database_name(config.database_url),
            )
            figures.imports, figures.exports = imports_and_exports(
                config, bench, workdir / "uploads", [a.user_id for a in annotators]
            )
            print(f"  load average after the imports and exports: {load_average()}")
    finally:
        if api is not None:
            api.close()
        if worker is not None:
            worker.stop()
        server.stop()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if config.keep_db:
            print(f"\nkept the database {database_name(config.database_url)} and {workdir}")
        else:
            database_drop(config.database_url)
            shutil.rmtree(workdir, ignore_errors=True)

    met = budgets_print("budgets:", budgets_of(figures, config.paths))
    if config.report_only:
        return 0
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
