"""The bank's report applied to a bank-file run: paid and failed lines move the ledger and tell
the person, the run completes and reconciles; a bad line refuses the whole report with its line
number; the same report twice changes nothing; a contradicting line is refused."""

import pytest

from accounts.models import Role
from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent
from payments.bank_files import BankFileInvalid
from payments.models import LedgerTransaction, PayoutItemStatus, PayoutRunStatus
from payments.services.bank_file_runs import (
    BANK_REPORT_MAX_BYTES,
    FAILED_WITHOUT_REASON,
    payout_run_bank_results_apply,
)
from payments.services.payout_runs import payout_item_mark_paid, payout_runs_reconcile
from tests.factories import make_user
from tests.payments.bank_file_runs.helpers import approved_run, report
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


def apply(run, actor, data):
    return committed(payout_run_bank_results_apply, run=run, actor=actor, data=data)


def test_paid_and_failed_lines_move_the_ledger_tell_the_people_and_complete_the_run(
    project, creator, approver
):
    ok, bad = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    ok_item, bad_item = run.items.get(person=ok), run.items.get(person=bad)

    applied = apply(
        run, creator, report(f"{ok_item.pk},paid,", f"{bad_item.pk},FAILED,Account closed")
    )

    run.refresh_from_db()
    assert (applied.paid, applied.failed, applied.repeated) == ([ok_item.pk], [bad_item.pk], [])
    assert run.status == PayoutRunStatus.DONE
    assert (balance_minor(ok, PAID, "EUR"), balance_minor(ok, IN_TRANSIT, "EUR")) == (2_000, 0)
    assert (balance_minor(bad, PAYABLE, "EUR"), balance_minor(bad, IN_TRANSIT, "EUR")) == (3_000, 0)
    bad_item.refresh_from_db()
    assert bad_item.status == PayoutItemStatus.FAILED
    assert bad_item.provider_message == "Account closed"
    assert Notification.objects.filter(user=ok, kind="payout", title__contains="sent").exists()
    assert Notification.objects.filter(user=bad, kind="payout", title__contains="failed").exists()
    [audit] = AuditEvent.objects.filter(action="payout_run.bank_results_apply")
    assert audit.actor_id == creator.pk
    assert (audit.after["paid"], audit.after["failed"]) == ([ok_item.pk], [bad_item.pk])
    assert payout_runs_reconcile(run_ids=[run.pk]) == {run.pk: []}
    assert_ledger_clean()


def test_the_run_stays_open_until_every_item_is_settled(project, creator, approver):
    first, second = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)

    apply(run, creator, report(f"{run.items.get(person=first).pk},paid,"))
    run.refresh_from_db()
    still_open = run.status
    apply(run, creator, report(f"{run.items.get(person=second).pk},paid,"))
    run.refresh_from_db()

    assert still_open == PayoutRunStatus.EXECUTING
    assert run.status == PayoutRunStatus.DONE
    assert_ledger_clean()


def test_a_bad_line_refuses_the_whole_report_naming_its_line_and_nothing_is_applied(
    project, creator, approver
):
    ok, other = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    postings = LedgerTransaction.objects.count()

    with pytest.raises(BankFileInvalid) as refused:
        apply(
            run,
            creator,
            report(
                f"{run.items.get(person=ok).pk},paid,",
                f"{run.items.get(person=other).pk},failed,Account closed",
                "987654321,paid,",
            ),
        )

    assert "line 4" in refused.value.message
    assert [(e["line"], e["column"]) for e in refused.value.extra["errors"]] == [(4, "reference")]
    assert refused.value.extra["field"] == "file"
    assert set(run.items.values_list("status", flat=True)) == {PayoutItemStatus.AWAITING_BANK_FILE}
    assert LedgerTransaction.objects.count() == postings
    assert balance_minor(ok, IN_TRANSIT, "EUR") == 2_000
    assert not Notification.objects.filter(kind="payout").exists()
    assert not AuditEvent.objects.filter(action="payout_run.bank_results_apply").exists()


def test_a_reference_of_another_run_is_refused_naming_that_run(project, creator, approver):
    earlier_person = bank_person(project, 2_000)
    earlier = approved_run(creator, approver)
    earlier_item = earlier.items.get(person=earlier_person)
    committed(payout_item_mark_paid, item_id=earlier_item.pk, actor=approver)
    bank_person(project, 3_000)
    run = approved_run(creator, approver)

    with pytest.raises(BankFileInvalid) as refused:
        apply(run, creator, report(f"{run.items.get().pk},paid,", f"{earlier_item.pk},paid,"))

    assert f"payout run {earlier.pk}" in refused.value.message
    assert "line 3" in refused.value.message
    assert run.items.get().status == PayoutItemStatus.AWAITING_BANK_FILE


