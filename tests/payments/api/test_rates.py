"""The rate card API: finance and managers read, finance (with MFA) adds versions; integers only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from labeling.services.projects import project_access_set
from payments.models import RateCardVersion
from tests.factories import make_team, make_user
from tests.labeling.factories import make_project
from tests.openapi_conformance import generated_schema
from tests.payments.factories import rate, rate_version

pytestmark = pytest.mark.django_db

CARDS = "/api/v1/rate-cards/"
VERSIONS = "/api/v1/rate-card-versions/"
LOOKUP = "/api/v1/rate-lookup/"


def body(project_, **changes):
    data = {
        "project": project_.pk,
        "currency": "USD",
        "note": "Launch rates",
        "rates": [
            {"work_kind": "annotation", "unit": "per_task", "amount_micros": 3_500},
            {
                "work_kind": "review",
                "review_level": 1,
                "tier": "reviewer-1",
                "unit": "per_task",
                "amount_micros": 12_000,
            },
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def manager():
    return make_user(Role.MANAGER, mfa=True)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_finance_creates_a_version_and_reads_it_back_with_integer_money(finance_client, project):
    response = finance_client.post(VERSIONS, body(project), content_type="application/json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["number"] == 1 and created["status"] == "in_force"
    assert created["project"] == project.pk and created["customer"] == project.customer_id
    rates = {r["work_kind"]: r for r in created["rates"]}
    assert rates["annotation"]["amount_micros"] == 3_500
    assert rates["annotation"]["amount_display"] == "0.0035 USD"
    assert rates["review"]["tier"] == "reviewer-1" and rates["review"]["review_level"] == 1
    card = finance_client.get(f"{CARDS}{created['card']}/").json()
    assert card["current_version"] == created["id"] and card["is_customer_default"] is False


def test_a_customer_default_is_created_without_a_project(finance_client, project):
    data = body(project, project=None, customer=project.customer_id)

    response = finance_client.post(VERSIONS, data, content_type="application/json")

    assert response.status_code == 201, response.content
    assert response.json()["project"] is None


def test_a_past_effective_from_is_refused_in_the_error_shape(finance_client, project):
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    response = finance_client.post(
        VERSIONS, body(project, effective_from=past), content_type="application/json"
    )

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "validation_error"
    assert "effective_from" in error["extra"]["fields"]
    assert not RateCardVersion.objects.exists()


@pytest.mark.parametrize("amount", [3.5, "3500", True, None])
def test_an_amount_that_is_not_an_integer_is_refused_naming_the_field(
    finance_client, project, amount
):
    data = body(project)
    data["rates"][0]["amount_micros"] = amount

    response = finance_client.post(VERSIONS, data, content_type="application/json")

    assert response.status_code == 400
    assert "rates.0.amount_micros" in response.json()["extra"]["fields"]


def test_a_bad_tier_is_refused_naming_the_rate_and_field(finance_client, project):
    data = body(project)
    data["rates"][1]["tier"] = "emperor"

    response = finance_client.post(VERSIONS, data, content_type="application/json")

    assert response.status_code == 400
    assert "rates.1.tier" in response.json()["extra"]["fields"]


def test_withdrawing_a_version_in_force_is_a_conflict(finance_client, project):
    version = rate_version(project=project)

    response = finance_client.post(
        f"{VERSIONS}{version.pk}/withdraw/", {"reason": "typo"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_finance_withdraws_a_scheduled_version(finance_client, project):
    version = rate_version(project=project, effective_from=timezone.now() + timedelta(days=1))

    response = finance_client.post(
        f"{VERSIONS}{version.pk}/withdraw/",
        {"reason": "wrong currency"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn"


def test_the_history_shows_when_each_version_ends(finance_client, project):
    now = timezone.now()
    old = rate_version(rate(amount_micros=1), project=project, now=now - timedelta(days=9))
    current = rate_version(rate(amount_micros=2), project=project, now=now - timedelta(days=2))
    later = rate_version(rate(amount_micros=3), project=project, effective_from=now + timedelta(1))

    rows = {
        r["id"]: r for r in finance_client.get(VERSIONS, {"project": project.pk}).json()["results"]
    }

    assert rows[old.pk]["status"] == "superseded"
    assert rows[current.pk]["status"] == "in_force"
    assert rows[later.pk]["status"] == "scheduled"
    assert rows[old.pk]["ends_at"] is not None and rows[later.pk]["ends_at"] is None


def test_a_manager_reads_the_cards_of_their_projects_only(manager_client, manager):
    mine, elsewhere = make_project(), make_project()
    project_access_set(project=mine, teams=[make_team(managers=[manager])], actor=None)
    project_access_set(project=elsewhere, teams=[make_team()], actor=None)
    rate_version(project=mine)
    theirs = rate_version(project=elsewhere)

    cards = manager_client.get(CARDS).json()["results"]
    versions = manager_client.get(VERSIONS).json()["results"]

    assert [c["project"] for c in cards] == [mine.pk]
    assert [v["project"] for v in versions] == [mine.pk]
    assert manager_client.get(f"{VERSIONS}{theirs.pk}/").status_code == 404


def test_a_manager_cannot_create_a_version(manager_client, project):
    response = manager_client.post(VERSIONS, body(project), content_type="application/json")

    assert response.status_code == 403
    assert not RateCardVersion.objects.exists()


def test_an_annotator_can_neither_read_nor_write(person_client, project):
    rate_version(project=project)

    assert person_client.get(CARDS).status_code == 403
    assert person_client.get(VERSIONS).status_code == 403
    posted = person_client.post(VERSIONS, body(project), content_type="application/json")
    assert posted.status_code == 403
    assert RateCardVersion.objects.count() == 1


def test_finance_without_mfa_is_refused(client, project):
    client.force_login(make_user(Role.FINANCE))

    response = client.post(VERSIONS, body(project), content_type="application/json")

    assert response.status_code == 403 and response.json()["code"] == "mfa_required"
    assert not RateCardVersion.objects.exists()


def test_the_lookup_answers_the_rate_and_version_that_apply(finance_client, person, project):
    version = rate_version(rate(amount_micros=3_500), project=project)

    answer = finance_client.get(
        LOOKUP, {"project": project.pk, "person": person.pk, "work_kind": "annotation"}
    ).json()

    assert answer["applies"] is True and answer["version"] == version.pk
    assert answer["amount_micros"] == 3_500 and answer["amount_display"] == "0.0035 USD"
    assert answer["unit"] == "per_task"


def test_the_lookup_says_when_nothing_applies(finance_client, person, project):
    answer = finance_client.get(
        LOOKUP, {"project": project.pk, "person": person.pk, "work_kind": "review"}
    ).json()

    assert answer["applies"] is False and answer["amount_micros"] is None


def test_the_lookup_refuses_a_bad_moment_naming_it(finance_client, person, project):
    response = finance_client.get(
        LOOKUP,
        {"project": project.pk, "person": person.pk, "work_kind": "annotation", "at": "soon"},
    )

    assert response.status_code == 400 and "at" in response.json()["extra"]["fields"]


def test_listing_versions_takes_a_fixed_number_of_queries(
    finance_client, django_assert_max_num_queries
):
    for _ in range(5):
        rate_version(rate(), rate("review", 2), project=make_project())

    with django_assert_max_num_queries(10):
        assert len(finance_client.get(VERSIONS).json()["results"]) == 5


def test_a_manager_cannot_price_a_project_they_do_not_manage(manager_client, manager, person):
    theirs = make_project()
    project_access_set(project=theirs, teams=[make_team()], actor=None)
    rate_version(project=theirs)

    response = manager_client.get(
        LOOKUP, {"project": theirs.pk, "person": person.pk, "work_kind": "annotation"}
    )

    assert response.status_code == 404


def test_the_rate_card_api_is_in_the_openapi_schema():
    paths = generated_schema()["paths"]

    assert {
        "/api/v1/rate-cards/",
        "/api/v1/rate-cards/{id}/",
        "/api/v1/rate-card-versions/",
        "/api/v1/rate-card-versions/{id}/",
        "/api/v1/rate-card-versions/{id}/withdraw/",
        "/api/v1/rate-lookup/",
    } <= set(paths)
    rate = generated_schema()["components"]["schemas"]["Rate"]["properties"]
    assert rate["amount_micros"]["type"] == "integer"
