"""Benchmark the work queue over HTTP, and dataset imports and exports, on PostgreSQL.

Steps, each printing what it measured:

1. Recreate a database of its own (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/quorum_bench) and migrate it.
2. Seed a project with BENCH_TASKS (1,000,000) tasks and their work slots in set-based SQL: the
   rows the import service would make.
3. Create annotators through the services, each with an API token and a signed-in session
   (Django's sign-in, in the configured session engine) with a CSRF token.
4. Serve the app with gunicorn and run claim + submit cycles for 1, 4, 16 and 64 annotators
   (BENCH_SECONDS each, after BENCH_WARMUP), once as the labeling page calls (session cookie and
   X-CSRFToken) and once as API tools call (token); then check that no task was over-assigned.
5. Import 50,000 and BENCH_IMPORT_TASKS (100,000) tasks from JSONL, each in a fresh process.
6. Export half and all of BENCH_EXPORT_ROWS (1,000,000) completed tasks as JSONL, each in a
   fresh process.
7. Compare the figures with the budgets: exit 1 when one is missed (always 0 with --report-only).

Run it as a script: `.venv/bin/python bench/queue.py [--report-only] [--keep-db]`; `--help`
lists the rest. The server runs as in production: gunicorn, PostgreSQL and Redis (cache, throttle,
Celery broker) at BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, key prefix quorum-bench);
`--no-redis` measures the embedded cache instead and says so. `--full-stack` turns the claim and
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
import http.client
import json
import multiprocessing
import os
import random
import resource
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
    skip_import: bool
    skip_export: bool


def parse_config(argv: list[str]) -> tuple[Config, list[str] | None]:
    """Read the command line and BENCH_* variables; return the config and a child job, if any."""
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
    parser.add_argument("--skip-import", action="store_true", help="skip the import benchmark")
    parser.add_argument("--skip-export", action="store_true", help="skip the export benchmark")
    # Internal: the import and export figures come from fresh child processes of this script.
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    larger_import = _env_int("BENCH_IMPORT_TASKS", 100_000)
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
        skip_import=args.skip_import,
        skip_export=args.skip_export,
    )
    return config, args.child


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
            "QUORUM_API_HOT_PATH": "true" if config.hot_path else "false",
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
        counters["tasks_completed"] = F("tasks_completed") + count
        counters["annotations_total"] = F("annotations_total") + count * project.overlap
    Project.objects.filter(pk=project.pk).update(**counters)


def analyze_as_an_import_would(*, project: Project, count: int) -> list[str]:
    """Apply the product's rule for statistics after an import of `count` tasks to seeded rows.

    The seeding stands in for an import job, which analyses the tables it filled when it changed
    enough of them (labeling.bulk.tables_analyze_stale); nothing else is analysed or vacuumed,
    so the figures are those of a database whose autovacuum has not run yet.
    """
    from labeling.bulk import tables_analyze_stale
    from labeling.models import Task, WorkSlot

    return tables_analyze_stale(
        [Task, WorkSlot], changed={Task: count, WorkSlot: count * project.overlap}
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

    def _snapshot(self) -> tuple[dict[str, dict[int, float]], tuple[float, float]]:
        per_group = {
            name: {pid: cpu for pid in pids() if (cpu := process_cpu_seconds(pid)) is not None}
            for name, pids in self.groups.items()
        }
        return per_group, machine_cpu_seconds()

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        before, (busy_before, total_before) = self._snapshot()
        time.sleep(max(0.0, self.end_at - time.monotonic()))
        after, (busy_after, total_after) = self._snapshot()
        for name, pids in after.items():
            self.seconds[name] = sum(cpu - before[name].get(pid, 0.0) for pid, cpu in pids.items())
        self.seconds["machine busy"] = busy_after - busy_before
        self.seconds["machine total"] = total_after - total_before


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


# --- Imports and exports, each in a fresh process -----------------------------------------------


def run_child(env: dict[str, str], kind: str, arg: str) -> dict[str, Any]:
    """Run this script as `--child KIND ARG`; return the JSON figures it prints last."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, arg],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{kind} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.monotonic() - started
    return figures


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_main(kind: str, arg: str) -> int:
    """In a fresh process: run one import job, or stream one export; print figures as JSON."""
    import django

    django.setup()
    from django.db import connection

    from labeling.models import Project
    from labeling.services.exports.jobs import export_statistics_refresh
    from labeling.services.exports.streaming import export_stream
    from labeling.services.imports.batches import import_run

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    figures: dict[str, Any] = {"baseline_kb": proc_status_kb("VmRSS")}
    cpu_before = _own_cpu_seconds()
    backend_before = process_cpu_seconds(backend)
    started = time.monotonic()
    if kind == "import":
        job = import_run(job_id=int(arg))
        figures |= {"tasks": job.tasks_created, "status": str(job.status), "message": job.message}
    elif kind == "export":
        project_id, _, batch = arg.partition(":")
        project = Project.objects.get(pk=int(project_id))
        filters = {"batch_id": int(batch)} if batch else {}
        # As an export job does before its first query (the bench streams without a job).
        figures["analyzed"] = export_statistics_refresh(log_as="the bench's export")
        rows = size = 0
        with open(os.devnull, "wb") as sink:
            for chunk in export_stream(project=project, file_format="jsonl", **filters):
                rows += chunk.count(b"\n")
                size += len(chunk)
                sink.write(chunk)
        figures |= {"rows": rows, "bytes": size}
    else:
        raise ValueError(f"unknown child kind {kind!r}")
    figures["seconds"] = time.monotonic() - started
    figures["cpu_seconds"] = _own_cpu_seconds() - cpu_before
    backend_after = process_cpu_seconds(backend)
    if backend_before is not None and backend_after is not None:
        figures["postgres_cpu_seconds"] = backend_after - backend_before
    figures["peak_kb"] = proc_status_kb("VmHWM")
    print(json.dumps(figures), flush=True)
    return 0


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


