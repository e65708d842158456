"""The payout-account API: a person's own account (masked, never the details back), finance's
masked list, scoping, the per-country providers, MFA for finance."""

import pytest

from accounts.models import Role
from payments.models import PayoutAccount, PayoutCountryProviders
from payments.services.payout_accounts import bank_details_confirmation_token
from tests.factories import make_user
from tests.payments.factories import VALID_IBAN, make_payout_account

pytestmark = pytest.mark.django_db

BODY = {"country": "DE", "currency": "EUR", "holder_name": "Ada Lovelace", "iban": VALID_IBAN}


def test_a_person_enters_details_and_gets_them_back_masked_only(person_client, person):
    response = person_client.post(
        "/api/v1/me/payout-account/", BODY, content_type="application/json"
    )
    again = person_client.get("/api/v1/me/payout-account/")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending_confirmation"
    assert body["pending_details"] == "IBAN •••• 3000"
    assert body["details"] is None
    assert body["can_be_paid_now"] is False
    for answer in (response, again):
        assert VALID_IBAN not in answer.content.decode()
        assert "Lovelace" not in answer.content.decode()


def test_confirming_through_the_api_makes_the_details_current_and_cooling_off(
    person_client, person
):
    person_client.post("/api/v1/me/payout-account/", BODY, content_type="application/json")
    row = PayoutAccount.objects.get(user=person).bank_details.get()

    response = person_client.post(
        "/api/v1/me/payout-account/confirm/",
        {"token": bank_details_confirmation_token(row)},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["details"], body["pending_details"]) == (
        "cooling_off",
        "IBAN •••• 3000",
        None,
    )
    assert "payouts may use them from" in body["why_not"]


def test_a_bad_iban_answers_400_naming_the_field(person_client):
    response = person_client.post(
        "/api/v1/me/payout-account/",
        {**BODY, "iban": "DE89370400440532013001"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["extra"]["fields"]) == ["iban"]


def test_a_tampered_token_answers_400_naming_the_token(person_client, person):
    make_payout_account(person, confirmed=False)

    response = person_client.post(
        "/api/v1/me/payout-account/confirm/", {"token": "abc:def"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "token" in response.json()["extra"]["fields"]


def test_another_persons_confirmation_token_answers_404(person_client):
    other = make_user(Role.ANNOTATOR)
    make_payout_account(other, confirmed=False)
    row = PayoutAccount.objects.get(user=other).bank_details.get()

    response = person_client.post(
        "/api/v1/me/payout-account/confirm/",
        {"token": bank_details_confirmation_token(row)},
        content_type="application/json",
    )

    assert response.status_code == 404
    assert PayoutAccount.objects.get(user=other).status == "pending_confirmation"


def test_a_person_sees_only_their_own_account_and_another_persons_is_404(person_client, person):
    own = make_payout_account(person)
    other = make_payout_account(make_user(Role.ANNOTATOR))

    listed = person_client.get("/api/v1/payout-accounts/").json()
    mine = person_client.get(f"/api/v1/payout-accounts/{own.pk}/")
    theirs = person_client.get(f"/api/v1/payout-accounts/{other.pk}/")

    assert [row["id"] for row in listed["results"]] == [own.pk]
    assert mine.status_code == 200
    assert theirs.status_code == 404


def test_finance_lists_every_account_masked_with_one_query_per_page(
    finance_client, django_assert_max_num_queries
):
    for _ in range(3):
        make_payout_account(make_user(Role.ANNOTATOR))

    with django_assert_max_num_queries(12):
        response = finance_client.get("/api/v1/payout-accounts/?status=cooling_off")
    listed = finance_client.get("/api/v1/payout-accounts/?status=ready").json()

    assert response.status_code == 200
    assert response.json()["results"] == []  # cooled off long ago: ready now
    assert len(listed["results"]) == 3
    assert {row["details"] for row in listed["results"]} == {"IBAN •••• 3000"}
    assert {row["status_now"] for row in listed["results"]} == {"ready"}
    assert VALID_IBAN not in str(listed)


def test_finance_sets_and_resets_a_countrys_providers(finance_client, finance):
    put = finance_client.put(
        "/api/v1/payout-providers/de/",
        {"providers": ["stripe_connect", "bank_file"]},
        content_type="application/json",
    )
    listed = finance_client.get("/api/v1/payout-providers/").json()
    reset = finance_client.delete("/api/v1/payout-providers/DE/")
    default = finance_client.get("/api/v1/payout-providers/default/").json()

    assert put.status_code == 200
    assert put.json()["providers"] == ["bank_file", "stripe_connect"]
    assert [row["country"] for row in listed["results"]] == ["DE"]
    assert reset.status_code == 204
    assert not PayoutCountryProviders.objects.exists()
    assert default == {"providers": ["bank_file"]}


def test_an_unknown_country_is_refused_naming_the_country(finance_client):
    response = finance_client.put(
        "/api/v1/payout-providers/zz/",
        {"providers": ["bank_file"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["country"]


def test_finance_without_mfa_cannot_change_providers(client):
    client.force_login(make_user(Role.FINANCE))

    response = client.put(
        "/api/v1/payout-providers/DE/", {"providers": []}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    assert not PayoutCountryProviders.objects.exists()


def test_annotators_cannot_change_providers(person_client):
    response = person_client.put(
        "/api/v1/payout-providers/DE/", {"providers": []}, content_type="application/json"
    )

    assert response.status_code == 403
    assert not PayoutCountryProviders.objects.exists()
