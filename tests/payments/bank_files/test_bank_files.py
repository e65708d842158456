"""Bank files, pure functions: the bulk-payment CSV with exact amounts, SEPA pain.001.001.03
(structure, counts, CtrlSum, SEPA characters, escaping), refusals naming the row, and the bank's
report parsed with errors naming the line and the column."""

import csv
import io
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pytest

from payments.bank_files import (
    PAIN_001_NAMESPACE,
    BankFileInvalid,
    BankPayment,
    Debtor,
    amount_text,
    bank_payments_csv,
    bank_results_parse,
    sepa_credit_transfer_xml,
    sepa_text,
)

NS = {"p": PAIN_001_NAMESPACE}
DEBTOR = Debtor(name="Quorum Labs GmbH", iban="DE75512108001245126199", bic="COBADEFFXXX")
IBAN_DE = "DE89370400440532013000"
IBAN_FR = "FR1420041010050500013M02606"
IBAN_BAD = "DE89370400440532013001"  # one digit off: the check digits do not match


def payment(reference="101", amount=1234, currency="EUR", **changes):
    fields = {
        "reference": reference,
        "name": "Ada Lovelace",
        "iban": IBAN_DE,
        "bic": "",
        "account_number": "",
        "routing_number": "",
        "country": "DE",
        "amount_minor": amount,
        "currency": currency,
    }
    return BankPayment(**{**fields, **changes})


def sepa(payments, **kwargs):
    return sepa_credit_transfer_xml(
        payments,
        debtor=kwargs.pop("debtor", DEBTOR),
        message_id=kwargs.pop("message_id", "QUORUM-RUN-7"),
        created_at=datetime(2026, 12, 6, 22, 15, 30, 123456, tzinfo=UTC),
        execution_date=date(2026, 12, 8),
    )


def rows(data: bytes):
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


# --- Amounts and the CSV -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1500, "JPY", "1500"),
        (1, "JPY", "1"),
        (1234, "EUR", "12.34"),
        (5, "EUR", "0.05"),
        (100, "EUR", "1.00"),
        (1234, "KWD", "1.234"),
        (7, "KWD", "0.007"),
        (99_999_999_999_999_999, "EUR", "999999999999999.99"),
    ],
)
def test_amounts_are_exact_decimal_strings_of_the_minor_units(minor, currency, text):
    assert amount_text(minor, currency) == text


def test_a_float_amount_is_refused():
    with pytest.raises(TypeError):
        amount_text(12.34, "EUR")


def test_the_csv_has_the_documented_columns_and_exact_amounts_per_currency():
    payments = [
        payment("1", 1500, "JPY", country="JP", iban="", account_number="1234567", bic="MHCBJPJT"),
        payment("2", 1234, "EUR"),
        payment("3", 1234, "KWD", country="KW", iban="KW81CBKU0000000000001234560101"),
        payment(
            "4", 250, "USD", country="US", iban="", account_number="000123456789",
            routing_number="011000015",
        ),
    ]  # fmt: skip

    data = bank_payments_csv(payments)

    header = data.decode().splitlines()[0]
    assert header == (
        "reference,beneficiary_name,iban,account_number,routing_number,bic,country,amount,currency"
    )
    got = [(r["reference"], r["amount"], r["currency"]) for r in rows(data)]
    assert got == [
        ("1", "1500", "JPY"),
        ("2", "12.34", "EUR"),
        ("3", "1.234", "KWD"),
        ("4", "2.50", "USD"),
    ]
    assert rows(data)[3]["routing_number"] == "011000015"


def test_the_csv_quotes_names_with_commas_and_quotes():
    data = bank_payments_csv([payment(name='Smith, "Jo" & Co')])

    assert rows(data)[0]["beneficiary_name"] == 'Smith, "Jo" & Co'


def test_the_csv_refuses_bad_rows_naming_each_row_and_column():
    payments = [payment("1"), payment("1"), payment("3", amount=0), payment("4", iban="")]

    with pytest.raises(BankFileInvalid) as refused:
        bank_payments_csv(payments)

    errors = [(e["row"], e["column"]) for e in refused.value.extra["errors"]]
    assert errors == [(2, "reference"), (3, "amount"), (4, "iban")]
    assert refused.value.message.startswith(
        "The payment file cannot be written: row 2, column reference"
    )


# --- SEPA pain.001.001.03 ------------------------------------------------------------------

# The element order the pain.001.001.03 schema requires, for the elements this file writes.
GROUP_HEADER = ["MsgId", "CreDtTm", "NbOfTxs", "CtrlSum", "InitgPty"]
PAYMENT_INFO = [
    "PmtInfId", "PmtMtd", "BtchBookg", "NbOfTxs", "CtrlSum", "PmtTpInf", "ReqdExctnDt", "Dbtr",
    "DbtrAcct", "DbtrAgt", "ChrgBr",
]  # fmt: skip
TRANSFER = ["PmtId", "Amt", "CdtrAgt", "Cdtr", "CdtrAcct", "RmtInf"]


def local(element):
    return element.tag.split("}", 1)[1]


