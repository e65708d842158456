"""The ledger API: finance reads everything, a person only their own balances, nobody edits."""

import pytest

from accounts.models import Role
from tests.factories import make_user
from tests.payments.factories import accrue, expense_of, pending_of

pytestmark = pytest.mark.django_db

TRANSACTIONS = "/api/v1/ledger/transactions/"
BALANCES = "/api/v1/ledger/balances/"
MINE = "/api/v1/me/balances/"


def test_finance_lists_transactions_with_their_entries(finance_client, person, project):
    posted = accrue(person, project, 3_500, "annotation:1")

    body = finance_client.get(TRANSACTIONS).json()

    (row,) = body["results"]
    assert row["id"] == posted.pk and row["source_key"] == "annotation:1"
    assert sorted((e["account_key"], e["amount_micros"]) for e in row["entries"]) == sorted(
        [(pending_of(person).key, 3_500), (expense_of(project).key, -3_500)]
    )
    assert {e["amount_display"] for e in row["entries"]} == {"0.0035 USD", "-0.0035 USD"}


def test_finance_filters_transactions_by_person_account_and_source(finance_client, person, project):
    other = make_user(Role.ANNOTATOR)
    mine = accrue(person, project, 3_500, "annotation:1")
    theirs = accrue(other, project, 3_500, "review:2")

    by_person = finance_client.get(TRANSACTIONS, {"person": person.pk}).json()["results"]
    by_account = finance_client.get(TRANSACTIONS, {"account": expense_of(project).pk}).json()
    by_source = finance_client.get(TRANSACTIONS, {"source": "review:"}).json()["results"]

    assert [t["id"] for t in by_person] == [mine.pk]
    assert [t["id"] for t in by_account["results"]] == [theirs.pk, mine.pk]
    assert [t["id"] for t in by_source] == [theirs.pk]


def test_listing_transactions_takes_a_fixed_number_of_queries(
    finance_client, person, project, django_assert_max_num_queries
):
    for n in range(10):
        accrue(person, project, 100 + n, f"annotation:{n}")

    with django_assert_max_num_queries(12):
        assert len(finance_client.get(TRANSACTIONS).json()["results"]) == 10


def test_finance_sees_person_balances_stored_and_platform_balances_summed(
    finance_client, person, project
):
    accrue(person, project, 3_500, "annotation:1")
    accrue(person, project, 1_000_000, "annotation:2")

    rows = {r["key"]: r for r in finance_client.get(BALANCES).json()["results"]}

    assert rows[pending_of(person).key]["balance_micros"] == 1_003_500
    assert rows[pending_of(person).key]["balance_display"] == "1.0035 USD"
    assert rows[expense_of(project).key]["balance_micros"] == -1_003_500


def test_a_person_reads_their_own_balances_only(person_client, person, project):
    other = make_user(Role.ANNOTATOR)
    accrue(person, project, 3_500, "annotation:1")
    accrue(other, project, 7_000, "annotation:2")

    rows = person_client.get(MINE).json()["results"]
    others = person_client.get(f"{MINE}{pending_of(other).pk}/")
    expense = person_client.get(f"{MINE}{expense_of(project).pk}/")

    assert [(r["key"], r["balance_micros"]) for r in rows] == [(pending_of(person).key, 3_500)]
    assert person_client.get(f"{MINE}{pending_of(person).pk}/").status_code == 200
    assert others.status_code == 404 and expense.status_code == 404


def test_the_ledger_is_finance_only(person_client, person, project):
    accrue(person, project, 3_500, "annotation:1")
    manager = make_user(Role.MANAGER, mfa=True)

    assert person_client.get(TRANSACTIONS).status_code == 403
    assert person_client.get(BALANCES).status_code == 403
    person_client.force_login(manager)
    assert person_client.get(TRANSACTIONS).status_code == 403


def test_finance_without_a_second_factor_is_refused(client, person, project):
    client.force_login(make_user(Role.FINANCE))

    response = client.get(TRANSACTIONS)

    assert response.status_code == 403 and response.json()["code"] == "mfa_required"


def test_no_endpoint_edits_or_deletes_a_ledger_row(finance_client, person, project):
    posted = accrue(person, project, 3_500, "annotation:1")
    url = f"{TRANSACTIONS}{posted.pk}/"

    assert finance_client.delete(url).status_code == 405
    assert (
        finance_client.patch(url, {"memo": "x"}, content_type="application/json").status_code == 405
    )
    assert finance_client.post(TRANSACTIONS, {}, content_type="application/json").status_code == 405
    assert finance_client.delete(f"{BALANCES}{pending_of(person).pk}/").status_code == 405
