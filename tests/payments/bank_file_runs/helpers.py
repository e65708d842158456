"""Bank-file run test data: an approved bank-file run of people with payable balances, a US
person paid in USD, and the bank's report as bytes."""

from __future__ import annotations

from accounts.models import Role, User
from labeling.models import Project
from payments.bank_files import BankPayment
from payments.models import PayoutItemStatus, PayoutRun
from payments.selectors.payout_accounts import bank_payment_details
from payments.services.payout_runs import payout_run_approve
from tests.factories import make_user
from tests.payments.factories import VALID_ROUTING, make_payout_account
from tests.payments.payout_runs.helpers import committed, create_run, give_payable


def approved_run(creator: User, approver: User, *, currency: str = "EUR") -> PayoutRun:
    """Create (freeze) a bank-file run as `creator` and approve it as `approver`: its items
    are then waiting in the bank file."""
    run = create_run(creator, currency=currency)
    committed(payout_run_approve, run_id=run.pk, actor=approver)
    run.refresh_from_db()
    return run


def us_person(project: Project, minor: int) -> User:
    """An annotator with `minor` USD payable and a US bank account (routing and account number)."""
    user = make_user(Role.ANNOTATOR)
    give_payable(user, project, minor, "USD", f"us-{user.pk}")
    make_payout_account(
        user,
        country="US",
        currency="USD",
        details={
            "holder_name": "Grace Hopper",
            "routing_number": VALID_ROUTING,
            "account_number": "000123456789",
        },
    )
    return user


def expected_payments(run: PayoutRun) -> list[BankPayment]:
    """What bank_files should be given for the run: one payment per item waiting in the bank
    file, in item order, from the person's details (read here without an actor)."""
    items = run.items.filter(status=PayoutItemStatus.AWAITING_BANK_FILE).order_by("pk")
    return [
        bank_payment_details(item.person, actor=None, purpose="test").payment(
            reference=str(item.pk), amount_minor=item.amount_minor
        )
        for item in items.select_related("person")
    ]


def report(*lines: str, header: str = "reference,status,message") -> bytes:
    """The bank's report: a header and one CSV line each (CRLF, as banks write them)."""
    return ("\r\n".join([header, *lines]) + "\r\n").encode()