def test_the_sepa_file_has_the_pain_001_structure_counts_and_control_sum():
    payments = [
        payment("11", 1234),
        payment("12", 5, bic="BNPAFRPP", iban=IBAN_FR, country="FR"),
        payment("13", 100000),
    ]

    root = ET.fromstring(sepa(payments))  # noqa: S314  (the XML this code just wrote)

    assert root.tag == f"{{{PAIN_001_NAMESPACE}}}Document"
    [initiation] = list(root)
    assert local(initiation) == "CstmrCdtTrfInitn"
    header, block = list(initiation)
    assert [local(e) for e in header] == GROUP_HEADER
    assert header.findtext("p:MsgId", namespaces=NS) == "QUORUM-RUN-7"
    assert header.findtext("p:CreDtTm", namespaces=NS) == "2026-12-06T22:15:30"
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert header.findtext("p:CtrlSum", namespaces=NS) == "1012.39"
    transfers = block.findall("p:CdtTrfTxInf", NS)
    assert [local(e) for e in block][: len(PAYMENT_INFO)] == PAYMENT_INFO
    assert len(transfers) == 3 and block.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert block.findtext("p:CtrlSum", namespaces=NS) == "1012.39"
    amounts = [t.find("p:Amt/p:InstdAmt", NS) for t in transfers]
    assert [a.text for a in amounts] == ["12.34", "0.05", "1000.00"]
    assert {a.get("Ccy") for a in amounts} == {"EUR"}
    total_cents = sum(int(a.text.replace(".", "")) for a in amounts)
    assert amount_text(total_cents, "EUR") == header.findtext("p:CtrlSum", namespaces=NS)
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transfers] == [
        "11",
        "12",
        "13",
    ]
    assert block.findtext("p:PmtTpInf/p:SvcLvl/p:Cd", namespaces=NS) == "SEPA"
    assert block.findtext("p:ReqdExctnDt", namespaces=NS) == "2026-12-08"
    assert block.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR.iban
    assert block.findtext("p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS) == DEBTOR.bic
    assert [local(e) for e in transfers[1]] == TRANSFER
    assert [local(e) for e in transfers[0]] == [n for n in TRANSFER if n != "CdtrAgt"]
    assert transfers[1].findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == IBAN_FR


def test_names_are_escaped_and_kept_to_the_sepa_character_set():
    names = ["Łukasz Müller-Øberg", "O'Brien & <Sons>", 'Zoë "Z" Straße', "山田 太郎 Yamada"]
    payments = [payment(str(i), name=name) for i, name in enumerate(names, start=1)]

    data = sepa(payments)
    root = ET.fromstring(data)  # noqa: S314  (ours) -- it parses: everything is escaped

    got = [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:Cdtr/p:Nm", NS)]
    assert got == ["Lukasz Muller-Oberg", "O'Brien + Sons", "Zoe Z Strasse", "Yamada"]
    for element in root.iter():
        if element.text and element.text.strip():
            assert sepa_text(element.text, 200) == element.text.strip(), element.text
    assert b"<Sons>" not in data


def test_sepa_text_cuts_names_to_70_characters():
    assert len(sepa_text("A" * 100)) == 70


def test_a_non_eur_payment_is_refused_naming_the_row():
    with pytest.raises(BankFileInvalid) as refused:
        sepa([payment("1"), payment("2", currency="USD")])

    [error] = refused.value.extra["errors"]
    assert (error["row"], error["column"], error["reference"]) == (2, "currency", "2")
    assert "EUR only" in refused.value.message and "row 2" in refused.value.message


def test_an_invalid_iban_is_refused_naming_the_row():
    with pytest.raises(BankFileInvalid) as refused:
        sepa([payment("1"), payment("2"), payment("77", iban=IBAN_BAD)])

    [error] = refused.value.extra["errors"]
    assert (error["row"], error["column"], error["reference"]) == (3, "iban", "77")
    assert "check digits" in error["message"]
    assert refused.value.message.startswith("The SEPA file cannot be written: row 3, column iban")


def test_a_reference_sepa_cannot_carry_is_refused():
    with pytest.raises(BankFileInvalid) as refused:
        sepa([payment("item 7/ü")])

    assert refused.value.extra["errors"][0]["column"] == "reference"


def test_an_empty_sepa_file_is_refused():
    with pytest.raises(BankFileInvalid):
        sepa([])


# --- The bank's report ---------------------------------------------------------------------


def test_the_report_is_read_with_the_line_of_each_result():
    data = b"\xef\xbb\xbfReference,Status,Message,Extra\r\n101,paid,,x\r\n102,FAILED,Account closed,\r\n\r\n"

    results = bank_results_parse(data)

    assert [(r.reference, r.paid, r.message, r.line) for r in results] == [
        ("101", True, "", 2),
        ("102", False, "Account closed", 3),
    ]


def test_report_errors_name_the_line_and_the_column():
    data = b"reference,status,message\n101,paid,\n102,done,\n101,failed,late\n,paid,\n"

    with pytest.raises(BankFileInvalid) as refused:
        bank_results_parse(data)

    errors = [(e["line"], e["column"]) for e in refused.value.extra["errors"]]
    assert errors == [(3, "status"), (4, "reference"), (5, "reference")]
    messages = [e["message"] for e in refused.value.extra["errors"]]
    assert "Unknown status 'done'" in messages[0]
    assert "already on line 2" in messages[1]
    assert refused.value.message.startswith(
        "The bank's report cannot be read: line 3, column status"
    )


def test_a_report_without_the_status_column_is_refused_naming_it():
    with pytest.raises(BankFileInvalid) as refused:
        bank_results_parse(b"reference,result\n101,paid\n")

    assert refused.value.extra["errors"] == [
        {"line": 1, "column": "status", "message": "The header has no 'status' column."}
    ]


def test_a_report_that_is_not_utf8_names_the_line():
    with pytest.raises(BankFileInvalid) as refused:
        bank_results_parse(b"reference,status\n101,paid\n102,failed,\xff\n")

    assert refused.value.extra["errors"][0]["line"] == 3


def test_an_empty_report_is_refused():
    with pytest.raises(BankFileInvalid):
        bank_results_parse(b"reference,status,message\n")
