"""A bank-file run's payment file: exactly what bank_files writes for the items waiting in the
bank file (CSV in any currency, pain.001 for EUR), finance with MFA only, each download audited
without the details, and a person whose details cannot be used now named, never skipped."""

from datetime import UTC
from xml.etree import ElementTree as ET

import pytest
from django.utils import timezone

from accounts.models import Role
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import AuditEvent
from payments.bank_files import (
    PAIN_001_NAMESPACE,
    bank_file_debtor,
    bank_payments_csv,
    sepa_credit_transfer_xml,
)
from payments.models import PayoutItemStatus
from payments.services.bank_file_runs import payout_run_bank_file
from payments.services.payout_accounts import (
    bank_details_confirm,
    bank_details_confirmation_token,
    bank_details_submit,
)
from payments.services.payout_runs import payout_item_mark_paid
from tests.factories import make_user
from tests.payments.bank_file_runs.helpers import approved_run, expected_payments, us_person
from tests.payments.factories import VALID_IBAN
from tests.payments.payout_runs.helpers import bank_person, committed, create_run, finance_user

pytestmark = pytest.mark.django_db

NS = {"p": PAIN_001_NAMESPACE}
OTHER_IBAN = "ES9121000418450200051332"


@pytest.fixture
def creator():
    return finance_user()


@pytest.fixture
def approver():
    return finance_user()


@pytest.fixture
def debtor(settings):
    settings.QUORUM_BANK_FILE_DEBTOR_NAME = "Quorum Payouts GmbH"
    settings.QUORUM_BANK_FILE_DEBTOR_IBAN = "DE02120300000000202051"
    settings.QUORUM_BANK_FILE_DEBTOR_BIC = "BYLADEM1001"


def test_the_csv_is_what_bank_files_writes_for_the_items_waiting_in_the_bank_file(
    project, creator, approver
):
    first, second, settled = (
        bank_person(project, 2_000),
        bank_person(project, 3_456),
        bank_person(project, 1_001),
    )
    run = approved_run(creator, approver)
    committed(payout_item_mark_paid, item_id=run.items.get(person=settled).pk, actor=approver)
    expected = bank_payments_csv(expected_payments(run))

    made = payout_run_bank_file(run=run, actor=approver, fmt="csv")

    assert made.content == expected
    rows = made.content.decode().splitlines()
    waiting = {i.person_id: i.pk for i in run.items.filter(status="awaiting_bank_file")}
    assert rows[1:] == [
        f"{waiting[first.pk]},Ada Lovelace,{VALID_IBAN},,,,DE,20.00,EUR",
        f"{waiting[second.pk]},Ada Lovelace,{VALID_IBAN},,,,DE,34.56,EUR",
    ]
    assert (made.item_count, made.total_minor) == (2, 5_456)
    assert made.content_type.startswith("text/csv")


def test_a_usd_run_gets_its_csv_with_the_routing_and_account_numbers(project, creator, approver):
    person = us_person(project, 10_050)
    run = approved_run(creator, approver, currency="USD")

    made = payout_run_bank_file(run=run, actor=approver, fmt="csv")

    item = run.items.get(person=person)
    assert (
        made.content.decode().splitlines()[1].startswith(f"{item.pk},Grace Hopper,,000123456789,")
    )
    assert made.content.decode().splitlines()[1].endswith(",US,100.50,USD")