@dataclass(frozen=True)
class RunFigures:
    """One child run: how many items, how fast, and the process's peak memory."""

    items: int
    seconds: float
    peak_kb: int
    baseline_kb: int
    process_seconds: float
    cpu_seconds: float
    postgres_cpu_seconds: float | None

    @classmethod
    def of(cls, figures: dict[str, Any], items: int) -> RunFigures:
        return cls(
            items=items,
            seconds=figures["seconds"],
            peak_kb=figures["peak_kb"],
            baseline_kb=figures["baseline_kb"],
            process_seconds=figures["process_seconds"],
            cpu_seconds=figures["cpu_seconds"],
            postgres_cpu_seconds=figures.get("postgres_cpu_seconds"),
        )

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0

    def describe(self, unit: str) -> str:
        """Speed, where the CPU time went (this process, its PostgreSQL backend) and memory."""
        postgres = (
            "-" if self.postgres_cpu_seconds is None else f"{self.postgres_cpu_seconds:.1f} s"
        )
        return (
            f"{self.seconds:6.2f} s, {self.per_second:>8,.0f} {unit}/s; CPU: Python"
            f" {self.cpu_seconds:.1f} s, postgres {postgres}; peak RSS {self.peak_kb / 1024:.1f} MB"
            f" (after start-up {self.baseline_kb / 1024:.1f} MB)"
        )


def import_bench(env: dict[str, str], sizes: tuple[int, int], media: Path) -> list[RunFigures]:
    """Import each size into a fresh project from an uploaded-file job, in a fresh process."""
    from labeling.models import ImportJob, ImportSource

    results = []
    for size in sizes:
        project = project_make(f"Bench import {size}")
        name = f"bench-{size}.jsonl"
        path = media / "imports" / "bench" / name
        write_jsonl(path, size)
        job = ImportJob.objects.create(
            project=project,
            source_kind=ImportSource.UPLOAD,
            source=name,
            file=f"imports/bench/{name}",
            file_format="jsonl",
            total_bytes=path.stat().st_size,
        )
        figures = run_child(env, "import", str(job.pk))
        if figures["status"] != "succeeded" or figures["tasks"] != size:
            raise RuntimeError(f"the import of {size} tasks did not succeed: {figures}")
        run = RunFigures.of(figures, figures["tasks"])
        print(
            f"  {size:>9,} tasks ({path.stat().st_size / 1e6:.1f} MB): {run.describe('tasks')}",
            flush=True,
        )
        results.append(run)
    return results


def export_bench(
    env: dict[str, str], rows: int, author_ids: list[int]
) -> tuple[list[RunFigures], float]:
    """Seed a project with `rows` completed tasks in two batches; export the first, then all.

    Returns the two runs and the seconds the seeding took.
    """
    project = project_make("Bench export")
    started = time.monotonic()
    half = rows // 2
    jobs = []
    for number, count in enumerate((half, rows - half), start=1):
        job = seed_job(project=project, count=count, name=f"bench-export-{number}.jsonl")
        seed_tasks(project=project, job=job, count=count, completed=True, author_ids=author_ids)
        jobs.append(job)
    # Not analysed here: each export below runs the statistics step an export job runs.
    seeded = time.monotonic() - started
    print(
        f"  seeded {rows:,} completed tasks with their annotations in {seeded:.1f} s",
        flush=True,
    )
    results = []
    for label, arg in (("half", f"{project.pk}:{jobs[0].pk}"), ("all", str(project.pk))):
        figures = run_child(env, "export", arg)
        run = RunFigures.of(figures, figures["rows"])
        print(
            f"  {label:>4}: {run.items:>9,} rows ({figures['bytes'] / 1e6:.0f} MB JSONL):"
            f" {run.describe('rows')}",
            flush=True,
        )
        results.append(run)
    return results, seeded


