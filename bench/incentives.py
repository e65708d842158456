"""Incentive period close and the Earnings page, on a throwaway database.

Seeds (in bulk, straight into the tables, as quality's rollup job and accrual would have left
them) two weeks of data: a small week with a tenth of the people and ledger lines, and a large
week with `--people` people, each with an hour of rolled-up work, and `--lines` ledger entries of
accruals (two entries per accrual: person pending +X, project expense -X). One person of the large
week also has `--person-lines` accruals of their own over the 30 days up to the real clock (most
of them finalised, so their accounts hold about twice as many entries). Nothing is analysed by
hand: the close job refreshes the planner's statistics of what it reads when they are stale, and
the daily rollup's job those of the ledger and its cells, as they do in production (where
autovacuum would also run; it is off on the development machine). Then closes both weeks of an
"everyone" program with a multiplier (so every person's period earnings are read from the ledger)
and a budget, through `incentive_period_close_run` (the Celery job's code, run in this process),
and GETs the heavy person's Earnings page through Django (the view, its selectors, the template)
signed in as them: once with the daily rollup empty (every figure from the ledger), then after the
rollup's first run (all but the last quarter of an hour, which the page reads from the ledger),
checking the figures are identical. Finally the page as production serves it: gunicorn (2 workers
x 4 threads) with PostgreSQL and Redis (cache, sessions' generations, rate limits), requested over
HTTP with the person's session cookie, as their browser does.

Budgets (issue 13): the large close <= 30 s; the process's resident memory growth during the close
flat between the small and the large week; the Earnings page <= 100 ms (median of 21 GETs through
gunicorn + Redis; with `--sqlite`, the in-process figure, labelled as such).

    .venv/bin/python bench/incentives.py                       # issue sizes: 10,000 people, 1,000,000 lines
    .venv/bin/python bench/incentives.py --people 2000 --lines 100000 --person-lines 20000
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/quorum_bench_inc .venv/bin/python ...
    BENCH_REDIS_URL=redis://127.0.0.1:6379/13 (the default) is the served page's Redis
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    at_most,
    budgets_print,
    database_drop,
    database_recreate,
    load_average,
    memory_flat,
    proc_status_kb,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/quorum_bench_incentives"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
SERVED_ROUNDS = 21
WEEK_SMALL = datetime(2026, 11, 2, tzinfo=UTC)
WEEK_LARGE = WEEK_SMALL + timedelta(days=7)
BUDGET_CLOSE_SECONDS = 30.0
BUDGET_PAGE_MS = 100.0
BATCH = 5_000
FRESH = timedelta(minutes=15)
FRESH_LINES = 300


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ.setdefault("DEBUG", "false")  # as production: no query log
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)  # a throwaway database
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the page is requested in process
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_week(week: datetime, people: int, lines: int, prefix: str) -> list[int]:
    """People with an hour of work in `week` and `lines` ledger entries of accruals; ids."""
    from accounts.models import User
    from labeling.models import Project
    from payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
    from quality.performance.models import PersonHour

    projects = list(Project.objects.order_by("pk")[:5])
    User.objects.bulk_create(
        [User(email=f"{prefix}{n}@bench.test", full_name="") for n in range(people)],
        batch_size=BATCH,
    )
    ids = list(
        User.objects.filter(email__startswith=prefix, email__endswith="@bench.test")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    PersonHour.objects.bulk_create(
        [
            PersonHour(
                user_id=user_id,
                project=projects[n % len(projects)],
                hour=week + timedelta(hours=10),
                submissions=n % 60,
                final_tasks=n % 60,
                active_seconds=60 * (n % 300),
                gold_scored=10,
                gold_score_micros=(7 + n % 4) * 1_000_000,
                reviews_passed=9,
                reviews_failed=n % 3,
            )
            for n, user_id in enumerate(ids)
        ],
        batch_size=BATCH,
    )
    LedgerAccount.objects.bulk_create(
        [
            LedgerAccount(
                key=f"user:{user_id}:pending:USD",
                kind=AccountKind.PENDING,
                currency="USD",
                user_id=user_id,
            )
            for user_id in ids
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )
    pending = dict(
        LedgerAccount.objects.filter(user_id__in=ids, kind=AccountKind.PENDING).values_list(
            "user_id", "pk"
        )
    )
    expenses = [
        LedgerAccount.objects.get_or_create(
            key=f"project:{p.pk}:labour_expense_project:USD",
            defaults={"kind": AccountKind.LABOUR_EXPENSE_PROJECT, "currency": "USD", "project": p},
        )[0]
        for p in projects
    ]
    accruals = lines // 2
    for start in range(0, accruals, BATCH):
        chunk = range(start, min(start + BATCH, accruals))
        txns = LedgerTransaction.objects.bulk_create(
            [
                LedgerTransaction(
                    source_key=f"earning:accrue:{prefix}{k}",
                    posted_at=week + timedelta(seconds=k % (7 * 86_400)),
                )
                for k in chunk
            ]
        )
        if txns[0].pk is None:  # SQLite before returning ids: read them back
            txns = list(
                LedgerTransaction.objects.filter(
                    source_key__in=[f"earning:accrue:{prefix}{k}" for k in chunk]
                ).order_by("pk")
            )
        entries = []
        for k, txn in zip(chunk, txns, strict=True):
            amount = 35_000 + k % 1_000
            entries.append(
                LedgerEntry(
                    transaction=txn, account_id=pending[ids[k % len(ids)]], amount_micros=amount
                )
            )
            entries.append(
                LedgerEntry(
                    transaction=txn, account=expenses[k % len(expenses)], amount_micros=-amount
                )
            )
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
    return ids


def seed_heavy_person(
    user_id: int, lines: int, first: datetime, last: datetime, now: datetime, tag: str
) -> None:
    """`lines` accruals of one person spread over [first, last) in five projects; every
    accrual older than a day at `now` is finalised as work becoming final does (pending -X,
    payable +X), so the person's accounts hold about twice `lines` entries, as a busy
    person's do."""
    from payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction

    pending = LedgerAccount.objects.get(user_id=user_id, kind=AccountKind.PENDING)
    payable, _ = LedgerAccount.objects.get_or_create(
        key=f"user:{user_id}:payable:USD",
        defaults={"kind": AccountKind.PAYABLE, "currency": "USD", "user_id": user_id},
    )
    expenses = list(LedgerAccount.objects.filter(kind=AccountKind.LABOUR_EXPENSE_PROJECT))
    spacing = (last - first) / max(1, lines)
    for start in range(0, lines, BATCH):
        chunk = range(start, min(start + BATCH, lines))
        keys: list[tuple[str, datetime, int | None]] = []
        for k in chunk:
            at = first + spacing * k
            keys.append((f"earning:accrue:{tag}:{k}", at, None))
            if at < now - timedelta(days=1):
                keys.append((f"earning:final:{tag}:{k}", at + timedelta(hours=6), k))
        LedgerTransaction.objects.bulk_create(
            [LedgerTransaction(source_key=key, posted_at=at) for key, at, _ in keys]
        )
        ids = dict(
            LedgerTransaction.objects.filter(
                source_key__in=[key for key, _, _ in keys]
            ).values_list("source_key", "pk")
        )
        entries = []
        for key, _, finalised in keys:
            if finalised is None:
                n = int(key.rsplit(":", 1)[1])
                entries.append(
                    LedgerEntry(transaction_id=ids[key], account=pending, amount_micros=35_000)
                )
                entries.append(
                    LedgerEntry(
                        transaction_id=ids[key],
                        account=expenses[n % len(expenses)],
                        amount_micros=-35_000,
                    )
                )
            else:
                entries.append(
                    LedgerEntry(transaction_id=ids[key], account=pending, amount_micros=-30_000)
                )
                entries.append(
                    LedgerEntry(transaction_id=ids[key], account=payable, amount_micros=30_000)
                )
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)


