"""Payout run test data, made through the services: people with a payable balance and a payout
account (bank file or Stripe Connect on the fake server), finance users, ledger checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from django.db.models import Sum
from django.test import TestCase
from django.utils import timezone

from accounts.models import Role, User
from kit.money import micros_per_minor
from labeling.models import Project
from payments.models import (
    AccountKind,
    LedgerAccount,
    PayoutAccount,
    PayoutRun,
    StripeConnectedAccount,
    StripeEvent,
    TransfersCapability,
)
from payments.selectors.ledger import ledger_reconciliation
from payments.services.ledger import ledger_release_to_payable
from payments.services.payout_runs import payout_run_create
from payments.services.stripe_events import stripe_event_process, stripe_event_receive
from payments.stripe_client import stripe_client
from tests.factories import make_user
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.factories import accrue, make_payout_account
from tests.payments.fake_stripe import webhook_payload, webhook_signature_header

T = TypeVar("T")
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))


def finance_user(*, mfa: bool = True) -> User:
    return make_user(Role.FINANCE, mfa=mfa)


def give_payable(user: User, project: Project, minor: int, currency: str, key: str) -> None:
    """Post an earning of `minor` minor units and release it to payable."""
    accrue(user, project, minor * micros_per_minor(currency), f"test:{key}", currency)
    ledger_release_to_payable(
        user=user, currency=currency, source_key=f"test-release:{key}", actor=None
    )


def bank_person(project: Project, minor: int, *, currency: str = "EUR", ready: bool = True) -> User:
    """An annotator with `minor` payable and (if `ready`) a bank-file account usable now."""
    user = make_user(Role.ANNOTATOR)
    give_payable(user, project, minor, currency, f"bank-{user.pk}")
    if ready:
        make_payout_account(user, currency=currency)
    return user


def stripe_account(fake: object) -> str:
    """A connected account on the fake server that finished onboarding (transfers active)."""
    account = stripe_client().v1.accounts.create(
        params={
            "type": "express",
            "country": "US",
            "capabilities": {"transfers": {"requested": True}},
        }
    )
    fake.account_complete_onboarding(account.id)  # type: ignore[attr-defined]
    return str(account.id)


def stripe_person(project: Project, minor: int, destination: str, currency: str = "USD") -> User:
    """An annotator with `minor` payable and a ready Stripe Connect payout account."""
    user = make_user(Role.ANNOTATOR)
    give_payable(user, project, minor, currency, f"stripe-{user.pk}")
    account = PayoutAccount.objects.create(
        user=user,
        provider="stripe_connect",
        status="ready",
        country="US",
        currency=currency,
        confirmed_at=timezone.now() - timedelta(days=10),
        usable_from=timezone.now() - timedelta(days=7),
    )
    StripeConnectedAccount.objects.create(
        user=user,
        payout_account=account,
        stripe_account=destination,
        country="US",
        currency=currency,
        payouts_enabled=True,
        details_submitted=True,
        transfers_status=TransfersCapability.ACTIVE,
        synced_at=timezone.now(),
        chosen_at=timezone.now() - timedelta(days=10),
    )
    return user


def committed(fn: Callable[..., T], **kwargs: Any) -> T:
    """Call a service and run what it leaves for the commit (the tests' transaction never
    commits): the queued Celery jobs, which run eagerly."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(**kwargs)


def create_run(creator: User, *, currency: str = "EUR", provider: str = "bank_file") -> PayoutRun:
    run = committed(
        payout_run_create,
        actor=creator,
        currency=currency,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        provider=provider,
    )
    run.refresh_from_db()
    return run


def balance_minor(user: User, kind: str, currency: str) -> int:
    account = LedgerAccount.objects.filter(user=user, kind=kind, currency=currency).first()
    return 0 if account is None else account.balance_micros // micros_per_minor(currency)


def total_minor(kind: str, currency: str) -> int:
    micros = (
        LedgerAccount.objects.filter(kind=kind, currency=currency).aggregate(
            s=Sum("balance_micros")
        )["s"]
        or 0
    )
    return micros // micros_per_minor(currency)


def assert_ledger_clean() -> None:
    report = ledger_reconciliation()
    assert report.is_clean, report.lines()


PAYABLE, IN_TRANSIT, PAID = AccountKind.PAYABLE, AccountKind.IN_TRANSIT, AccountKind.PAID


def deliver_event(event: dict[str, Any]) -> StripeEvent:
    """Stripe posts `event` (signed); Quorum stores it once and processes it now."""
    payload = webhook_payload(event)
    received = stripe_event_receive(
        payload=payload.encode(), signature=webhook_signature_header(payload, WEBHOOK_SECRET)
    )
    return committed(stripe_event_process, event_id=received.event.pk)
