"""Payout runs by bank file: freezing (items, exclusions with reasons, payable -> in transit),
four-eyes approval with MFA, cancelling before approval, marking items paid or failed."""

from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from core.errors import Conflict, PermissionDenied
from payments.models import LedgerTransaction, PayoutAccount, PayoutItemStatus, PayoutRunStatus
from payments.selectors.payout_runs import payout_hold_check_register, payout_hold_check_unregister
from payments.services.payout_runs import (
    payout_item_mark_failed,
    payout_item_mark_paid,
    payout_item_retry,
    payout_run_approve,
    payout_run_cancel,
    payout_runs_reconcile,
)
from tests.factories import make_user
from tests.payments.payout_runs.helpers import (
    IN_TRANSIT,
    PAID,
    PAYABLE,
    assert_ledger_clean,
    balance_minor,
    bank_person,
    committed,
    create_run,
    finance_user,
)
from workforce.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator():
    return finance_user()


@pytest.fixture
def approver():
    return finance_user()


def test_freeze_moves_payable_to_in_transit_and_lists_everyone_else_with_a_reason(
    project, creator, settings
):
    settings.QUORUM_PAYOUT_MINIMUM_MINOR = {"EUR": 1_000}
    paid = [bank_person(project, 2_500), bank_person(project, 1_000)]
    small = bank_person(project, 999)
    no_account = bank_person(project, 5_000, ready=False)
    cooling = make_user(Role.ANNOTATOR)
    from tests.payments.factories import make_payout_account
    from tests.payments.payout_runs.helpers import give_payable

    give_payable(cooling, project, 3_000, "EUR", "cooling")
    make_payout_account(cooling, currency="EUR", cooled_off=False)
    held = bank_person(project, 4_000)
    payout_hold_check_register(
        "test", lambda ids, cur: {held.pk: "fraud review"} if held.pk in ids else {}
    )
    try:
        run = create_run(creator)
    finally:
        payout_hold_check_unregister("test")

    assert run.status == PayoutRunStatus.FROZEN
    assert sorted(run.items.values_list("person_id", "amount_minor")) == sorted(
        [(paid[0].pk, 2_500), (paid[1].pk, 1_000)]
    )
    assert run.frozen_total_minor == 3_500 and run.item_count == 2
    reasons = dict(run.exclusions.values_list("person_id", "code"))
    assert reasons == {
        small.pk: "below_minimum",
        no_account.pk: "no_account",
        cooling.pk: "cooling_off",
        held.pk: "hold",
    }
    assert "fraud review" in run.exclusions.get(person=held).reason
    assert balance_minor(paid[0], PAYABLE, "EUR") == 0
    assert balance_minor(paid[0], IN_TRANSIT, "EUR") == 2_500
    assert balance_minor(small, PAYABLE, "EUR") == 999
    assert_ledger_clean()


