import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiToken, Role
from accounts.services import api_token_create, api_token_revoke
from core.models import AuditEvent
from tests.accounts.factories import auth
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_created_token_authenticates_api_calls(client):
    customer = make_user(Role.CUSTOMER)
    client.force_login(customer)
    created = client.post(
        "/api/v1/tokens/", {"name": "nightly export"}, content_type="application/json"
    )
    client.logout()

    response = client.get("/api/v1/me/", **auth(created.json()["key"]))

    assert created.status_code == 201
    assert response.status_code == 200
    assert response.json()["email"] == customer.email
    assert [r["role"] for r in response.json()["roles"]] == ["customer"]


def test_a_revoked_token_is_refused(client):
    customer = make_user(Role.CUSTOMER)
    token, key = api_token_create(user=customer, name="ci")
    client.force_login(customer)

    revoked = client.delete(f"/api/v1/tokens/{token.pk}/")
    client.logout()
    response = client.get("/api/v1/me/", **auth(key))

    assert revoked.status_code == 204
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_expired_token_is_refused(client):
    customer = make_user(Role.CUSTOMER)
    token, key = api_token_create(
        user=customer, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/me/", **auth(key))

    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client):
    customer = make_user(Role.CUSTOMER)
    _, key = api_token_create(user=customer, name="ci")
    customer.is_active = False
    customer.save()

    assert client.get("/api/v1/me/", **auth(key)).status_code == 401


def test_a_made_up_token_is_refused(client):
    make_user(Role.CUSTOMER)

    response = client.get("/api/v1/me/", **auth("qrm_deadbeef_not-a-real-key"))

    assert response.status_code == 401


def test_the_token_is_not_stored_in_clear(client):
    customer = make_user(Role.CUSTOMER)
    client.force_login(customer)

    key = client.post("/api/v1/tokens/", {"name": "x"}, content_type="application/json").json()[
        "key"
    ]

    token = ApiToken.objects.get()
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    stored = [str(getattr(token, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(key in value or value == key for value in stored)
    assert key not in str(list(AuditEvent.objects.values()))


def test_the_key_is_shown_once_and_never_in_lists(client):
    customer = make_user(Role.CUSTOMER)
    client.force_login(customer)
    key = client.post("/api/v1/tokens/", {"name": "x"}, content_type="application/json").json()[
        "key"
    ]

    listing = client.get("/api/v1/tokens/")
    detail = client.get(f"/api/v1/tokens/{ApiToken.objects.get().pk}/")
    page = client.get("/tokens/")

    assert key not in listing.content.decode()
    assert "key" not in listing.json()["results"][0]
    assert key not in detail.content.decode()
    assert key not in page.content.decode()


def test_tokens_are_listed_with_their_last_use(client):
    customer = make_user(Role.CUSTOMER)
    token, key = api_token_create(user=customer, name="ci")
    client.get("/api/v1/me/", **auth(key))

    response = client.get("/api/v1/tokens/", **auth(key))

    row = response.json()["results"][0]
    assert row["name"] == "ci"
    assert row["prefix"] == token.prefix
    assert row["last_used_at"] is not None
    assert row["is_active"] is True


def test_someone_elses_token_is_not_found_rather_than_forbidden(client):
    owner = make_user(Role.CUSTOMER)
    token, _ = api_token_create(user=owner, name="theirs")
    client.force_login(make_user(Role.CUSTOMER))

    assert client.get(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_creating_and_revoking_tokens_is_audited():
    customer = make_user(Role.CUSTOMER)

    token, _ = api_token_create(user=customer, name="ci")
    api_token_revoke(token=token, actor=customer)

    events = AuditEvent.objects.filter(target_type__model="apitoken", target_id=str(token.pk))
    actions = list(events.values_list("action", flat=True))
    assert sorted(actions) == ["token.created", "token.revoked"]
    revoked = AuditEvent.objects.get(action="token.revoked")
    assert revoked.before["revoked_at"] is None
    assert revoked.after["revoked_at"] is not None
    assert revoked.actor == customer


def test_portal_token_page_creates_shows_key_once_and_revokes(client):
    customer = make_user(Role.CUSTOMER)
    client.force_login(customer)

    created = client.post("/tokens/", {"name": "from the portal"})
    key = created.context["new_key"]
    again = client.get("/tokens/")
    token = ApiToken.objects.get()
    client.post(f"/tokens/{token.pk}/revoke/")

    assert key in created.content.decode()
    assert key not in again.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_portal_token_form_names_the_missing_field(client):
    client.force_login(make_user(Role.CUSTOMER))

    response = client.post("/tokens/", {"name": ""})

    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert ApiToken.objects.count() == 0


def test_token_list_does_a_fixed_number_of_queries(client):
    customer = make_user(Role.CUSTOMER)
    for i in range(3):
        api_token_create(user=customer, name=f"t{i}")
    client.force_login(customer)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/tokens/")
    for i in range(10):
        api_token_create(user=customer, name=f"more{i}")

    with CaptureQueriesContext(connection) as many:
        client.get("/api/v1/tokens/")

    assert len(many) == len(few)


def test_revoking_from_the_portal_with_htmx_returns_just_the_updated_row(client):
    customer = make_user(Role.CUSTOMER)
    token, _ = api_token_create(user=customer, name="ci")
    client.force_login(customer)

    response = client.post(f"/tokens/{token.pk}/revoke/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith("<tr>")
    assert "revoked" in html
    assert "<html" not in html
