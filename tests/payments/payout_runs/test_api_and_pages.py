"""Payout runs through the API and the portal: finance with MFA creates, a second finance user
approves, the creator and everyone else are refused; people see only their own payouts."""

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from payments.models import PayoutItemStatus, PayoutRun, PayoutRunStatus
from payments.services.payout_runs import payout_run_cancel
from tests.factories import make_user
from tests.payments.payout_runs.helpers import PERIOD, bank_person, create_run, finance_user

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/payout-runs/"
NEW_RUN = {
    "currency": "EUR",
    "provider": "bank_file",
    "period_start": PERIOD[0].isoformat(),
    "period_end": PERIOD[1].isoformat(),
}


def post(client, url, data=None):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data or {}, content_type="application/json")


def test_finance_creates_by_api_and_only_a_second_finance_user_approves(client, project):
    person = bank_person(project, 2_500)
    creator, approver = finance_user(), finance_user()
    client.force_login(creator)

    created = post(client, RUNS, NEW_RUN)
    run_id = created.json()["id"]
    own = post(client, f"{RUNS}{run_id}/approve/")
    client.force_login(approver)
    approved = post(client, f"{RUNS}{run_id}/approve/")

    assert created.status_code == 201
    assert own.status_code == 403 and own.json()["code"] == "four_eyes"
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == PayoutRunStatus.APPROVED  # paying starts on commit
    assert client.get(f"{RUNS}{run_id}/").json()["status"] == PayoutRunStatus.EXECUTING
    items = client.get(f"{RUNS}{run_id}/items/?status=awaiting_bank_file").json()["results"]
    assert [(i["person"], i["amount_minor"], i["amount_display"]) for i in items] == [
        (person.pk, 2_500, "25.00 EUR")
    ]
    paid = post(client, f"/api/v1/payout-items/{items[0]['id']}/mark-paid/", {"reference": "B7"})
    assert paid.json()["status"] == PayoutItemStatus.SUCCEEDED
    assert client.get(f"{RUNS}{run_id}/").json()["status"] == PayoutRunStatus.DONE


def test_finance_without_mfa_and_other_roles_cannot_create_or_approve(client, project):
    bank_person(project, 2_500)
    run = create_run(finance_user())
    client.force_login(finance_user(mfa=False))

    no_mfa = post(client, f"{RUNS}{run.pk}/approve/")
    client.force_login(make_user(Role.MANAGER, mfa=True))
    manager = post(client, f"{RUNS}{run.pk}/approve/")
    manager_create = post(client, RUNS, NEW_RUN)

    assert no_mfa.status_code == 403 and no_mfa.json()["code"] == "mfa_required"
    assert manager.status_code == 403 and manager_create.status_code == 403
    assert PayoutRun.objects.get(pk=run.pk).status == PayoutRunStatus.FROZEN


def test_a_person_sees_only_their_own_payouts(client, project):
    mine, theirs = bank_person(project, 2_500), bank_person(project, 3_000)
    create_run(finance_user())
    client.force_login(mine)

    listed = client.get("/api/v1/me/payouts/").json()["results"]
    items = client.get("/api/v1/payout-items/").json()["results"]
    runs = client.get(RUNS)
    page = client.get("/payouts/")

    assert [i["person"] for i in listed] == [mine.pk]
    assert [i["person"] for i in items] == [mine.pk]
    assert runs.status_code == 403
    assert page.status_code == 200 and "25.00 EUR" in page.text and "30.00 EUR" not in page.text
    assert theirs.pk != mine.pk


def test_finance_pages_show_the_run_its_progress_and_exclusions(client, project):
    bank_person(project, 2_500)
    excluded = bank_person(project, 3_000, ready=False)
    creator = finance_user()
    run = create_run(creator)
    client.force_login(creator)

    listing = client.get("/finance/payout-runs/")
    detail = client.get(f"/finance/payout-runs/{run.pk}/")

    assert listing.status_code == 200 and f"Run {run.pk}" in listing.text
    assert detail.status_code == 200
    assert "a second finance user approves it" in detail.text  # the creator sees no button
    assert excluded.email in detail.text and "No payout account." in detail.text
    assert "<progress" in detail.text


def test_finance_approves_and_cancels_from_the_portal(client, project):
    bank_person(project, 2_500)
    run = create_run(finance_user())
    client.force_login(finance_user())

    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/finance/payout-runs/{run.pk}/approve/")
    refused = client.post(f"/finance/payout-runs/{run.pk}/cancel/", {"reason": "late"}, follow=True)

    assert PayoutRun.objects.get(pk=run.pk).status == PayoutRunStatus.EXECUTING
    assert "Only a run not yet approved can be cancelled" in refused.text


def test_annotators_cannot_open_finance_pages(client, project):
    person = bank_person(project, 2_500)
    run = create_run(finance_user())
    client.force_login(person)

    assert client.get("/finance/payout-runs/").status_code == 403
    assert client.get(f"/finance/payout-runs/{run.pk}/").status_code == 403
    assert client.post(f"/finance/payout-runs/{run.pk}/approve/").status_code == 403


def test_the_run_page_and_the_items_api_take_as_many_queries_for_many_items_as_for_few(
    client, project
):
    def queries(n: int) -> tuple[int, int]:
        for _ in range(n):
            bank_person(project, 2_000)
        creator = finance_user()
        run = create_run(creator)
        client.force_login(creator)
        with CaptureQueriesContext(connection) as page:
            assert client.get(f"/finance/payout-runs/{run.pk}/").status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert client.get(f"{RUNS}{run.pk}/items/").status_code == 200
        payout_run_cancel(run_id=run.pk, actor=finance_user(), reason="next size")
        return len(page), len(api)

    few, many = queries(2), queries(8)

    assert many == few
