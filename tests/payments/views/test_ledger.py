"""The ledger explorer page: finance only, every transaction with its entries."""

import pytest

from tests.payments.factories import accrue, pending_of

pytestmark = pytest.mark.django_db


def test_finance_sees_transactions_with_entries_and_exact_amounts(finance_client, person, project):
    accrue(person, project, 3_500, "annotation:1")

    page = finance_client.get("/finance/ledger/")

    assert page.status_code == 200
    assert b"annotation:1" in page.content and b"0.0035 USD" in page.content
    assert pending_of(person).key.encode() in page.content


def test_finance_filters_the_explorer_by_source(finance_client, person, project):
    accrue(person, project, 3_500, "annotation:1")
    accrue(person, project, 3_500, "review:1")

    page = finance_client.get("/finance/ledger/", {"source": "review:"})

    assert b"review:1" in page.content and b"annotation:1" not in page.content


def test_finance_sees_balances(finance_client, person, project):
    accrue(person, project, 3_500, "annotation:1")

    page = finance_client.get("/finance/balances/")

    assert page.status_code == 200 and b"-0.0035 USD" in page.content


def test_a_person_cannot_open_the_ledger(person_client, person, project):
    accrue(person, project, 3_500, "annotation:1")

    assert person_client.get("/finance/ledger/").status_code == 403
    assert person_client.get("/finance/balances/").status_code == 403
