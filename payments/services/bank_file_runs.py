"""Bank-file payout runs end to end: the run's payment file for the bank, and the bank's report
of results applied to the run's items (docs/payouts-runs.md, docs/payouts-bank-files.md).

`payout_run_bank_file` writes the file of a run's items waiting in the bank file: a CSV for
banks' bulk-payment imports (any currency) or SEPA pain.001 (EUR runs only). The details to pay
are read through `bank_payment_details` (the one audited decryption, once per person, its
purpose naming the run) and kept in memory only: the database keeps no file and no detail,
only an audit record of each download (who, run, format, item count, total). A person whose
details cannot be used now (changed since the freeze and cooling off, erased, moved to another
provider or currency) makes the whole file refuse, naming the item and the person: nobody is
silently left out of a file.

`payout_run_bank_results_apply` reads the bank's report (`bank_results_parse`) and settles the
run's items with `payout_item_mark_paid` / `payout_item_mark_failed` (their ledger moves and
notifications), all or nothing in one transaction under the run's lock: every line must name an
item of this run that waits in the bank file, or one already settled as the line says (a
repeat, which changes nothing); any other line refuses the whole report with its line number.

Locks: the run row (payout_run_get_for_update), then each item row in the report's order (the
item services), then what the ledger takes: the payout runs' order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from core.errors import Conflict, ValidationFailed
from payments.bank_files import (
    BankFileInvalid,
    BankPayment,
    bank_file_debtor,
    bank_payments_csv,
    bank_results_parse,
    sepa_credit_transfer_xml,
)
from payments.models import PayoutItem, PayoutItemStatus, PayoutProvider, PayoutRun, PayoutRunStatus
from payments.selectors.payout_accounts import bank_payment_details
from payments.selectors.payout_runs import minor_display
from payments.services.payout_runs import (
    payout_item_mark_failed,
    payout_item_mark_paid,
    payout_run_get_for_update,
    payout_runs_finance_require,
)

# format: (content type, file name suffix)
BANK_FILE_FORMATS = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "pain001": ("application/xml", "-pain001.xml"),
}
# The largest bank report read (bytes): a line is well under 100 bytes, so ample for any run.
BANK_REPORT_MAX_BYTES = 5 * 1024 * 1024
FAILED_WITHOUT_REASON = "The bank reported the payment as failed (no reason given)."


@dataclass(frozen=True)
class BankFile:
    """A run's payment file, made for one download (never stored)."""

    content: bytes
    filename: str
    content_type: str
    item_count: int
    total_minor: int


@dataclass
class BankResultsApplied:
    """What a report did: item ids marked paid, marked failed, and lines that were repeats."""

    paid: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)


def _bank_file_run(run: PayoutRun) -> None:
    if run.provider != PayoutProvider.BANK_FILE:
        raise Conflict(
            f"Payout run {run.pk} pays by {run.get_provider_display()}, not by bank file."
        )
    if run.status not in (PayoutRunStatus.EXECUTING, PayoutRunStatus.DONE):
        raise Conflict(
            f"Payout run {run.pk} is {run.get_status_display().lower()}: its items are in the "
            "bank file once a second finance user has approved it."
        )


@transaction.atomic
def payout_run_bank_file(
    *, run: PayoutRun, actor: User, fmt: str, now: datetime | None = None
) -> BankFile:
    """Write the payment file of `run`'s items waiting in the bank file, in format `fmt` ("csv",
    or "pain001" for an EUR run), and audit the download (never the details).

    Raises PermissionDenied (not finance, no MFA); ValidationFailed naming `format` (unknown,
    or pain001 for another currency than EUR); Conflict when the run is not an approved
    bank-file run, no item waits, or a person's details cannot be used now (code
    bank_details_unavailable, naming each item and person in extra["errors"]); BankFileInvalid
    when the bank file cannot carry a payment (e.g. pain001 without an IBAN), naming its row.
    """
    payout_runs_finance_require(actor)
    now = now or timezone.now()
    if fmt not in BANK_FILE_FORMATS:
        message = "Use csv or pain001."
        raise ValidationFailed(f"Unknown bank file format {fmt!r}.", fields={"format": [message]})
    if fmt == "pain001" and run.currency != "EUR":
        message = f"SEPA pain.001 files pay EUR only; this run pays {run.currency}: use csv."
        raise ValidationFailed(message, fields={"format": [message]})
    run = PayoutRun.objects.get(pk=run.pk)  # as it is now, whatever the caller holds
    _bank_file_run(run)
    items = list(
        PayoutItem.objects.filter(run_id=run.pk, status=PayoutItemStatus.AWAITING_BANK_FILE)
        .select_related("person")
        .order_by("pk")
    )
    if not items:
        raise Conflict(f"No item of payout run {run.pk} waits in the bank file.")
    purpose = f"payout run {run.pk} bank file ({fmt})"
    payments: list[BankPayment] = []
    problems: list[dict[str, Any]] = []
    for item in items:
        try:
            beneficiary = bank_payment_details(item.person, actor=actor, purpose=purpose, at=now)
        except Conflict as exc:
            problems.append({"item": item.pk, "person": item.person_id, "message": exc.message})
            continue
        if beneficiary.currency != run.currency:
            problems.append(
                {
                    "item": item.pk,
                    "person": item.person_id,
                    "message": f"The person is now paid in {beneficiary.currency}, not "
                    f"{run.currency}.",
                }
            )
            continue
        payments.append(beneficiary.payment(reference=str(item.pk), amount_minor=item.amount_minor))
    if problems:
        emails = {item.pk: item.person.email for item in items}
        lines = [f"Item {p['item']} ({emails[p['item']]}): {p['message']}" for p in problems]
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise Conflict(
            f"The bank file cannot be written: {lines[0]}{more} Mark such items failed (their "
            "amount returns to payable and they are paid in a later run), then download again.",
            code="bank_details_unavailable",
            extra={"errors": problems},
        )
    total_minor = sum(item.amount_minor for item in items)
    if fmt == "csv":
        content = bank_payments_csv(payments)
    else:
        content = sepa_credit_transfer_xml(
            payments,
            debtor=bank_file_debtor(),
            message_id=f"QUORUM-RUN{run.pk}-{now:%Y%m%d%H%M%S}",
            created_at=now,
            execution_date=timezone.localdate(now),
        )
    content_type, suffix = BANK_FILE_FORMATS[fmt]
    audit_record(
        actor=actor,
        action="payout_run.bank_file_download",
        target=run,
        after={
            "run": run.pk,
            "format": fmt,
            "item_count": len(items),
            "total_minor": total_minor,
            "currency": run.currency,
            # No digest of the file: one of a one-row file could be matched against guessed IBANs.
        },
    )
    return BankFile(
        content=content,
        filename=f"payout-run-{run.pk}{suffix}",
        content_type=content_type,
        item_count=len(items),
        total_minor=total_minor,
    )


