"""Customers' IP allowlists: every way in refuses a customer's users from elsewhere, and who may
change a list, how it is checked and what is recorded."""

from __future__ import annotations

import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from accounts.models import Role
from accounts.services import api_token_create, role_grant
from core.models import AuditEvent
from labeling.api.authentication import AllowlistedTokenAuthentication
from labeling.api.hotpath import QueueHotPath
from labeling.models import Customer, CustomerMember
from labeling.services.access import customer_ip_allowlist_set, customer_member_admin_set
from labeling.services.projects import customer_member_add
from tests.factories import make_user
from tests.labeling.api.test_hotpath import _call, both
from tests.labeling.factories import (
    add_tasks,
    make_customer,
    make_customer_user,
    make_project,
    make_worker,
)

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.0/24"
INSIDE = "203.0.113.9"
OUTSIDE = "198.51.100.7"


def restrict(customer: Customer, *networks: str) -> None:
    customer_ip_allowlist_set(
        customer=customer, entries=list(networks), actor=make_user(Role.ADMIN), actor_address=None
    )


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="customer.ip_refused").order_by("id"))


def token_for(user) -> str:
    return api_token_create(user=user, name="client")[1]


def customer_admin(customer: Customer):
    user = make_customer_user(customer)
    customer_member_admin_set(
        member=CustomerMember.objects.get(user=user), is_admin=True, actor=make_user(Role.ADMIN)
    )
    return user


@pytest.fixture
def customer(customer: Customer) -> Customer:
    """The app's customer (tests/labeling/conftest.py), letting its people in from the office only."""
    restrict(customer, OFFICE)
    return customer


# --- Every way in ---------------------------------------------------------------------------


def test_an_api_token_is_refused_from_outside_the_list_and_the_refusal_is_audited(client, customer):
    user = make_customer_user(customer)
    key = token_for(user)

    response = client.get(
        "/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=OUTSIDE
    )

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "ip_not_allowed"
    assert body["extra"] == {"address": OUTSIDE}
    [event] = refusals()
    assert event.actor == user
    assert event.ip_address == OUTSIDE
    assert event.target_id == str(customer.pk)
    assert event.after == {"user": user.pk, "path": "/api/v1/projects/"}


def test_an_api_token_is_served_from_inside_the_list(client, customer):
    key = token_for(make_customer_user(customer))

    response = client.get(
        "/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=INSIDE
    )

    assert response.status_code == 200
    assert refusals() == []


def test_a_portal_page_is_refused_from_outside_with_a_plain_403_page(client, customer):
    client.force_login(make_customer_user(customer))

    refused = client.get("/projects/", REMOTE_ADDR=OUTSIDE)
    served = client.get("/projects/", REMOTE_ADDR=INSIDE)

    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("text/html")
    assert b"only from its own networks" in refused.content
    assert served.status_code == 200
    assert len(refusals()) == 1


def test_signing_out_stays_possible_from_outside(client, customer):
    client.force_login(make_customer_user(customer))

    response = client.post("/accounts/logout/", REMOTE_ADDR=OUTSIDE)

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_api_with_a_session_is_refused_from_outside_in_json(client, customer):
    client.force_login(make_customer_user(customer))

    response = client.get("/api/v1/customers/", REMOTE_ADDR=OUTSIDE)

    assert response.status_code == 403
    assert response.json()["code"] == "ip_not_allowed"


def test_the_claim_short_path_refuses_from_outside_as_the_full_stack_does(settings):
    customer = make_customer()
    restrict(customer, OFFICE)
    project = make_project(customer)
    add_tasks(project, 3)
    # Someone both labeling and acting for a customer: nothing else would stop their claim.
    user = make_worker()
    customer_member_add(customer=customer, user=user, actor=None)
    key = token_for(user)
    app = QueueHotPath(WSGIHandler())
    claim = f"/api/v1/projects/{project.pk}/claim/"

    hot, full = both(settings, lambda: _call(app, claim, key=key, extra={"REMOTE_ADDR": OUTSIDE}))
    inside = _call(app, claim, key=key, extra={"REMOTE_ADDR": INSIDE})

    assert hot.code == 403
    assert hot.json()["code"] == "ip_not_allowed"
    assert hot.shape() == full.shape()
    assert inside.code == 200, inside.body
    assert len(refusals()) == 1  # the same person and address within a minute: recorded once


