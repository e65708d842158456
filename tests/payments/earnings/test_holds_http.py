"""The holds page and API: finance lists held earnings and releases or forfeits them with a
reason (MFA required); nobody else gets in."""

import pytest

from accounts.models import Role
from payments.models import Hold
from tests.factories import make_user
from tests.labeling.factories import add_tasks, annotate, make_worker, review, review_project
from tests.payments.earnings.helpers import TASK_RATE, payable, price
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db

HOLDS = "/api/v1/holds/"
DISPUTES = "/api/v1/disputes/"


@pytest.fixture
def held():
    project = review_project()
    price(project)
    add_tasks(project, 1)
    worker = make_worker()
    annotate(project, worker)
    profile = AnnotatorProfile.objects.get(user=worker)
    annotator_status_set(profile=profile, status=AnnotatorStatus.SUSPENDED, actor=None)
    review(project, make_user(Role.REVIEWER, level=1), "approve")
    return Hold.objects.get()


def test_finance_sees_open_holds_on_the_page_and_releases_one(finance_client, held):
    page = finance_client.get("/finance/holds/")

    assert page.status_code == 200
    assert held.earning.user.email in page.content.decode()
    assert "0.05 USD" in page.content.decode()

    response = finance_client.post(
        f"/finance/holds/{held.pk}/release/", {"reason": "Cleared by support"}
    )

    assert response.status_code == 302
    held.refresh_from_db()
    assert held.resolution == "released" and held.resolution_reason == "Cleared by support"
    assert payable(held.earning.user) == TASK_RATE


def test_a_release_without_a_reason_changes_nothing(finance_client, held):
    finance_client.post(f"/finance/holds/{held.pk}/release/", {"reason": ""})

    assert Hold.objects.get().is_open


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR, Role.ADMIN])
def test_nobody_but_finance_reaches_holds(client, held, role):
    client.force_login(make_user(role, mfa=True))

    assert client.get("/finance/holds/").status_code == 403
    assert client.get(HOLDS).status_code == 403
    response = client.post(f"{HOLDS}{held.pk}/release/", {"reason": "Me"})
    assert response.status_code == 403
    assert Hold.objects.get().is_open


def test_the_api_lists_holds_with_integer_money_and_forfeits_one(finance_client, held):
    listed = finance_client.get(HOLDS, {"is_open": "true", "cause": "suspended"}).json()

    (row,) = listed["results"]
    assert row["earning"]["amount_micros"] == TASK_RATE
    assert row["earning"]["amount_display"] == "0.05 USD"

    response = finance_client.post(
        f"{HOLDS}{held.pk}/forfeit/", {"reason": "Fraud"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["resolution"] == "forfeited"
    assert response.json()["earning"]["status"] == "reversed"
    again = finance_client.post(
        f"{HOLDS}{held.pk}/release/", {"reason": "Oops"}, content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_the_api_refuses_finance_without_mfa(client, held):
    client.force_login(make_user(Role.FINANCE))

    response = client.post(
        f"{HOLDS}{held.pk}/release/", {"reason": "x"}, content_type="application/json"
    )

    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert Hold.objects.get().is_open


def test_finance_opens_and_closes_a_dispute_through_the_api(finance_client, held):
    task_id = held.earning.task_id
    response = finance_client.post(
        DISPUTES,
        {"project": held.earning.project_id, "task_id": task_id, "reason": "Customer claim"},
        content_type="application/json",
    )
    assert response.status_code == 201
    dispute = response.json()

    closed = finance_client.post(f"{DISPUTES}{dispute['id']}/close/")

    assert closed.status_code == 200 and closed.json()["closed_at"]
    assert finance_client.get(DISPUTES).json()["results"] == []


def test_finance_opens_a_dispute_on_the_page_and_a_wrong_task_is_named(finance_client, held):
    bad = finance_client.post(
        "/finance/disputes/",
        {"project": held.earning.project_id, "task_id": 10**9, "reason": "Claim"},
    )
    good = finance_client.post(
        "/finance/disputes/",
        {"project": held.earning.project_id, "task_id": held.earning.task_id, "reason": "Claim"},
    )

    assert bad.status_code == 400
    assert "has no task" in bad.content.decode()
    assert good.status_code == 302
    page = finance_client.get("/finance/holds/").content.decode()
    assert "Claim" in page
