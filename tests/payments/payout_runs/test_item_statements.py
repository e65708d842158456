"""Paying an item is a worker's whole task, repeated for every person of a run: it reads the
person's two accounts once and opens none (the freeze opened them for its batch)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.models import AccountKind, LedgerAccount, PayoutItemStatus, PayoutRunStatus
from payments.services import payout_runs as services
from tests.payments.payout_runs.helpers import (
    create_run,
    finance_user,
    stripe_account,
    stripe_person,
)

pytestmark = pytest.mark.django_db


def _statements_on(table: str, verb: str, queries: list[dict[str, str]]) -> int:
    return sum(
        1
        for q in queries
        if q["sql"].startswith(verb) and f'"{table}"' in q["sql"].split("WHERE")[0]
    )


def test_paying_an_item_reads_its_accounts_once_and_opens_none(project, fake_stripe):
    fake_stripe.balance_set("usd", 1_000_000)
    person = stripe_person(project, 2_000, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    services.payout_run_approve(run_id=run.pk, actor=finance_user())
    type(run).objects.filter(pk=run.pk).update(status=PayoutRunStatus.EXECUTING)
    item = run.items.get()

    with CaptureQueriesContext(connection) as statements:
        paid = services.payout_item_execute(item_id=item.pk)

    assert paid.status == PayoutItemStatus.SUCCEEDED
    assert LedgerAccount.objects.get(user=person, kind=AccountKind.PAID).balance_micros > 0
    assert _statements_on("payments_ledgeraccount", "SELECT", statements.captured_queries) == 1
    assert _statements_on("payments_ledgeraccount", "INSERT", statements.captured_queries) == 0


# Counted 2026-12-07 on a first payout inside the test's transaction (so savepoints stand for the
# claim's and the record's transactions): the claim (the item locked with its run and person in
# one prepared statement, then saved), the record (the item locked again, the person's accounts
# read, the posting statement, the item saved, its audit record, the notification with the
# person's e-mail choice), and the run's "done" check. SQLite has no data-modifying CTEs: the
# posting is several statements there.
# A statement's PREPARE, once per connection on PostgreSQL, is not counted.
PAID_ITEM_STATEMENTS = {"postgresql": 16, "sqlite": 19}


def test_paying_an_item_takes_a_bounded_number_of_statements(
    project, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.balance_set("usd", 1_000_000)
    stripe_person(project, 2_000, stripe_account(fake_stripe))
    run = create_run(finance_user(), currency="USD", provider="stripe_connect")
    services.payout_run_approve(run_id=run.pk, actor=finance_user())
    type(run).objects.filter(pk=run.pk).update(status=PayoutRunStatus.EXECUTING)
    item = run.items.get()

    with (
        CaptureQueriesContext(connection) as statements,
        django_capture_on_commit_callbacks(execute=True),
    ):
        paid = services.payout_item_execute(item_id=item.pk)

    assert paid.status == PayoutItemStatus.SUCCEEDED
    counted = [q for q in statements.captured_queries if not q["sql"].startswith("PREPARE")]
    print("\n".join(q["sql"][:100] for q in counted))
    assert len(counted) <= PAID_ITEM_STATEMENTS[connection.vendor]