def test_the_same_report_twice_changes_nothing_the_second_time(project, creator, approver):
    ok, bad = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    ok_item, bad_item = run.items.get(person=ok), run.items.get(person=bad)
    data = report(f"{ok_item.pk},paid,", f"{bad_item.pk},failed,Account closed")
    apply(run, creator, data)
    postings, notifications = LedgerTransaction.objects.count(), Notification.objects.count()
    balances = [balance_minor(p, k, "EUR") for p in (ok, bad) for k in (PAYABLE, IN_TRANSIT, PAID)]

    again = apply(run, approver, data)

    assert (again.paid, again.failed, again.repeated) == ([], [], [ok_item.pk, bad_item.pk])
    assert LedgerTransaction.objects.count() == postings
    assert Notification.objects.count() == notifications
    assert [
        balance_minor(p, k, "EUR") for p in (ok, bad) for k in (PAYABLE, IN_TRANSIT, PAID)
    ] == balances
    run.refresh_from_db()
    assert run.status == PayoutRunStatus.DONE
    assert_ledger_clean()


def test_a_line_contradicting_how_its_item_was_settled_is_refused(project, creator, approver):
    paid, waiting = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    paid_item = run.items.get(person=paid)
    apply(run, creator, report(f"{paid_item.pk},paid,"))

    with pytest.raises(BankFileInvalid) as refused:
        apply(
            run,
            creator,
            report(f"{run.items.get(person=waiting).pk},paid,", f"{paid_item.pk},failed,Oops"),
        )

    assert [(e["line"], e["column"]) for e in refused.value.extra["errors"]] == [(3, "status")]
    assert "already paid" in refused.value.message
    paid_item.refresh_from_db()
    assert paid_item.status == PayoutItemStatus.SUCCEEDED
    assert run.items.get(person=waiting).status == PayoutItemStatus.AWAITING_BANK_FILE
    assert balance_minor(paid, PAID, "EUR") == 2_000


def test_a_failed_line_without_a_message_gets_a_reason(project, creator, approver):
    person = bank_person(project, 2_000)
    run = approved_run(creator, approver)

    apply(run, creator, report(f"{run.items.get(person=person).pk},failed"))

    assert run.items.get(person=person).provider_message == FAILED_WITHOUT_REASON


def test_an_unreadable_report_is_refused_naming_the_line_and_the_file(project, creator, approver):
    person = bank_person(project, 2_000)
    run = approved_run(creator, approver)
    item = run.items.get(person=person)

    with pytest.raises(BankFileInvalid) as unknown_status:
        apply(run, creator, report(f"{item.pk},maybe,"))
    with pytest.raises(BankFileInvalid) as no_status_column:
        apply(run, creator, report(f"{item.pk}", header="reference"))

    assert unknown_status.value.extra["errors"][0]["line"] == 2
    assert unknown_status.value.extra["field"] == "file"
    assert no_status_column.value.extra["errors"][0] == {
        "line": 1,
        "column": "status",
        "message": "The header has no 'status' column.",
    }
    assert run.items.get().status == PayoutItemStatus.AWAITING_BANK_FILE


def test_a_report_too_large_or_empty_is_refused_naming_the_file(project, creator, approver):
    bank_person(project, 2_000)
    run = approved_run(creator, approver)

    with pytest.raises(ValidationFailed) as too_large:
        apply(run, creator, b"reference,status\n" + b" " * BANK_REPORT_MAX_BYTES)
    with pytest.raises(ValidationFailed) as empty:
        apply(run, creator, b"")

    assert list(too_large.value.extra["fields"]) == ["file"]
    assert "5 MB" in too_large.value.message
    assert list(empty.value.extra["fields"]) == ["file"]


def test_someone_not_finance_or_finance_without_mfa_cannot_apply_a_report(
    project, creator, approver
):
    person = bank_person(project, 2_000)
    run = approved_run(creator, approver)
    data = report(f"{run.items.get(person=person).pk},paid,")

    with pytest.raises(PermissionDenied):
        apply(run, make_user(Role.MANAGER, mfa=True), data)
    with pytest.raises(PermissionDenied) as no_mfa:
        apply(run, finance_user(mfa=False), data)

    assert no_mfa.value.code == "mfa_required"
    assert run.items.get().status == PayoutItemStatus.AWAITING_BANK_FILE


def test_a_report_for_a_run_not_yet_approved_is_refused(project, creator):
    person = bank_person(project, 2_000)
    run = create_run(creator)

    with pytest.raises(Exception, match="approved") as refused:
        apply(run, finance_user(), report(f"{run.items.get(person=person).pk},paid,"))

    assert refused.value.code == "conflict"
    assert run.items.get().status == PayoutItemStatus.PENDING
