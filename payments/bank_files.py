"""Bank files: the payment files finance uploads to the bank, and the bank's report of results.
Plain data in and out, no database (docs/payouts-bank-files.md).

- `bank_payments_csv`: a CSV for banks' bulk-payment imports, one row per payment, with the
  columns of `CSV_COLUMNS`; the amount is a decimal string made from integer minor units with the
  currency's exponent (JPY 1500 -> "1500", EUR 1234 -> "12.34", KWD 1234 -> "1.234").
- `sepa_credit_transfer_xml`: SEPA credit transfer initiation, ISO 20022 pain.001.001.03, for
  EUR payments to IBANs: one group header (MsgId, CreDtTm, NbOfTxs, CtrlSum, InitgPty), one
  payment information block with the debtor (the platform's account, from settings) and one
  CdtTrfTxInf per payment whose EndToEndId is the payment's reference. Texts are limited to
  SEPA's Latin character set (others are transliterated: "Łukasz Müller" -> "Lukasz Muller").
- `bank_results_parse`: the bank's report, a CSV of `reference,status,message` (status `paid` or
  `failed`), into `BankResult`s; every error names the line and the column.

Every refusal raises BankFileInvalid, whose `extra["errors"]` lists each problem with its row
(payments) or line (results) and column, so nothing is half-written or half-read.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings

from core.errors import QuorumError, ValidationFailed
from kit.money import CURRENCY_EXPONENTS
from payments.bank_validation import bic_validate, iban_validate

PAIN_001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
CSV_COLUMNS = (
    "reference",
    "beneficiary_name",
    "iban",
    "account_number",
    "routing_number",
    "bic",
    "country",
    "amount",
    "currency",
)
RESULT_COLUMNS = ("reference", "status", "message")
RESULT_STATUSES = {"paid": True, "failed": False}
# SEPA's character set (EPC guidelines): Latin letters, digits and / - ? : ( ) . , ' + space.
SEPA_ALLOWED = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
SEPA_MAX_AMOUNT_MINOR = 99_999_999_999  # 999,999,999.99 EUR, the largest a SEPA transfer may carry
MAX_TEXT = 70  # names (Max70Text)
MAX_ID = 35  # MsgId, EndToEndId (Max35Text)
MAX_ERRORS = 100
# Letters NFKD does not decompose into a Latin base letter.
_TRANSLITERATION = str.maketrans(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Þ": "TH",
        "þ": "th",
        "ð": "d",
        "Ð": "D",
        "\u0131": "i",  # dotless i
        "&": "+",
        "\u2019": "'",  # right single quotation mark
        "\u2018": "'",
        "\u2013": "-",  # en dash
        "\u2014": "-",
    }
)


class BankFileInvalid(QuorumError):
    """A payment file cannot be written, or a bank's report cannot be read; `extra["errors"]`
    lists every problem found: {"row" or "line", "column", "reference", "message"}."""

    code = "bank_file_invalid"
    http_status = 400
    default_message = "The bank file is not valid."


@dataclass(frozen=True)
class BankPayment:
    """One payment to put in a bank file. `reference` identifies it (the payout item's id) and
    comes back in the bank's report; `amount_minor` is in the currency's minor units."""

    reference: str
    name: str
    iban: str
    bic: str
    account_number: str
    routing_number: str
    country: str
    amount_minor: int
    currency: str

    def __repr__(self) -> str:
        # Never the bank details in a log line or a traceback.
        return (
            f"BankPayment(reference={self.reference!r}, amount_minor={self.amount_minor!r}, "
            f"currency={self.currency!r})"
        )


@dataclass(frozen=True)
class BankBeneficiary:
    """Where a person's bank-file payout goes (decrypted details; keep in memory only)."""

    name: str
    iban: str
    bic: str
    account_number: str
    routing_number: str  # the ABA routing number (US) or the sort code (UK)
    country: str
    currency: str

    def payment(self, *, reference: str, amount_minor: int) -> BankPayment:
        """The payment of `amount_minor` (in this beneficiary's currency) named `reference`."""
        return BankPayment(
            reference=reference,
            name=self.name,
            iban=self.iban,
            bic=self.bic,
            account_number=self.account_number,
            routing_number=self.routing_number,
            country=self.country,
            amount_minor=amount_minor,
            currency=self.currency,
        )

    def __repr__(self) -> str:
        # Never the details themselves in a log line or a traceback.
        return f"BankBeneficiary(country={self.country!r}, currency={self.currency!r})"


@dataclass(frozen=True)
class BankResult:
    """One line of the bank's report: the payment `reference`, paid or not, the bank's message,
    and the line of the file it came from."""

    reference: str
    paid: bool
    message: str
    line: int


@dataclass(frozen=True)
class Debtor:
    """The platform's account the payments leave from (settings BANK_FILE_DEBTOR_*)."""

    name: str
    iban: str
    bic: str


# --- Shared pieces ---------------------------------------------------------------------------


def amount_text(amount_minor: int, currency: str) -> str:
    """Integer minor units as the exact decimal string a bank reads, with the currency's
    decimals and no separators: (1234, "EUR") -> "12.34", (1500, "JPY") -> "1500"."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amount_minor must be an int of minor units")
    exponent = CURRENCY_EXPONENTS[currency]
    whole, part = divmod(abs(amount_minor), 10**exponent)
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def sepa_text(value: str, max_length: int = MAX_TEXT) -> str:
    """`value` in SEPA's character set: accents dropped, other letters transliterated, anything
    else a space; spaces collapsed; cut to `max_length`."""
    text = unicodedata.normalize("NFKD", value.translate(_TRANSLITERATION))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = SEPA_ALLOWED.sub(" ", text)
    return " ".join(text.split())[:max_length].strip()


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, message: str, **where: Any) -> None:
        if len(self.items) < MAX_ERRORS:
            self.items.append({**where, "message": message})

    def raise_if_any(self, what: str) -> None:
        if not self.items:
            return
        first = self.items[0]
        place = ", ".join(
            f"{key} {first[key]}" for key in ("line", "row", "column") if key in first
        )
        more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
        raise BankFileInvalid(
            f"{what}: {place}: {first['message']}{more}", extra={"errors": self.items}
        )


def _payment_problems(payments: Sequence[BankPayment], problems: _Problems) -> None:
    seen: dict[str, int] = {}
    for row, payment in enumerate(payments, start=1):

        def bad(column: str, message: str, row: int = row, ref: str = payment.reference) -> None:
            problems.add(message, row=row, column=column, reference=ref)

        if not payment.reference:
            bad("reference", "Each payment needs a reference.")
        elif payment.reference in seen:
            bad(
                "reference",
                f"Reference {payment.reference} is already on row {seen[payment.reference]}.",
            )
        else:
            seen[payment.reference] = row
        if not payment.name.strip():
            bad("beneficiary_name", "The beneficiary's name is empty.")
        if payment.currency not in CURRENCY_EXPONENTS:
            bad("currency", f"Unknown currency {payment.currency!r}.")
        if isinstance(payment.amount_minor, bool) or not isinstance(payment.amount_minor, int):
            bad("amount", "The amount must be an integer of minor units.")
        elif payment.amount_minor <= 0:
            bad("amount", "The amount must be positive.")
        if not payment.iban and not payment.account_number:
            bad("iban", "The payment has neither an IBAN nor an account number.")


# --- The CSV for bulk-payment imports ------------------------------------------------------


def bank_payments_csv(payments: Sequence[BankPayment]) -> bytes:
    """A CSV (UTF-8, comma-separated, header row `CSV_COLUMNS`) of `payments`, amounts exact.

    Raises BankFileInvalid naming every bad row and column (duplicate or empty reference, empty
    name, unknown currency, a non-integer or non-positive amount, no account).
    """
    problems = _Problems()
    _payment_problems(payments, problems)
    problems.raise_if_any("The payment file cannot be written")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for payment in payments:
        writer.writerow(
            [
                payment.reference,
                payment.name,
                payment.iban,
                payment.account_number,
                payment.routing_number,
                payment.bic,
                payment.country,
                amount_text(payment.amount_minor, payment.currency),
                payment.currency,
            ]
        )
    return out.getvalue().encode("utf-8")


# --- SEPA credit transfer, pain.001.001.03 -------------------------------------------------


def bank_file_debtor() -> Debtor:
    """The platform's debtor account from settings (BANK_FILE_DEBTOR_NAME, _IBAN, _BIC).

    Raises ValidationFailed naming the setting that is missing or wrong.
    """
    name = sepa_text(str(getattr(settings, "QUORUM_BANK_FILE_DEBTOR_NAME", "") or ""))
    raw_iban = str(getattr(settings, "QUORUM_BANK_FILE_DEBTOR_IBAN", "") or "")
    raw_bic = str(getattr(settings, "QUORUM_BANK_FILE_DEBTOR_BIC", "") or "")
    if not name:
        message = "Set BANK_FILE_DEBTOR_NAME: the name of the platform's bank account."
        raise ValidationFailed(message, fields={"BANK_FILE_DEBTOR_NAME": [message]})
    try:
        iban = iban_validate(raw_iban, country=raw_iban.strip()[:2] or "XX")
    except ValidationFailed as exc:
        message = f"BANK_FILE_DEBTOR_IBAN: {exc.message}"
        raise ValidationFailed(message, fields={"BANK_FILE_DEBTOR_IBAN": [message]}) from None
    try:
        bic = bic_validate(raw_bic, country=raw_bic.strip()[4:6].upper() or "XX")
    except ValidationFailed as exc:
        message = f"BANK_FILE_DEBTOR_BIC: {exc.message}"
        raise ValidationFailed(message, fields={"BANK_FILE_DEBTOR_BIC": [message]}) from None
    return Debtor(name=name, iban=iban, bic=bic)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _sepa_id(value: str) -> str:
    return sepa_text(value, MAX_ID).replace(" ", "")


def sepa_credit_transfer_xml(
    payments: Sequence[BankPayment],
    *,
    debtor: Debtor,
    message_id: str,
    created_at: datetime,
    execution_date: date,
) -> bytes:
    """SEPA credit transfer initiation (pain.001.001.03, UTF-8) paying `payments` from `debtor`.

    `message_id` (at most 35 SEPA characters, unique per file sent to the bank) names the file
    and its payment block. Every payment must be in EUR to a valid IBAN (its BIC optional) and
    its reference at most 35 SEPA characters. Raises BankFileInvalid naming every bad row.
    """
    problems = _Problems()
    _payment_problems(payments, problems)
    if not payments:
        problems.add("There are no payments to put in the file.", row=0, column="payments")
    if not message_id or _sepa_id(message_id) != message_id:
        problems.add(
            "The message id must be 1 to 35 SEPA characters without spaces.",
            row=0,
            column="message_id",
        )
    for row, payment in enumerate(payments, start=1):
        where = {"row": row, "reference": payment.reference}
        if payment.currency != "EUR":
            problems.add(
                f"SEPA transfers are in EUR only; this payment is in {payment.currency}.",
                column="currency",
                **where,
            )
        if payment.reference and _sepa_id(payment.reference) != payment.reference:
            problems.add(
                "The reference must be at most 35 SEPA characters without spaces.",
                column="reference",
                **where,
            )
        if isinstance(payment.amount_minor, int) and payment.amount_minor > SEPA_MAX_AMOUNT_MINOR:
            problems.add(
                "A SEPA transfer carries at most 999999999.99 EUR.", column="amount", **where
            )
        try:
            iban_validate(payment.iban, country=payment.country or payment.iban.strip()[:2])
        except ValidationFailed as exc:
            problems.add(f"Invalid IBAN: {exc.message}", column="iban", **where)
        if payment.bic:
            try:
                bic_validate(payment.bic, country=payment.bic.strip()[4:6].upper())
            except ValidationFailed as exc:
                problems.add(f"Invalid BIC: {exc.message}", column="bic", **where)
        if not sepa_text(payment.name):
            problems.add(
                "The beneficiary's name has no character SEPA can carry.",
                column="beneficiary_name",
                **where,
            )
    problems.raise_if_any("The SEPA file cannot be written")

    total = amount_text(sum(p.amount_minor for p in payments), "EUR")
    count = str(len(payments))
    ET.register_namespace("", PAIN_001_NAMESPACE)
    ns = f"{{{PAIN_001_NAMESPACE}}}"
    document = ET.Element(f"{ns}Document")
    initiation = _sub(document, f"{ns}CstmrCdtTrfInitn")
    header = _sub(initiation, f"{ns}GrpHdr")
    _sub(header, f"{ns}MsgId", message_id)
    stamp = created_at.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    _sub(header, f"{ns}CreDtTm", stamp.isoformat())
    _sub(header, f"{ns}NbOfTxs", count)
    _sub(header, f"{ns}CtrlSum", total)
    _sub(_sub(header, f"{ns}InitgPty"), f"{ns}Nm", sepa_text(debtor.name))

    block = _sub(initiation, f"{ns}PmtInf")
    _sub(block, f"{ns}PmtInfId", message_id)
    _sub(block, f"{ns}PmtMtd", "TRF")
    _sub(block, f"{ns}BtchBookg", "true")
    _sub(block, f"{ns}NbOfTxs", count)
    _sub(block, f"{ns}CtrlSum", total)
    _sub(_sub(_sub(block, f"{ns}PmtTpInf"), f"{ns}SvcLvl"), f"{ns}Cd", "SEPA")
    _sub(block, f"{ns}ReqdExctnDt", execution_date.isoformat())
    _sub(_sub(block, f"{ns}Dbtr"), f"{ns}Nm", sepa_text(debtor.name))
    _sub(_sub(_sub(block, f"{ns}DbtrAcct"), f"{ns}Id"), f"{ns}IBAN", debtor.iban)
    _sub(_sub(_sub(block, f"{ns}DbtrAgt"), f"{ns}FinInstnId"), f"{ns}BIC", debtor.bic)
    _sub(block, f"{ns}ChrgBr", "SLEV")
    for payment in payments:
        transfer = _sub(block, f"{ns}CdtTrfTxInf")
        _sub(_sub(transfer, f"{ns}PmtId"), f"{ns}EndToEndId", payment.reference)
        _sub(
            _sub(transfer, f"{ns}Amt"),
            f"{ns}InstdAmt",
            amount_text(payment.amount_minor, "EUR"),
            Ccy="EUR",
        )
        if payment.bic:
            bic = payment.bic.strip().upper()
            _sub(_sub(_sub(transfer, f"{ns}CdtrAgt"), f"{ns}FinInstnId"), f"{ns}BIC", bic)
        _sub(_sub(transfer, f"{ns}Cdtr"), f"{ns}Nm", sepa_text(payment.name))
        iban = re.sub(r"\s", "", payment.iban).upper()
        _sub(_sub(_sub(transfer, f"{ns}CdtrAcct"), f"{ns}Id"), f"{ns}IBAN", iban)
        _sub(
            _sub(transfer, f"{ns}RmtInf"),
            f"{ns}Ustrd",
            sepa_text(f"Payout {payment.reference}", 140),
        )
    return ET.tostring(document, encoding="utf-8", xml_declaration=True)


# --- The bank's report ---------------------------------------------------------------------


def bank_results_parse(data: bytes) -> list[BankResult]:
    """Read the bank's report: a CSV with a header row holding `reference`, `status` (`paid` or
    `failed`, any case) and optionally `message`; other columns are ignored.

    Raises BankFileInvalid listing every problem with its line and column: text that is not
    UTF-8, a missing column, an empty reference, a reference repeated (naming the first line),
    an unknown status, a file without results.
    """
    problems = _Problems()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        error = {"line": line, "column": "", "message": "The file is not UTF-8 text."}
        raise BankFileInvalid(
            f"The bank's report cannot be read: line {line}: it is not UTF-8 text.",
            extra={"errors": [error]},
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    columns = {name.strip().lower(): index for index, name in enumerate(header)}
    missing = [name for name in ("reference", "status") if name not in columns]
    for name in missing:
        problems.add(f"The header has no {name!r} column.", line=1, column=name)
    problems.raise_if_any("The bank's report cannot be read")

    results: list[BankResult] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, a spreadsheet's empty rows)

            def cell(name: str, row: list[str] = row) -> str:
                index = columns.get(name)
                return row[index].strip() if index is not None and index < len(row) else ""

            reference, status, message = cell("reference"), cell("status").lower(), cell("message")
            ok = True
            if not reference:
                problems.add("The reference is empty.", line=line, column="reference")
                ok = False
            elif reference in seen:
                problems.add(
                    f"Reference {reference} is already on line {seen[reference]}.",
                    line=line,
                    column="reference",
                )
                ok = False
            else:
                seen[reference] = line
            if status not in RESULT_STATUSES:
                problems.add(
                    f"Unknown status {cell('status')!r}: use paid or failed.",
                    line=line,
                    column="status",
                )
                ok = False
            if ok:
                results.append(
                    BankResult(
                        reference=reference,
                        paid=RESULT_STATUSES[status],
                        message=message[:500],
                        line=line,
                    )
                )
    except csv.Error as exc:
        problems.add(f"The CSV is malformed: {exc}.", line=reader.line_num, column="")
    if not results and not problems.items:
        problems.add("The report has no results.", line=2, column="reference")
    problems.raise_if_any("The bank's report cannot be read")
    return results