def close(program: Any, week: datetime) -> tuple[float, int]:
    """Close the week; return (seconds, how much the process's resident memory grew at its peak
    over what it was before, in KB, sampled every 20 ms). Not tracemalloc: tracing every
    allocation would triple the time it measures."""
    from payments.services.incentives import (
        incentive_period_close_run,
        incentive_period_close_start,
    )

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc only: give freed heap back
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = proc_status_kb("VmRSS") or 0
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], proc_status_kb("VmRSS") or 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    # Outside a transaction the job queued on commit runs at once (tasks are eager here); the
    # second call finds the period closed, as a repeated close would.
    period = incentive_period_close_start(
        program=program, starts_at=week, actor=None, now=week + timedelta(days=8)
    )
    closed = incentive_period_close_run(period_id=period.pk)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    grown = peak[0] - before
    print(
        f"  closed {week:%Y-%m-%d}: {closed.people_total:,} people, paid {closed.paid_minor:,}"
        f" minor units of {closed.awarded_before_budget_minor:,} before the budget,"
        f" {seconds:.1f} s, resident memory {before / 1024:.0f} MB before, +{grown / 1024:.1f} MB"
        f" at its peak; load {load_average()}",
        flush=True,
    )
    return seconds, max(1, grown)


def page_figures(user_id: int) -> Any:
    """What the Earnings page shows of a person: its own selectors, as the view calls them."""
    from django.utils import timezone

    from payments.selectors.earnings_pages import (
        earnings_day_lines,
        earnings_statement_months,
        earnings_summary,
        month_bounds,
    )

    now = timezone.now()
    bounds = month_bounds(f"{now:%Y-%m}")
    assert bounds is not None
    return (
        [vars(summary) for summary in earnings_summary(user_id, now=now)],
        earnings_day_lines(user_id, since=bounds[0], until=bounds[1]),
        earnings_statement_months(user_id),
    )