def _item_id(reference: str) -> int | None:
    """The payout item id a reference names (the files' references are item ids), or None."""
    return int(reference) if re.fullmatch(r"[0-9]{1,18}", reference) else None


def _refuse(problems: list[dict[str, Any]]) -> BankFileInvalid:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return BankFileInvalid(
        f"The bank's report was not applied: line {first['line']}, column {first['column']}: "
        f"{first['message']}{more}",
        extra={"errors": problems, "field": "file"},
    )


@transaction.atomic
def payout_run_bank_results_apply(
    *, run: PayoutRun, actor: User, data: bytes
) -> BankResultsApplied:
    """Apply the bank's report `data` (CSV: reference, status paid|failed, message) to `run`:
    each item waiting in the bank file is marked paid or failed (ledger moves, notifications);
    a line for an item already settled as it says is a repeat and changes nothing.

    All or nothing, under the run's lock. Raises PermissionDenied (not finance, no MFA);
    ValidationFailed naming `file` (empty or above BANK_REPORT_MAX_BYTES); Conflict when the
    run is not an approved bank-file run; BankFileInvalid (extra["field"] "file", every bad
    line in extra["errors"] with its line and column) for an unreadable report, a reference
    that is not an item of this run, an item not waiting in the bank file, or a line that
    contradicts how its item was settled.
    """
    payout_runs_finance_require(actor)
    if len(data) > BANK_REPORT_MAX_BYTES:
        message = f"The report is larger than {BANK_REPORT_MAX_BYTES // (1024 * 1024)} MB."
        raise ValidationFailed(message, fields={"file": [message]})
    if not data.strip():
        message = "The report is empty."
        raise ValidationFailed(message, fields={"file": [message]})
    run = payout_run_get_for_update(run.pk)
    _bank_file_run(run)
    try:
        results = bank_results_parse(data)
    except BankFileInvalid as exc:
        exc.extra["field"] = "file"
        raise
    ids = {item_id for r in results if (item_id := _item_id(r.reference)) is not None}
    items = {item.pk: item for item in PayoutItem.objects.filter(pk__in=ids)}
    problems: list[dict[str, Any]] = []
    for result in results:

        def bad(column: str, message: str, result: Any = result) -> None:
            problems.append(
                {
                    "line": result.line,
                    "column": column,
                    "reference": result.reference,
                    "message": message,
                }
            )

        item_id = _item_id(result.reference)
        item = items.get(item_id) if item_id is not None else None
        if item is None:
            bad("reference", f"Reference {result.reference} is not a payout item of Quorum's.")
        elif item.run_id != run.pk:
            bad(
                "reference",
                f"Reference {result.reference} is an item of payout run {item.run_id}, "
                "not of this one.",
            )
        elif item.status == PayoutItemStatus.AWAITING_BANK_FILE:
            continue
        elif (item.status, result.paid) in {
            (PayoutItemStatus.SUCCEEDED, True),
            (PayoutItemStatus.FAILED, False),
        }:
            continue  # a repeat: the item is already settled as the line says
        elif item.status in (PayoutItemStatus.SUCCEEDED, PayoutItemStatus.FAILED):
            said = "paid" if result.paid else "failed"
            bad(
                "status",
                f"Item {item.pk} is already {item.get_status_display().lower()}; this line "
                f"says {said}. Check with the bank.",
            )
        else:
            bad(
                "reference",
                f"Item {item.pk} is not waiting in the bank file "
                f"({item.get_status_display().lower()}).",
            )
    if problems:
        raise _refuse(problems)

    applied = BankResultsApplied()
    for result in results:
        item = items[int(result.reference)]  # every line names an item of the run now
        if item.status != PayoutItemStatus.AWAITING_BANK_FILE:
            applied.repeated.append(item.pk)
        elif result.paid:
            payout_item_mark_paid(item_id=item.pk, actor=actor)
            applied.paid.append(item.pk)
        else:
            payout_item_mark_failed(
                item_id=item.pk, actor=actor, reason=result.message or FAILED_WITHOUT_REASON
            )
            applied.failed.append(item.pk)
    audit_record(
        actor=actor,
        action="payout_run.bank_results_apply",
        target=run,
        after={
            "run": run.pk,
            "sha256": hashlib.sha256(data).hexdigest(),
            "lines": len(results),
            "paid": applied.paid,
            "failed": applied.failed,
            "repeated": applied.repeated,
            "paid_total": minor_display(
                sum(items[pk].amount_minor for pk in applied.paid), run.currency
            ),
        },
    )
    return applied