def test_freeze_batches_are_one_ledger_transaction_each_and_a_repeat_changes_nothing(
    project, creator, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    people = [bank_person(project, 1_500 + i) for i in range(5)]
    from payments.models import PayoutRun
    from payments.services import payout_runs as services

    run = PayoutRun.objects.create(
        currency="EUR",
        period_start=timezone.now().date(),
        period_end=timezone.now().date(),
        provider="bank_file",
        created_by=creator,
        minimum_minor=1_000,
        transfer_group="g",
    )
    services.payout_run_freeze(run_id=run.pk, batch_size=2)
    services.payout_run_freeze(run_id=run.pk, batch_size=2)

    run.refresh_from_db()
    postings = LedgerTransaction.objects.filter(
        source_key__startswith=f"payout_run:{run.pk}:freeze:"
    )
    assert postings.count() == 3  # 2 + 2 + 1 people
    assert run.item_count == 5 and run.frozen_total_minor == sum(1_500 + i for i in range(5))
    assert all(balance_minor(p, PAYABLE, "EUR") == 0 for p in people)


def test_the_creator_cannot_approve_their_own_run(project, creator):
    bank_person(project, 2_000)
    run = create_run(creator)

    with pytest.raises(PermissionDenied, match="second finance user"):
        payout_run_approve(run_id=run.pk, actor=creator)

    run.refresh_from_db()
    assert run.status == PayoutRunStatus.FROZEN and run.approved_by is None


def test_the_database_refuses_an_approver_who_created_the_run(project, creator):
    bank_person(project, 2_000)
    run = create_run(creator)

    with pytest.raises(IntegrityError), transaction.atomic():
        type(run).objects.filter(pk=run.pk).update(approved_by=creator)


def test_a_non_finance_user_cannot_approve(project, creator):
    bank_person(project, 2_000)
    run = create_run(creator)
    manager = make_user(Role.MANAGER, mfa=True)

    with pytest.raises(PermissionDenied):
        payout_run_approve(run_id=run.pk, actor=manager)


def test_without_mfa_nobody_creates_or_approves(project, creator):
    bank_person(project, 2_000)
    no_mfa = finance_user(mfa=False)
    with pytest.raises(PermissionDenied) as refused:
        create_run(no_mfa)
    assert refused.value.code == "mfa_required"
    run = create_run(creator)

    with pytest.raises(PermissionDenied) as refused:
        payout_run_approve(run_id=run.pk, actor=finance_user(mfa=False))
    assert refused.value.code == "mfa_required"

    Authenticator.objects.filter(user=creator).delete()  # the creator lost their second factor
    with pytest.raises(PermissionDenied) as refused:
        payout_run_approve(run_id=run.pk, actor=finance_user())
    assert refused.value.code == "mfa_required"


def test_cancel_before_approval_returns_everything_to_payable(project, creator, approver):
    person = bank_person(project, 2_000)
    run = create_run(creator)

    payout_run_cancel(run_id=run.pk, actor=approver, reason="wrong period")

    run.refresh_from_db()
    assert run.status == PayoutRunStatus.CANCELLED
    assert balance_minor(person, PAYABLE, "EUR") == 2_000
    assert balance_minor(person, IN_TRANSIT, "EUR") == 0
    assert set(run.items.values_list("status", flat=True)) == {PayoutItemStatus.CANCELLED}
    assert_ledger_clean()
    with pytest.raises(Conflict):
        payout_run_approve(run_id=run.pk, actor=approver)


def test_an_approved_run_cannot_be_cancelled(project, creator, approver):
    bank_person(project, 2_000)
    run = create_run(creator)
    payout_run_approve(run_id=run.pk, actor=approver)

    with pytest.raises(Conflict):
        payout_run_cancel(run_id=run.pk, actor=approver, reason="too late")


def test_one_open_run_per_currency_and_provider(project, creator):
    bank_person(project, 2_000)
    create_run(creator)

    with pytest.raises(Conflict):
        create_run(creator)


def test_bank_file_items_marked_paid_or_failed_move_the_ledger_and_tell_the_person(
    project, creator, approver
):
    ok, bad = bank_person(project, 2_000), bank_person(project, 3_000)
    run = create_run(creator)
    committed(payout_run_approve, run_id=run.pk, actor=approver)
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.EXECUTING
    assert set(run.items.values_list("status", flat=True)) == {PayoutItemStatus.AWAITING_BANK_FILE}

    committed(
        payout_item_mark_paid, item_id=run.items.get(person=ok).pk, actor=approver, reference="B-1"
    )
    committed(
        payout_item_mark_failed,
        item_id=run.items.get(person=bad).pk,
        actor=approver,
        reason="Account closed",
    )

    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert (balance_minor(ok, PAID, "EUR"), balance_minor(ok, IN_TRANSIT, "EUR")) == (2_000, 0)
    assert (balance_minor(bad, PAYABLE, "EUR"), balance_minor(bad, IN_TRANSIT, "EUR")) == (3_000, 0)
    assert run.items.get(person=bad).provider_message == "Account closed"
    assert Notification.objects.filter(user=bad, kind="payout", title__contains="failed").exists()
    assert Notification.objects.filter(user=ok, kind="payout", title__contains="sent").exists()
    assert payout_runs_reconcile(run_ids=[run.pk]) == {run.pk: []}
    assert_ledger_clean()

    retried = payout_item_retry(item_id=run.items.get(person=bad).pk, actor=approver)

    run.refresh_from_db()
    assert retried.attempt == 2 and retried.status == PayoutItemStatus.AWAITING_BANK_FILE
    assert run.status == PayoutRunStatus.EXECUTING
    assert balance_minor(bad, IN_TRANSIT, "EUR") == 3_000
    assert_ledger_clean()


def test_a_cooling_off_account_is_excluded_until_its_period_ends(project, creator):
    person = bank_person(project, 2_000)
    PayoutAccount.objects.filter(user=person).update(
        status="cooling_off", usable_from=timezone.now() + timedelta(hours=5)
    )

    run = create_run(creator)

    assert run.exclusions.get(person=person).code == "cooling_off"


def test_bank_details_are_not_erased_while_a_payout_is_on_its_way(project, creator, approver):
    from accounts.erasure import personal_data_erase

    person = bank_person(project, 2_000)
    run = create_run(creator)
    committed(payout_run_approve, run_id=run.pk, actor=approver)

    # Frozen money is in transit: payments.personal_data's in-transit rule refuses the erasure.
    with pytest.raises(Conflict, match="in transit"):
        personal_data_erase(user=person, actor=make_user(Role.ADMIN))

    committed(payout_item_mark_paid, item_id=run.items.get().pk, actor=approver)
    personal_data_erase(user=person, actor=make_user(Role.ADMIN))


def test_the_hourly_job_stores_a_runs_differences_with_what_to_do(project, creator):
    from payments.models import PayoutItem
    from payments.tasks import payout_runs_reconcile

    bank_person(project, 2_000)
    run = create_run(creator)
    PayoutItem.objects.filter(run=run).update(amount_minor=1_999)  # a corruption

    found = payout_runs_reconcile.delay().get()

    run.refresh_from_db()
    assert found == 1
    assert [d["code"] for d in run.reconciliation_differences] == ["items_sum"]
    assert "cancel it" in run.reconciliation_differences[0]["action"]


def test_a_failed_item_of_a_done_run_is_not_retried_while_another_run_is_open(
    project, creator, approver, settings
):
    bad = bank_person(project, 3_000)
    run = create_run(creator)
    committed(payout_run_approve, run_id=run.pk, actor=approver)
    committed(payout_item_mark_failed, item_id=run.items.get().pk, actor=approver, reason="Closed")
    settings.QUORUM_PAYOUT_MINIMUM_MINOR = {"EUR": 5_000}
    create_run(creator)  # the next run, open (it leaves the 30.00 below its minimum payable)

    with pytest.raises(Conflict, match="is open"):
        payout_item_retry(item_id=run.items.get().pk, actor=approver)

    assert balance_minor(bad, PAYABLE, "EUR") == 3_000  # nothing of the retry was kept
    assert run.items.get().attempt == 1
    assert_ledger_clean()


def test_a_run_leaves_out_people_with_held_earnings_or_suspended_with_the_reason(project, creator):
    """The earnings' holds (payments.selectors.holds) are one of the run's hold checks."""
    from payments.models import Earning, EarningStatus, Hold, HoldCause, LedgerTransaction
    from tests.payments.earnings.helpers import price
    from workforce.models import AnnotatorProfile, AnnotatorStatus

    paid = bank_person(project, 2_000)
    held = bank_person(project, 3_000)
    version = price(project, currency="EUR")
    earning = Earning.objects.create(
        rate_version=version,
        rate=version.rates.get(work_kind="annotation"),
        accrued_by=LedgerTransaction.objects.first(),
        created_at=timezone.now(),
        user=held,
        project=project,
        work_kind="annotation",
        unit="per_task",
        task_id=1,
        annotation_id=987654,
        earned_on=timezone.localdate(),
        currency="EUR",
        amount_micros=10_000,
        status=EarningStatus.HELD,
    )
    Hold.objects.create(earning=earning, cause=HoldCause.DISPUTE, created_at=timezone.now())
    suspended = bank_person(project, 4_000)
    AnnotatorProfile.objects.update_or_create(
        user=suspended, defaults={"status": AnnotatorStatus.SUSPENDED}
    )

    run = create_run(creator)

    assert list(run.items.values_list("person_id", flat=True)) == [paid.pk]
    exclusions = {e.person_id: e for e in run.exclusions.all()}
    assert exclusions[held.pk].code == "hold"
    assert "under dispute" in exclusions[held.pk].reason
    assert exclusions[suspended.pk].code == "hold"
    assert "suspended" in exclusions[suspended.pk].reason
    assert balance_minor(held, PAYABLE, "EUR") == 3_000
