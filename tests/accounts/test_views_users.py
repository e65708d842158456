"""The administrators' users & roles pages and the audit trail page."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.selectors import user_roles
from core.models import AuditEvent
from tests.factories import make_user
from workforce.models import AnnotatorProfile
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(Role.ADMIN, mfa=True))
    return client


def test_admin_grants_a_reviewer_level_from_the_portal(admin_client):
    person = make_user(Role.ANNOTATOR)

    response = admin_client.post(
        f"/staff/users/{person.pk}/", {"op": "grant", "role": "reviewer", "level": "2"}
    )

    assert response.status_code == 302
    assert user_roles(person) == {"annotator": None, "reviewer": 2}


def test_granting_a_reviewer_without_level_shows_the_error_next_to_the_field(admin_client):
    person = make_user(Role.ANNOTATOR)

    response = admin_client.post(
        f"/staff/users/{person.pk}/", {"op": "grant", "role": "reviewer", "level": ""}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["level"] == ["Required for reviewers."]
    assert "reviewer" not in user_roles(person)


def test_admin_revokes_a_role_and_deactivates_sign_in(admin_client):
    person = make_user(Role.CUSTOMER)

    admin_client.post(f"/staff/users/{person.pk}/", {"op": "revoke", "role": "customer"})
    admin_client.post(f"/staff/users/{person.pk}/", {"op": "deactivate"})

    person.refresh_from_db()
    assert user_roles(person) == {}
    assert person.is_active is False
    assert AuditEvent.objects.filter(action="user.deactivated", target_id=str(person.pk)).exists()


def test_the_user_page_shows_its_role_history(admin_client):
    person = make_user(Role.CUSTOMER)

    response = admin_client.get(f"/staff/users/{person.pk}/")

    assert "role.granted" in response.content.decode()


def _row_of(html: str, email: str) -> str:
    match = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(email)}(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, email
    return match.group()


def test_the_users_list_shows_annotators_status_from_their_workforce_profile(admin_client):
    applicant = make_user(Role.ANNOTATOR)
    suspended = make_user(Role.ANNOTATOR)
    annotator_status_set(
        profile=AnnotatorProfile.objects.get(user=suspended), status="suspended", actor=None
    )
    customer = make_user(Role.CUSTOMER)

    html = admin_client.get("/staff/users/").content.decode()

    applicant_row = _row_of(html, applicant.email)
    assert ">Terms accepted</span>" in applicant_row
    assert ">active<" not in applicant_row.lower()
    assert '<span class="badge off">Suspended</span>' in _row_of(html, suspended.email)
    assert "not an annotator" in _row_of(html, customer.email)
    assert "<th>Sign-in</th><th>Annotator status</th>" in html


def test_the_user_page_shows_sign_in_apart_from_the_annotator_status(admin_client):
    applicant = make_user(Role.ANNOTATOR)

    html = admin_client.get(f"/staff/users/{applicant.pk}/").content.decode()

    assert 'Sign-in: <span class="badge ok">allowed</span>' in html
    assert 'Annotator status: <span class="badge">Terms accepted</span>' in html


def test_the_users_list_does_a_fixed_number_of_queries(admin_client):
    for _ in range(3):
        make_user(Role.ANNOTATOR)
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/staff/users/")
    for _ in range(10):
        make_user(Role.REVIEWER, level=1)

    with CaptureQueriesContext(connection) as many:
        admin_client.get("/staff/users/")

    assert len(many) == len(few)


def test_the_audit_trail_filters_by_action_and_actor(client):
    finance = make_user(Role.FINANCE, mfa=True)
    admin = make_user(Role.ADMIN, mfa=True)
    client.force_login(admin)
    person = make_user(Role.ANNOTATOR)
    client.post(f"/staff/users/{person.pk}/", {"op": "grant", "role": "reviewer", "level": "1"})
    client.force_login(finance)

    response = client.get("/audit/", {"action": "role.", "actor": admin.email})

    rows = list(response.context["page"])
    assert rows
    assert all(e.action.startswith("role.") and e.actor == admin for e in rows)


def test_the_audit_api_filters_and_paginates(client):
    client.force_login(make_user(Role.FINANCE, mfa=True))
    for _ in range(3):
        make_user(Role.ANNOTATOR)

    response = client.get("/api/v1/audit-events/", {"action": "user.created", "page_size": 2})

    body = response.json()
    assert body["count"] >= 3
    assert len(body["results"]) == 2
    assert {r["action"] for r in body["results"]} == {"user.created"}
    assert body["next"]
