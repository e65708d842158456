"""Payout runs at scale: freezing a run for many people, and paying it through two Celery worker
processes against the local fake Stripe server.

    .venv/bin/python bench/payouts.py                    # 10,000 people (the budgets' size)
    .venv/bin/python bench/payouts.py --people 500       # a smoke run

It recreates its own PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/quorum_bench_payouts) and uses Redis at BENCH_REDIS_URL
(default redis://127.0.0.1:6379/14) as the Celery broker; the database is dropped at the end
(`--keep-db` keeps it). People, payable balances (one ledger posting per 1,000 people) and
ready Stripe payout accounts are seeded in bulk; connected accounts live in the fake server.

Figures: the freeze's seconds and the process's peak resident memory while freezing, for a
tenth of the people and for all of them (memory flat: the freeze works in batches of 500 and keeps none of them), then
the items per second paid by one `celery worker --concurrency=2` on the `payouts` queue, from
approval to the run being done. Budgets: freeze <= 30 s for 10,000 people, memory flat,
>= 100 items/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

from _support import (  # type: ignore[import-not-found]  # bench/ is run as scripts
    ROOT,
    at_least,
    at_most,
    budgets_print,
    database_drop,
    database_recreate,
    load_average,
    memory_flat,
    proc_status_kb,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/quorum_bench_payouts"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--keep-db", action="store_true")
    return parser.parse_args(argv)


def django_setup(database_url: str, redis_url: str, stripe_url: str, api_key: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": "quorum-bench-payouts",
            "EMAIL_URL": "dummymail://",
            "STRIPE_API_KEY": api_key,
            "STRIPE_API_BASE": stripe_url,
            "STRIPE_MAX_NETWORK_RETRIES": "0",
            "PAYOUT_MINIMUM_MINOR": "USD=500",
        }
    )
    # As production runs: with DEBUG on, every process (the workers too, which inherit this
    # environment) keeps a log of every statement it runs.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)  # a throwaway database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(n: int, fake: object, tag: str) -> list[int]:
    """n people with a payable USD balance and a ready Stripe payout account; return their ids."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from kit.money import Micros
    from payments.models import (
        AccountKind,
        LedgerAccount,
        PayoutAccount,
        StripeConnectedAccount,
        TransfersCapability,
    )
    from payments.services.ledger import Leg, ledger_account_get_or_create, ledger_post

    users = User.objects.bulk_create(
        User(email=f"bench-{tag}-{i}@example.test", password="!")  # noqa: S106  (an unusable password)
        for i in range(n)
    )
    ids = [u.pk for u in users]
    expense = ledger_account_get_or_create(kind=AccountKind.BONUS_EXPENSE, currency="USD")
    accounts = LedgerAccount.objects.bulk_create(
        LedgerAccount(
            key=f"user:{pk}:{AccountKind.PAYABLE}:USD",
            kind=AccountKind.PAYABLE,
            currency="USD",
            user_id=pk,
        )
        for pk in ids
    )
    for start in range(0, n, 1000):
        chunk = accounts[start : start + 1000]
        amounts = [(1_000 + (start + i) % 5_000) * 10_000 for i in range(len(chunk))]
        ledger_post(
            source_key=f"bench:{tag}:seed:{start}",
            legs=[
                Leg(account=a, amount=Micros(m, "USD")) for a, m in zip(chunk, amounts, strict=True)
            ]
            + [Leg(account=expense, amount=Micros(-sum(amounts), "USD"))],
            actor=None,
            memo="bench seed",
        )
    now = timezone.now()
    destinations = []
    for pk in ids:
        account_id = f"acct_bench{tag}{pk}"
        fake.accounts[account_id] = {  # type: ignore[attr-defined]
            "id": account_id,
            "object": "account",
            "capabilities": {"transfers": "active"},
            "payouts_enabled": True,
        }
        destinations.append(account_id)
    payout_accounts = PayoutAccount.objects.bulk_create(
        PayoutAccount(
            user_id=pk,
            provider="stripe_connect",
            status="ready",
            country="US",
            currency="USD",
            confirmed_at=now - timedelta(days=10),
            usable_from=now - timedelta(days=7),
        )
        for pk in ids
    )
    StripeConnectedAccount.objects.bulk_create(
        StripeConnectedAccount(
            user_id=pk,
            payout_account_id=account.pk,
            stripe_account=dest,
            country="US",
            currency="USD",
            payouts_enabled=True,
            details_submitted=True,
            transfers_status=TransfersCapability.ACTIVE,
            synced_at=now,
            chosen_at=now - timedelta(days=10),
        )
        for pk, account, dest in zip(ids, payout_accounts, destinations, strict=True)
    )
    return ids


