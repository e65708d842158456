"""What one claim+submit cycle costs, counted: statements, Python function calls and CPU, with and
without pay, through the request path production serves, in this process.

bench/queue.py measures the production configuration (gunicorn, many annotators at once) and says
how fast; this one says where a cycle's cost goes, with figures that do not depend on the
machine's load: the number of SQL statements Django sends (the hot path's and the services') and
the number of Python function calls (cProfile) per cycle. It calls the WSGI application of
`config.wsgi` (the queue's hot path in front of Django) in this process, one annotator at a time,
with PostgreSQL and Redis as in production (sessions' and tokens' generations, the rate limit),
for each way annotators call (the labeling page's session with its CSRF token, an API token), on a
project seeded as an import leaves it with teams and a requirement on (as bench/queue.py's), once
with a rate card (every submit accrues pending pay and, final at once, moves it to payable) and
once without (nothing accrues). CPU per cycle (this process, and its PostgreSQL backend read from
/proc) is printed too, labelled: it is one caller in one process, not the production
configuration, and it varies with the machine's load; the counts do not.

Budget (issues 11 and 13: pay adds at most 5% to a cycle's cost): pay's share of the CPU, in process,
printed against 5% and labelled as such (bench/queue.py measures the production configuration);
the counts' shares are printed beside it, as figures. `--report-only` always exits 0.

    .venv/bin/python bench/cycle_counts.py                # 1,000 timed cycles per case
    BENCH_CYCLES=3000 .venv/bin/python bench/cycle_counts.py --report-only
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/quorum_bench_counts (the default)
"""

from __future__ import annotations

import sys
from pathlib import Path

# As bench/queue.py: this directory must not shadow the standard library's `queue`.
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cProfile
import dataclasses
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench._support import (
    Budget,
    at_most,
    budgets_print,
    database_drop,
    database_name,
    database_recreate,
    machine_lines,
    process_cpu_seconds,
)
from bench.queue import (
    LABELS,
    Annotator,
    annotators_create,
    app_env,
    django_setup,
    migrate,
    parse_config,
    queue_project_seed,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench_counts"
WARMUP_CYCLES = 50
COUNTED_CYCLES = 100
PAY_SHARE_BUDGET = 5.0  # percent


@dataclasses.dataclass(frozen=True)
class Counts:
    statements: float
    python_calls: float
    python_ms: float
    postgres_ms: float


def _environ(path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


def cycle_of(
    application: Any, annotator: Annotator, path: str, project_id: int
) -> Callable[[], None]:
    """One claim and one submit, as the labeling page or a tool sends them."""

    def call(url: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        status: list[str] = []
        environ = _environ(url, body, annotator.headers(path))
        answer = b"".join(application(environ, lambda s, _h, *_a: status.append(s)))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{url}: {status[0]} {answer[:300]!r}")
        return json.loads(answer)

    def cycle() -> None:
        claimed = call(f"/api/v1/projects/{project_id}/claim/", {})
        call(f"/api/v1/leases/{claimed['lease']['id']}/submit/", {"result": {"label": LABELS[0]}})

    return cycle


def measure(cycle: Callable[[], None], cycles: int) -> Counts:
    from django.db import connection

    for _ in range(WARMUP_CYCLES):
        cycle()
    sent = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        for _ in range(COUNTED_CYCLES):
            cycle()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(COUNTED_CYCLES):
        cycle()
    profile.disable()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    postgres_before = process_cpu_seconds(backend) or 0.0
    python_before = time.process_time()
    for _ in range(cycles):
        cycle()
    python = time.process_time() - python_before
    postgres = (process_cpu_seconds(backend) or 0.0) - postgres_before
    return Counts(
        statements=sent[0] / COUNTED_CYCLES,
        python_calls=calls / COUNTED_CYCLES,
        python_ms=python / cycles * 1000,
        postgres_ms=postgres / cycles * 1000,
    )


def share(with_pay: float, without: float) -> float:
    return (with_pay - without) / without * 100 if without else 0.0


def main(argv: list[str]) -> int:
    report_only = "--report-only" in argv
    cycles = int(os.environ.get("BENCH_CYCLES", "1000"))
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["BENCH_TASKS"] = str(cycles + WARMUP_CYCLES + 2 * COUNTED_CYCLES + 100)
    config = parse_config(["--levels", "1"])
    print("bench/cycle_counts.py: a claim+submit cycle counted, with and without pay, in process")
    print("\n".join(machine_lines(config.database_url)))
    print(
        f"database:   {database_name(config.database_url)} (recreated); Redis {config.redis_url};"
        f" {cycles:,} timed cycles per case, counts over {COUNTED_CYCLES}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="quorum-bench-counts-"))
    env = app_env(config, workdir)
    database_recreate(config.database_url)
    try:
        migrate(env)
        django_setup(env)
        from config.wsgi import application

        results: dict[tuple[str, bool], Counts] = {}
        everyone = annotators_create(4)  # one per case, each on a project of their own
        annotators = iter(everyone)
        for rates in (True, False):
            for path in ("session", "token"):
                annotator = next(annotators)
                project = queue_project_seed(
                    dataclasses.replace(config, rates=rates), everyone, f"{path}, rates {rates}"
                )
                results[(path, rates)] = measure(
                    cycle_of(application, annotator, path, project.pk), cycles
                )
        print(
            "\nper claim+submit cycle (in process, one caller: the counts are exact, the CPU"
            " figures are not the production configuration's)"
        )
        print(
            f"  {'path':8} {'pay':8} {'statements':>10} {'Python calls':>13}"
            f" {'Python CPU':>11} {'PostgreSQL CPU':>15}"
        )
        for (path, rates), counts in results.items():
            print(
                f"  {path:8} {'on' if rates else 'off':8} {counts.statements:>10.1f}"
                f" {counts.python_calls:>13,.0f} {counts.python_ms:>8.2f} ms"
                f" {counts.postgres_ms:>12.2f} ms"
            )
        # The issues' budget is on cost: the counts' shares explain it, they are not budgets.
        budgets: list[Budget] = []
        for path in ("session", "token"):
            on, off = results[(path, True)], results[(path, False)]
            print(
                f"  pay's share ({path}): statements"
                f" {share(on.statements, off.statements):+.0f}%, Python calls"
                f" {share(on.python_calls, off.python_calls):+.0f}%"
            )
            cpu = share(on.python_ms + on.postgres_ms, off.python_ms + off.postgres_ms)
            budgets.append(
                at_most(
                    f"pay's share of a cycle's CPU ({path}, in process, not production)",
                    cpu,
                    PAY_SHARE_BUDGET,
                    "%",
                )
            )
        met = budgets_print("bench/cycle_counts.py", budgets)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        database_drop(config.database_url)
    return 0 if met or report_only else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