def page_ms(user_id: int, rounds: int = 7) -> tuple[float, int, int]:
    """GET the person's Earnings page through Django (the view, its selectors, the template),
    signed in as them: the median milliseconds of `rounds` requests after a first one, the
    statements of one request and its day lines."""
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    url = reverse("payments:earnings")
    first = client.get(url, secure=True)
    assert first.status_code == 200, first.status_code
    lines = first.content.decode().count("<tr><td>20")
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url, secure=True)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.get(url, secure=True)
        timings.append(time.perf_counter() - started)
    return 1000 * sorted(timings)[len(timings) // 2], statements, lines


def served_page_ms(database_url: str, user_id: int) -> tuple[float, float, str]:
    """GET the person's Earnings page as production serves it: gunicorn (2 workers x 4 threads)
    with PostgreSQL and Redis, over HTTP with their session cookie. The median and p95
    milliseconds of SERVED_ROUNDS GETs after two warm-ups, and the configuration's line."""
    import base64
    import secrets

    from django.urls import reverse

    from accounts.models import User
    from bench.dashboards import Browser, session_cookie
    from bench.queue import Gunicorn

    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    workdir = Path(tempfile.mkdtemp(prefix="quorum-bench-incentives-"))
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": os.environ["SECRET_KEY"],  # the session cookie below is signed with it
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "MEDIA_ROOT": str(workdir / "media"),
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": "quorum-bench-incentives",
            "EMAIL_URL": "dummymail://",
            "PAYOUT_DETAILS_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
    )
    # The session is stored in the database (core.sessions), so a sign-in made here is the
    # server's too; its generations are in this process's cache and the server starts its own.
    cookie = session_cookie(User.objects.get(pk=user_id))
    server = Gunicorn(env=env, workers=2, threads=4, log_path=workdir / "gunicorn.log")
    server.start()
    try:
        browser = Browser(server.port, cookie)
        url = reverse("payments:earnings")
        for _ in range(2):
            browser.get(url)
        seconds = sorted(browser.get(url) for _ in range(SERVED_ROUNDS))
    finally:
        server.stop()
    median = 1000 * seconds[len(seconds) // 2]
    p95 = 1000 * seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    line = f"gunicorn 2 workers x 4 threads, PostgreSQL, Redis {redis_url}, over HTTP"
    return median, p95, line


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--person-lines", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="run on a temporary SQLite file, the page in process only (not production)",
    )
    args = parser.parse_args(argv)
    print("bench/incentives.py: incentive period close and the Earnings page")
    print(f"cores: {os.cpu_count()}; Python {platform.python_version()}; load {load_average()}")
    scratch = None
    if args.sqlite:
        scratch = tempfile.TemporaryDirectory(prefix="quorum-bench-")
        url = f"sqlite:///{scratch.name}/bench.sqlite3"
    else:
        url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
        database_recreate(url)
    print(f"database: {url.split('://', 1)[0]}")
    try:
        django_setup(url)
        from django.db.models import Max
        from django.utils import timezone

        from labeling.models import Customer
        from labeling.services.projects import project_create
        from payments.models import LedgerEntry, LedgerTransaction
        from payments.services.earning_days import earning_days_roll_through
        from payments.services.incentives import VersionSpec, incentive_program_create
        from quality.performance.models import RollupMark
        from quality.performance.rollups import ROLLUP_NAME

        customer = Customer.objects.create(name="Bench customer")
        for n in range(5):
            project_create(
                customer=customer,
                name=f"Bench project {n}",
                actor=None,
                task_type="single_label",
                labels=["a", "b"],
            )
        started = time.perf_counter()
        small = seed_week(WEEK_SMALL, max(1, args.people // 10), args.lines // 10, "s")
        large = seed_week(WEEK_LARGE, args.people, args.lines, "l")
        # The heavy person's month runs to the real clock, so that the page's today, week and
        # month have it: the last 30 days, then the quarter of an hour the daily rollup has not
        # taken yet (its beat job waits for postings to settle).
        now = timezone.now()
        heavy = large[0]
        seed_heavy_person(
            heavy, args.person_lines, now - timedelta(days=30), now - FRESH, now, "heavy"
        )
        rollup_through = LedgerTransaction.objects.aggregate(top=Max("pk"))["top"]
        seed_heavy_person(heavy, FRESH_LINES, now - FRESH, now, now, "fresh")
        done = WEEK_LARGE + timedelta(days=7)
        RollupMark.objects.create(name=ROLLUP_NAME, rolled_until=done, gold_fixed_until=done)
        person_entries = LedgerEntry.objects.filter(account__user_id=heavy).count()
        print(
            f"seeded {len(small):,} + {len(large):,} people, {args.lines // 10:,} +"
            f" {args.lines:,} ledger lines and {args.person_lines + FRESH_LINES:,} accruals of one"
            f" person ({person_entries:,} entries on their accounts, with finalisations) in"
            f" {time.perf_counter() - started:.0f} s (no ANALYZE: the close job's statistics step"
            " analyses what it reads, core/table_statistics.py)",
            flush=True,
        )
        program = incentive_program_create(
            actor=None,
            name="Bench",
            scope="everyone",
            period="week",
            currency="USD",
            first_version=VersionSpec(
                kind="multiplier",
                tiers=[
                    {"reward": 50_000, "min_final_tasks": 10, "min_gold_low_ppm": 400_000},
                    {"reward": 100_000, "min_final_tasks": 40, "min_review_pass_ppm": 900_000},
                ],
                cap_minor=5_000,
                budget_minor=args.people * 20,
                budget_policy="stop",
            ),
            now=WEEK_SMALL - timedelta(days=1),
        )
        # The page before the daily rollup holds anything: every figure from the ledger.
        ledger_ms, ledger_statements, _ = page_ms(heavy)
        from_ledger = page_figures(heavy)
        print(
            f"  Earnings page of the heavy person from the ledger alone (empty rollup):"
            f" {ledger_ms:.0f} ms, {ledger_statements} statements; load {load_average()}",
            flush=True,
        )
        # The rollup as its beat job keeps it in production (every 5 minutes): here its first
        # run, over the whole seeded history but the last quarter of an hour.
        started = time.perf_counter()
        rolled = earning_days_roll_through(through_id=rollup_through)
        print(
            f"  daily rollup (the beat job's first run) through transaction"
            f" {rolled.rolled_through_id:,}: {rolled.cells:,} cells in"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        same = page_figures(heavy) == from_ledger
        print(
            f"  the page's figures with the rollup identical to the ledger-only page:"
            f" {'yes' if same else 'NO'}",
            flush=True,
        )
        _, small_kb = close(program, WEEK_SMALL)
        large_seconds, large_kb = close(program, WEEK_LARGE)
        page, statements, lines = page_ms(heavy)
        print(
            f"  Earnings page of the heavy person (rollup + their entries after it, bonuses"
            f" included), in this process through Django's test client, Redis off (not"
            f" production): {page:.1f} ms median, {statements} statements, {lines} day lines"
            f" shown; load {load_average()}",
            flush=True,
        )
        if args.sqlite:
            page_budget = at_most(
                "Earnings page (GET in process, SQLite: not production)",
                page,
                BUDGET_PAGE_MS,
                "ms",
            )
        else:
            served, served_p95, served_by = served_page_ms(url, heavy)
            print(
                f"  Earnings page of the heavy person as production serves it ({served_by}):"
                f" {served:.1f} ms median, p95 {served_p95:.1f} ms of {SERVED_ROUNDS} GETs;"
                f" load {load_average()}"
            )
            page_budget = at_most(
                "Earnings page (GET through gunicorn + Redis)", served, BUDGET_PAGE_MS, "ms"
            )
        met = budgets_print(
            "budgets",
            [
                at_most(
                    f"close of {args.people:,} people", large_seconds, BUDGET_CLOSE_SECONDS, "s"
                ),
                memory_flat("close memory growth (small vs large week)", small_kb, large_kb),
                page_budget,
            ],
        )
        return 0 if met and same else 1
    finally:
        if scratch is not None:
            scratch.cleanup()
        elif not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(url)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