def test_the_submit_short_path_refuses_from_outside(settings):
    customer = make_customer()
    project = make_project(customer)
    add_tasks(project, 3)
    user = make_worker()
    customer_member_add(customer=customer, user=user, actor=None)
    key = token_for(user)
    app = QueueHotPath(WSGIHandler())
    lease_id = _call(app, f"/api/v1/projects/{project.pk}/claim/", key=key).json()["lease"]["id"]
    restrict(customer, OFFICE)
    body = json.dumps({"result": {"label": "cat"}}).encode()

    response = _call(
        app,
        f"/api/v1/leases/{lease_id}/submit/",
        key=key,
        body=body,
        extra={"REMOTE_ADDR": OUTSIDE},
    )

    assert response.code == 403
    assert response.json()["code"] == "ip_not_allowed"


def test_every_api_view_checks_tokens_against_the_allowlist():
    """A view with its own token authentication would be a way around the allowlist."""

    def views(patterns: list[URLPattern | URLResolver]):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            else:
                yield pattern.callback

    api_views = [
        getattr(view, "cls", None) or getattr(view, "view_class", None)
        for view in views(get_resolver().url_patterns)
    ]
    api_views = [cls for cls in api_views if isinstance(cls, type) and issubclass(cls, APIView)]

    assert len(api_views) > 20
    for cls in api_views:
        token_classes = [
            auth
            for auth in cls().get_authenticators()
            if "Token" in type(auth).__name__ or "token" in type(auth).__module__
        ]
        assert all(isinstance(auth, AllowlistedTokenAuthentication) for auth in token_classes), cls


# --- Who is bound, and from which address ---------------------------------------------------


def test_an_empty_list_lets_a_customers_users_in_from_anywhere(client):
    customer = make_customer()
    key = token_for(make_customer_user(customer))

    response = client.get(
        "/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=OUTSIDE
    )

    assert response.status_code == 200


def test_staff_are_not_bound_even_when_they_act_for_a_customer(client, customer):
    manager = make_customer_user(customer)
    role_grant(user=manager, role=Role.MANAGER, actor=None)
    key = token_for(manager)

    # A manager without MFA is refused for that (mfa_required), never for the address.
    response = client.get(
        "/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=OUTSIDE
    )

    assert response.json()["code"] != "ip_not_allowed"
    assert refusals() == []


def test_annotators_are_not_bound(client, customer):
    key = token_for(make_worker())

    response = client.get(
        "/api/v1/work/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=OUTSIDE
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "allowed"),
    [
        (0, INSIDE, OUTSIDE, True),  # the header is ignored without trusted proxies
        (0, OUTSIDE, INSIDE, False),  # ... so it cannot be used to get in either
        (1, "10.0.0.2", INSIDE, True),
        (1, "10.0.0.2", f"{OUTSIDE}, {INSIDE}", True),
        (1, "10.0.0.2", f"{INSIDE}, {OUTSIDE}", False),  # a spoofed entry on the left
        (2, "10.0.0.2", f"{INSIDE}, 10.0.0.1", True),
        (2, "10.0.0.2", f"{INSIDE}, {OUTSIDE}, 10.0.0.1", False),
        (2, INSIDE, "10.0.0.1", False),  # too few entries: unknown address
    ],
)
def test_the_address_is_the_one_the_outermost_trusted_proxy_saw(
    client, settings, customer, trusted, remote, forwarded, allowed
):
    settings.TRUSTED_PROXY_COUNT = trusted
    key = token_for(make_customer_user(customer))

    response = client.get(
        "/api/v1/projects/",
        HTTP_AUTHORIZATION=f"Token {key}",
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )

    assert response.status_code == (200 if allowed else 403)


def test_ipv6_clients_are_matched_against_ipv6_networks(client):
    customer = make_customer()
    restrict(customer, "2001:db8:100::/48", OFFICE)
    key = token_for(make_customer_user(customer))

    def call(address: str) -> int:
        return client.get(
            "/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address
        ).status_code

    assert call("2001:db8:100:7::1") == 200
    assert call("2001:db8:101::1") == 403
    assert call("::ffff:203.0.113.9") == 200