def test_the_pain001_is_what_bank_files_writes_with_the_item_ids_as_end_to_end_ids(
    project, creator, approver, debtor
):
    people = [bank_person(project, 2_000), bank_person(project, 12_345)]
    run = approved_run(creator, approver)
    # The real clock's time (the payout accounts became usable an hour before it), in seconds.
    now = timezone.now().astimezone(UTC).replace(microsecond=0)
    expected = sepa_credit_transfer_xml(
        expected_payments(run),
        debtor=bank_file_debtor(),
        message_id=f"QUORUM-RUN{run.pk}-{now:%Y%m%d%H%M%S}",
        created_at=now,
        execution_date=timezone.localdate(now),
    )

    made = payout_run_bank_file(run=run, actor=approver, fmt="pain001", now=now)

    assert made.content == expected
    document = ET.fromstring(made.content)  # noqa: S314  (the XML Quorum just wrote)
    ids = [e.text for e in document.iterfind(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)]
    amounts = [e.text for e in document.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
    assert ids == [str(run.items.get(person=p).pk) for p in people]
    assert amounts == ["20.00", "123.45"]
    assert document.find(".//p:GrpHdr/p:CtrlSum", NS).text == "143.45"
    assert made.filename.endswith(".xml") and made.content_type == "application/xml"


def test_a_pain001_of_a_run_not_in_eur_is_refused_naming_format(project, creator, approver):
    us_person(project, 10_050)
    run = approved_run(creator, approver, currency="USD")

    with pytest.raises(ValidationFailed) as refused:
        payout_run_bank_file(run=run, actor=approver, fmt="pain001")

    assert list(refused.value.extra["fields"]) == ["format"]
    assert "EUR" in refused.value.message
    assert not AuditEvent.objects.filter(action="payout_account.details_read").exists()


def test_an_unknown_format_is_refused_naming_format(project, creator, approver):
    bank_person(project, 2_000)
    run = approved_run(creator, approver)

    with pytest.raises(ValidationFailed) as refused:
        payout_run_bank_file(run=run, actor=approver, fmt="xlsx")

    assert list(refused.value.extra["fields"]) == ["format"]


def test_someone_not_finance_or_finance_without_mfa_gets_no_file(project, creator, approver):
    bank_person(project, 2_000)
    run = approved_run(creator, approver)

    with pytest.raises(PermissionDenied):
        payout_run_bank_file(run=run, actor=make_user(Role.MANAGER, mfa=True), fmt="csv")
    with pytest.raises(PermissionDenied) as no_mfa:
        payout_run_bank_file(run=run, actor=finance_user(mfa=False), fmt="csv")

    assert no_mfa.value.code == "mfa_required"
    assert not AuditEvent.objects.filter(action="payout_account.details_read").exists()
    assert not AuditEvent.objects.filter(action="payout_run.bank_file_download").exists()


def test_each_download_is_audited_with_who_what_and_how_much_but_no_bank_details(
    project, creator, approver, debtor
):
    bank_person(project, 2_000)
    bank_person(project, 3_000)
    run = approved_run(creator, approver)

    payout_run_bank_file(run=run, actor=approver, fmt="csv")
    payout_run_bank_file(run=run, actor=creator, fmt="pain001")

    downloads = AuditEvent.objects.filter(action="payout_run.bank_file_download").order_by("pk")
    assert [(d.actor_id, d.target_id) for d in downloads] == [
        (approver.pk, str(run.pk)),
        (creator.pk, str(run.pk)),
    ]
    assert [
        (d.after["format"], d.after["item_count"], d.after["total_minor"]) for d in downloads
    ] == [("csv", 2, 5_000), ("pain001", 2, 5_000)]
    reads = AuditEvent.objects.filter(action="payout_account.details_read")
    assert reads.count() == 4  # one read per person and download
    assert all(f"payout run {run.pk}" in r.after["purpose"] for r in reads)
    for event in AuditEvent.objects.all():
        assert VALID_IBAN not in str(event.after) and "Ada Lovelace" not in str(event.after)


def test_a_person_whose_details_changed_since_the_freeze_makes_the_file_refuse_naming_them(
    project, creator, approver
):
    steady, changed = bank_person(project, 2_000), bank_person(project, 3_000)
    run = approved_run(creator, approver)
    # New details, confirmed now: the account cools off, so no payout may use any details yet.
    row = bank_details_submit(
        user=changed,
        actor=changed,
        country="ES",
        currency="EUR",
        details={"holder_name": "Ada Lovelace", "iban": OTHER_IBAN},
        now=timezone.now(),
    )
    bank_details_confirm(user=changed, token=bank_details_confirmation_token(row))

    with pytest.raises(Conflict) as refused:
        payout_run_bank_file(run=run, actor=approver, fmt="csv")

    item = run.items.get(person=changed)
    assert refused.value.code == "bank_details_unavailable"
    assert f"Item {item.pk} ({changed.email})" in refused.value.message
    assert [e["item"] for e in refused.value.extra["errors"]] == [item.pk]
    assert run.items.get(person=steady).status == PayoutItemStatus.AWAITING_BANK_FILE
    assert not AuditEvent.objects.filter(action="payout_run.bank_file_download").exists()


def test_a_run_not_yet_approved_has_no_bank_file(project, creator):
    bank_person(project, 2_000)
    run = create_run(creator)

    with pytest.raises(Conflict, match="approved"):
        payout_run_bank_file(run=run, actor=finance_user(), fmt="csv")