def freeze(creator: object) -> tuple[float, int, int]:
    """Create (and freeze, in process) a Stripe run; return its seconds, the process's peak
    resident memory while it froze (kB, sampled every 50 ms) and the run's id."""
    from datetime import date

    from celery import current_app

    from payments.models import PayoutRun
    from payments.services import payout_runs as services

    current_app.conf.task_always_eager = False
    enqueued: list[int] = []
    services_enqueue = services._enqueue
    # The freeze is timed in this process: its job is not sent to the workers.
    services._enqueue = lambda name, *args, countdown=None: enqueued.append(args[0])
    try:
        run = services.payout_run_create(
            actor=creator,  # type: ignore[arg-type]
            currency="USD",
            period_start=date(2026, 11, 1),
            period_end=date(2026, 11, 30),
            provider="stripe_connect",
        )
    finally:
        services._enqueue = services_enqueue
    peak = [proc_status_kb("VmRSS") or 0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], proc_status_kb("VmRSS") or 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    services.payout_run_freeze(run_id=run.pk)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    run = PayoutRun.objects.get(pk=run.pk)
    return seconds, peak[0], run.pk


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.payments.fake_stripe import FakeStripe, _Handler

    # The fake answers in several writes; with Nagle's algorithm on, each answer waits ~40 ms for
    # the client's delayed ACK, which would measure the fake's socket, not Quorum.
    _Handler.disable_nagle_algorithm = True

    print("bench/payouts.py: freezing and paying payout runs (Stripe, fake server, 2 workers)")
    print(f"cores: {os.cpu_count()}; Python {platform.python_version()}; load {load_average()}")
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    database_recreate(url)
    fake = FakeStripe().start()
    fake.balance_set("usd", 10**12)
    worker: subprocess.Popen[str] | None = None
    try:
        django_setup(url, redis_url, fake.url, fake.api_key)
        from accounts.models import Role, User
        from accounts.services import RoleSpec, user_create
        from payments.models import PayoutItem, PayoutRun, PayoutRunStatus
        from payments.services import payout_runs as services

        def finance(email: str) -> User:
            user = user_create(
                email=email,
                password="bench-only-pw-1",  # noqa: S106  (a throwaway bench user)
                roles=[RoleSpec(Role.FINANCE, None)],
            )
            from allauth.mfa.models import Authenticator

            Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={})
            return user

        creator, approver = finance("creator@example.test"), finance("approver@example.test")
        small = max(1, args.people // 10)
        seed(small, fake, "s")
        small_seconds, small_peak, small_run = freeze(creator)
        # The small run is closed (cancelled) so that the large one can open.
        services.payout_run_cancel(run_id=small_run, actor=approver, reason="bench")
        seed(args.people, fake, "l")
        large_seconds, large_peak, run_id = freeze(creator)
        items = PayoutItem.objects.filter(run_id=run_id).count()
        print(
            f"freeze: {small + args.people:,} people with payable ({small:,} then {args.people:,});"
            f" small run {small_seconds:.1f} s (peak RSS {small_peak / 1024:.1f} MB), large run"
            f" {large_seconds:.1f} s for {items:,} items (peak RSS {large_peak / 1024:.1f} MB)"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                "payouts",
                "--pool=prefork",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            text=True,
        )
        time.sleep(5)
        from celery import current_app

        current_app.conf.task_always_eager = False
        started = time.perf_counter()
        services.payout_run_approve(run_id=run_id, actor=approver)
        deadline = started + max(120.0, items / 20)
        while PayoutRun.objects.get(pk=run_id).status != PayoutRunStatus.DONE:
            if time.perf_counter() > deadline:
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        done = PayoutItem.objects.filter(run_id=run_id, status="succeeded").count()
        rate = done / seconds if seconds else 0.0
        print(f"execute: {done:,} of {items:,} items paid in {seconds:.1f} s ({rate:.0f} items/s)")
        transfers = len(fake.transfers)
        print(f"fake Stripe: {transfers:,} transfers for {items:,} items")
        scale = 10_000 / max(1, args.people)
        budgets = [
            at_most("freeze, scaled to 10,000 people", large_seconds * scale, 30.0, "s"),
            memory_flat("freeze peak RSS, tenth vs all", small_peak, large_peak),
            at_least("execution with 2 worker processes", rate, 100.0, "items/s"),
            at_most("transfers made per item", transfers / max(1, items), 1.0, "", digits=2),
        ]
        return 0 if budgets_print("budgets", budgets) else 1
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=20)
        fake.stop()
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            database_drop(url)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