def test_refusals_are_recorded_once_per_person_and_address_per_minute(client, customer):
    key = token_for(make_customer_user(customer))

    for address in [OUTSIDE, OUTSIDE, OUTSIDE, "198.51.100.8"]:
        client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)

    assert [event.ip_address for event in refusals()] == [OUTSIDE, "198.51.100.8"]


# --- Editing the list -----------------------------------------------------------------------


def _put(client, customer: Customer, networks: list[str], address: str, **extra: object):
    return client.put(
        f"/api/v1/customers/{customer.pk}/ip-allowlist/",
        {"ip_allowlist": networks, **extra},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def test_a_customer_admin_replaces_the_list_normalised_and_audited(client, customer):
    admin = customer_admin(customer)
    client.force_login(admin)

    response = _put(client, customer, [" 203.0.113.0/24", "2001:DB8::/32", "192.0.2.7"], INSIDE)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "customer": customer.pk,
        "ip_allowlist": ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7/32"],
        "your_address": INSIDE,
    }
    event = AuditEvent.objects.filter(action="customer.ip_allowlist_changed").first()
    assert event is not None
    assert event.actor == admin
    assert event.before == {"ip_allowlist": [OFFICE]}
    assert event.after == {
        "ip_allowlist": ["203.0.113.0/24", "2001:db8::/32", "192.0.2.7/32"],
        "forced": False,
    }


def test_a_quorum_admin_reads_and_replaces_any_customers_list(client, customer):
    client.force_login(make_user(Role.ADMIN, mfa=True))

    read = client.get(f"/api/v1/customers/{customer.pk}/ip-allowlist/", REMOTE_ADDR=OUTSIDE)
    written = _put(client, customer, ["192.0.2.0/24"], OUTSIDE)

    assert read.json()["ip_allowlist"] == [OFFICE]
    assert written.status_code == 200
    customer.refresh_from_db()
    assert customer.ip_allowlist == ["192.0.2.0/24"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("203.0.113.5/24", "has host bits set: did you mean 203.0.113.0/24?"),
        ("2001:db8::1/32", "has host bits set: did you mean 2001:db8::/32?"),
        ("203.0.113.0/33", "is not a network"),
        ("office", "is not a network"),
    ],
)
def test_a_bad_network_is_refused_naming_the_field_and_the_entry(client, customer, entry, message):
    client.force_login(customer_admin(customer))

    response = _put(client, customer, [OFFICE, entry], INSIDE)

    assert response.status_code == 400
    [error] = response.json()["extra"]["fields"]["ip_allowlist"]
    assert error.startswith(f"Entry 2 ({entry!r})")
    assert message in error
    customer.refresh_from_db()
    assert customer.ip_allowlist == [OFFICE]


def test_a_list_longer_than_the_limit_is_refused(client, customer):
    client.force_login(customer_admin(customer))

    response = _put(client, customer, [f"10.0.{i}.0/24" for i in range(101)], INSIDE)

    assert response.status_code == 400
    assert "At most 100 networks" in response.json()["extra"]["fields"]["ip_allowlist"][0]


def test_a_customer_admin_cannot_lock_themselves_out_by_accident(client, customer):
    client.force_login(customer_admin(customer))

    refused = _put(client, customer, ["192.0.2.0/24"], INSIDE)
    forced = _put(client, customer, ["192.0.2.0/24"], INSIDE, force=True)

    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "ip_allowlist_excludes_you"
    assert INSIDE in body["extra"]["fields"]["ip_allowlist"][0]
    assert forced.status_code == 200
    event = AuditEvent.objects.filter(action="customer.ip_allowlist_changed").first()
    assert event is not None
    assert event.before == {"ip_allowlist": [OFFICE]}
    assert event.after == {"ip_allowlist": ["192.0.2.0/24"], "forced": True}


def test_a_customer_admin_without_a_list_yet_is_protected_too(client):
    customer = make_customer()
    client.force_login(customer_admin(customer))

    response = _put(client, customer, ["192.0.2.0/24"], INSIDE)

    assert response.status_code == 400
    assert response.json()["code"] == "ip_allowlist_excludes_you"