# --- The run ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything measured, for the budgets."""

    levels: dict[tuple[str, int], LevelResult] = field(default_factory=dict)
    over_tasks: int | None = None
    over_pairs: int | None = None
    imports: list[RunFigures] = field(default_factory=list)
    exports: list[RunFigures] = field(default_factory=list)


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
    large_import = figures.imports[-1] if len(figures.imports) == 2 else None
    all_export = figures.exports[-1] if len(figures.exports) == 2 else None
    return [
        *(budget for path in paths for budget in queue_budgets(figures, path)),
        at_most("queue: over-assigned tasks", over, 0, "", 0),
        at_least(
            "import: tasks/s (larger file)",
            large_import.per_second if large_import else None,
            BUDGET_IMPORT_TASKS_PER_S,
            "tasks/s",
        ),
        memory_flat(
            "import: memory flat in file size",
            figures.imports[0].peak_kb if len(figures.imports) == 2 else None,
            large_import.peak_kb if large_import else None,
        ),
        at_least(
            "export: rows/s (all rows)",
            all_export.per_second if all_export else None,
            BUDGET_EXPORT_ROWS_PER_S,
            "rows/s",
        ),
        memory_flat(
            "export: memory flat in row count",
            figures.exports[0].peak_kb if len(figures.exports) == 2 else None,
            all_export.peak_kb if all_export else None,
        ),
    ]


def queue_bench(
    config: Config, env: dict[str, str], workdir: Path, annotators: list[Annotator]
) -> Figures:
    """Seed the queue project, serve it, run every load level and check the assignments."""
    figures = Figures()
    print(f"\nseeding the queue project with {config.tasks:,} tasks ...", flush=True)
    project = project_make("Bench queue")
    started = time.monotonic()
    job = seed_job(project=project, count=config.tasks, name="bench-queue.jsonl")
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

    server = Gunicorn(
        env=env, workers=config.workers, threads=config.threads, log_path=workdir / "gunicorn.log"
    )
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
    print(f"\nserver: {' '.join(server.command)}")
    print(f"  {redis}")
    print(f"  {hot}")
    print(f"  RATE_LIMIT_WORK={WORK_RATE}: the per-user 'work' throttle lifted for the benchmark")
    print(f"  DEBUG=false, log {server.log_path}", flush=True)
    labels = [label["name"] for label in project.labels]
    try:
        server.start()
        print(f"  workers: {server.worker_pids()}")
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
                    project_id=project.pk,
                    path=path,
                    callers=[a.headers(path) for a in annotators[:count]],
                    labels=labels,
                )
                figures.levels[path, count] = level
                level_print(level)
    finally:
        server.stop()
    figures.over_tasks, figures.over_pairs = over_assigned(project.pk)
    project.refresh_from_db()
    print(
        f"  after the run: {project.annotations_total:,} annotations, {project.tasks_completed:,}"
        f" tasks completed; over-assigned: {figures.over_tasks} task(s) with more annotations"
        f" than the overlap ({project.overlap}), {figures.over_pairs} (task, author) pair(s)"
        " annotated twice",
        flush=True,
    )
    if any(level.load.errors for level in figures.levels.values()):
        print(f"  server log tail ({server.log_path}):")
        lines = server.log_path.read_text(errors="replace").splitlines()[-20:]
        print("\n".join(f"    {line}" for line in lines))
    return figures


def main(argv: list[str]) -> int:
    """Run the whole benchmark; return the exit status."""
    config, child = parse_config(argv)
    if child is not None:
        return child_main(*child)

    print("bench/queue.py: the work queue over HTTP, imports and exports on PostgreSQL")
    print("\n".join(machine_lines(config.database_url)))
    workdir = Path(tempfile.mkdtemp(prefix="quorum-bench-"))
    env = app_env(config, workdir)
    print(f"database:   {database_name(config.database_url)} (recreated), work directory {workdir}")
    figures = Figures()
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

        figures = queue_bench(config, env, workdir, annotators)

        if not config.skip_import:
            print("\nimport: JSONL upload jobs, import_run in a fresh process per file")
            figures.imports = import_bench(env, config.import_sizes, workdir / "media")
        if not config.skip_export:
            print("\nexport: export_stream(file_format='jsonl') to /dev/null, fresh process each")
            figures.exports, _ = export_bench(
                env, config.export_rows, [a.user_id for a in annotators]
            )
    finally:
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
