"""Incentive period close and the Earnings page, on a throwaway database.

Seeds (in bulk, straight into the tables, as quality's rollup job and accrual would have left
them) two weeks of data: a small week with a tenth of the people and ledger lines, and a large
week with `--people` people, each with an hour of rolled-up work, and `--lines` ledger entries of
accruals (two entries per accrual: person pending +X, project expense -X). One person of the large
week also has `--person-lines` accruals of their own. Then closes both weeks of an "everyone"
program with a multiplier (so every person's period earnings are read from the ledger) and a
budget, through `incentive_period_close_run`, and times the Earnings page's reads for the heavy
person.

Budgets (issue 13): the large close <= 30 s; Python memory at its peak flat between the small
and the large week (tracemalloc, which sees the batches); the Earnings page's reads <= 100 ms.

    .venv/bin/python bench/incentives.py                       # issue sizes: 10,000 people, 1,000,000 lines
    .venv/bin/python bench/incentives.py --people 2000 --lines 100000 --person-lines 20000
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/quorum_bench_inc .venv/bin/python ...
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import tracemalloc
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
)

WEEK_SMALL = datetime(2026, 11, 2, tzinfo=UTC)
WEEK_LARGE = WEEK_SMALL + timedelta(days=7)
BUDGET_CLOSE_SECONDS = 30.0
BUDGET_PAGE_MS = 100.0
BATCH = 5_000


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ["EMAIL_URL"] = "dummymail://"
    os.environ.setdefault("DEBUG", "false")  # as production: no query log
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)  # a throwaway database
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


def seed_heavy_person(user_id: int, lines: int) -> None:
    """`lines` accruals of one person over 30 days in five projects."""
    from payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction

    pending = LedgerAccount.objects.get(user_id=user_id, kind=AccountKind.PENDING)
    expenses = list(LedgerAccount.objects.filter(kind=AccountKind.LABOUR_EXPENSE_PROJECT))
    for start in range(0, lines, BATCH):
        chunk = range(start, min(start + BATCH, lines))
        keys = [f"earning:accrue:heavy:{k}" for k in chunk]
        LedgerTransaction.objects.bulk_create(
            [
                LedgerTransaction(
                    source_key=key, posted_at=WEEK_LARGE - timedelta(days=23, seconds=-k * 25)
                )
                for key, k in zip(keys, chunk, strict=True)
            ]
        )
        txns = list(LedgerTransaction.objects.filter(source_key__in=keys).order_by("pk"))
        entries = []
        for k, txn in zip(chunk, txns, strict=True):
            entries.append(LedgerEntry(transaction=txn, account=pending, amount_micros=3_500))
            entries.append(
                LedgerEntry(
                    transaction=txn, account=expenses[k % len(expenses)], amount_micros=-3_500
                )
            )
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)


def close(program: Any, week: datetime) -> tuple[float, int]:
    """Close the week; return (seconds, peak Python memory in KB)."""
    from payments.services.incentives import (
        incentive_period_close_run,
        incentive_period_close_start,
    )

    tracemalloc.start()
    started = time.perf_counter()
    # Outside a transaction the job queued on commit runs at once (tasks are eager here); the
    # second call finds the period closed, as a repeated close would.
    period = incentive_period_close_start(
        program=program, starts_at=week, actor=None, now=week + timedelta(days=8)
    )
    closed = incentive_period_close_run(period_id=period.pk)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  closed {week:%Y-%m-%d}: {closed.people_total:,} people, paid {closed.paid_minor:,}"
        f" minor units of {closed.awarded_before_budget_minor:,} before the budget,"
        f" {seconds:.1f} s, peak Python memory {peak / 1024 / 1024:.1f} MB",
        flush=True,
    )
    return seconds, peak // 1024


def page_ms(user_id: int) -> float:
    """The Earnings page's reads for one person (summary, this month's lines, bonuses, months)."""
    from payments.selectors.earnings_pages import (
        earnings_bonus_rows,
        earnings_day_lines,
        earnings_statement_months,
        earnings_summary,
    )

    now = WEEK_LARGE + timedelta(days=1)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        earnings_summary(user_id, now=now)
        earnings_day_lines(user_id, since=datetime(2026, 10, 1, tzinfo=UTC), until=now)
        earnings_bonus_rows(user_id)[:20]
        earnings_statement_months(user_id)
        timings.append(time.perf_counter() - started)
    return 1000 * sorted(timings)[len(timings) // 2]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--person-lines", type=int, default=100_000)
    args = parser.parse_args(argv)
    print("bench/incentives.py: incentive period close and the Earnings page")
    print(f"cores: {os.cpu_count()}; Python {platform.python_version()}; load {load_average()}")
    url = os.environ.get("BENCH_DATABASE_URL")
    scratch = None
    if url:
        database_recreate(url)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="quorum-bench-")
        url = f"sqlite:///{scratch.name}/bench.sqlite3"
    print(f"database: {url.split('://', 1)[0]}")
    try:
        django_setup(url)
        from labeling.models import Customer
        from labeling.services.projects import project_create
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
        seed_heavy_person(large[0], args.person_lines)
        done = WEEK_LARGE + timedelta(days=7)
        RollupMark.objects.create(name=ROLLUP_NAME, rolled_until=done, gold_fixed_until=done)
        print(
            f"seeded {len(small):,} + {len(large):,} people, {args.lines // 10:,} +"
            f" {args.lines:,} ledger lines and {args.person_lines:,} accruals of one person"
            f" in {time.perf_counter() - started:.0f} s",
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
        _, small_kb = close(program, WEEK_SMALL)
        large_seconds, large_kb = close(program, WEEK_LARGE)
        page = page_ms(large[0])
        print(f"  Earnings page reads for a person with {args.person_lines:,} lines: {page:.1f} ms")
        met = budgets_print(
            "budgets",
            [
                at_most(
                    f"close of {args.people:,} people", large_seconds, BUDGET_CLOSE_SECONDS, "s"
                ),
                memory_flat("close memory (small vs large week)", small_kb, large_kb),
                at_most("Earnings page reads", page, BUDGET_PAGE_MS, "ms"),
            ],
        )
        return 0 if met else 1
    finally:
        if scratch is not None:
            scratch.cleanup()
        else:
            database_drop(url)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