def test_a_customer_user_who_is_not_its_admin_is_refused(client, customer):
    client.force_login(make_customer_user(customer))

    read = client.get(f"/api/v1/customers/{customer.pk}/ip-allowlist/", REMOTE_ADDR=INSIDE)
    written = _put(client, customer, [], INSIDE)

    assert read.status_code == 403
    assert written.status_code == 403
    customer.refresh_from_db()
    assert customer.ip_allowlist == [OFFICE]


def test_the_admin_of_another_customer_finds_no_such_customer(client, customer):
    client.force_login(customer_admin(make_customer()))

    read = client.get(f"/api/v1/customers/{customer.pk}/ip-allowlist/", REMOTE_ADDR=INSIDE)
    written = _put(client, customer, [], INSIDE)

    assert read.status_code == 404
    assert written.status_code == 404


def test_managers_do_not_manage_allowlists(client, customer):
    client.force_login(make_user(Role.MANAGER, mfa=True))

    response = _put(client, customer, [], INSIDE)

    assert response.status_code == 403


# --- Customer administrators ----------------------------------------------------------------


def test_a_quorum_admin_marks_a_customers_user_as_its_admin_audited(client, customer):
    user = make_customer_user(customer)
    admin = make_user(Role.ADMIN, mfa=True)
    client.force_login(admin)

    response = client.patch(
        f"/api/v1/customers/{customer.pk}/members/{user.pk}/",
        {"is_admin": True},
        content_type="application/json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["is_admin"] is True
    assert CustomerMember.objects.get(user=user).is_admin
    event = AuditEvent.objects.get(action="customer.member_admin_changed")
    assert event.actor == admin
    assert event.before == {"user": user.pk, "is_admin": False}
    assert event.after == {"user": user.pk, "is_admin": True}


def test_a_customer_admin_cannot_make_others_admins(client, customer):
    other = make_customer_user(customer)
    client.force_login(customer_admin(customer))

    response = client.patch(
        f"/api/v1/customers/{customer.pk}/members/{other.pk}/",
        {"is_admin": True},
        content_type="application/json",
        REMOTE_ADDR=INSIDE,
    )

    assert response.status_code == 403
    assert not CustomerMember.objects.get(user=other).is_admin


def test_a_customers_users_list_its_members_and_admins(client, customer):
    admin = customer_admin(customer)
    make_customer_user(make_customer())  # someone else's
    client.force_login(make_customer_user(customer))

    response = client.get(f"/api/v1/customers/{customer.pk}/members/", REMOTE_ADDR=INSIDE)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 2
    assert {row["email"]: row["is_admin"] for row in rows}[admin.email] is True


# --- Portal page ----------------------------------------------------------------------------


def test_a_customer_admin_saves_the_list_on_the_portal_page(client, customer):
    client.force_login(customer_admin(customer))
    url = f"/customers/{customer.pk}/ip-allowlist/"

    page = client.get(url, REMOTE_ADDR=INSIDE)
    saved = client.post(url, {"ip_allowlist": f"{OFFICE}\n192.0.2.0/24"}, REMOTE_ADDR=INSIDE)

    assert page.status_code == 200
    assert INSIDE.encode() in page.content
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert customer.ip_allowlist == [OFFICE, "192.0.2.0/24"]
    history = client.get(url, REMOTE_ADDR=INSIDE)
    assert b"192.0.2.0/24" in history.content


def test_the_portal_page_shows_a_bad_network_next_to_the_field(client, customer):
    client.force_login(customer_admin(customer))

    response = client.post(
        f"/customers/{customer.pk}/ip-allowlist/",
        {"ip_allowlist": f"{OFFICE}\n203.0.113.5/24"},
        REMOTE_ADDR=INSIDE,
    )

    assert response.status_code == 200
    assert "did you mean 203.0.113.0/24?" in response.context["form"].errors["ip_allowlist"][0]


def test_the_portal_page_is_refused_to_customer_users_who_are_not_admins(client, customer):
    client.force_login(make_customer_user(customer))

    response = client.get(f"/customers/{customer.pk}/ip-allowlist/", REMOTE_ADDR=INSIDE)

    assert response.status_code == 403


def test_the_portal_page_of_another_customer_is_not_found(client, customer):
    client.force_login(customer_admin(make_customer()))

    response = client.get(f"/customers/{customer.pk}/ip-allowlist/", REMOTE_ADDR=INSIDE)

    assert response.status_code == 404
