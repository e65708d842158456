"""Each role sees its own navigation and nothing of the others' pages and endpoints."""

import pytest

from accounts.models import Role
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db

NAV = {
    "My profile": "/profile/",
    "People": "/people/",
    "Users & roles": "/staff/users/",
    "Audit trail": "/audit/",
    "API tokens": "/tokens/",
}
OWN_SECTIONS = {
    Role.ANNOTATOR: {"My profile"},
    Role.REVIEWER: {"My profile"},
    Role.MANAGER: {"People", "API tokens"},
    Role.FINANCE: {"Audit trail", "API tokens"},
    Role.ADMIN: {"People", "Users & roles", "Audit trail", "API tokens"},
    Role.CUSTOMER: {"API tokens"},
}
API = {
    "People": "/api/v1/people/",
    "Users & roles": "/api/v1/users/",
    "Audit trail": "/api/v1/audit-events/",
    "API tokens": "/api/v1/tokens/",
}
STAFF = {Role.MANAGER, Role.FINANCE, Role.ADMIN}


def user_for(role):
    return make_user(role, level=1 if role == Role.REVIEWER else None, mfa=role in STAFF)


def nav_labels(response):
    return {label for label, _ in response.context["nav_items"]}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_only_its_own_navigation(client, role):
    client.force_login(user_for(role))

    response = client.get("/")

    assert response.status_code == 200
    shown = nav_labels(response) & set(NAV)
    assert shown == OWN_SECTIONS[role]
    html = response.content.decode()
    for label, url in NAV.items():
        assert (f'href="{url}"' in html) == (label in OWN_SECTIONS[role]), (label, html)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_the_other_roles_pages(client, role):
    client.force_login(user_for(role))

    for label, url in NAV.items():
        response = client.get(url)

        expected = 200 if label in OWN_SECTIONS[role] else 403
        assert response.status_code == expected, (role, url)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_the_other_roles_endpoints(client, role):
    client.force_login(user_for(role))

    for label, url in API.items():
        response = client.get(url)

        if label in OWN_SECTIONS[role]:
            assert response.status_code == 200, (role, url)
        else:
            assert response.status_code == 403, (role, url)
            assert response.json()["code"] == "permission_denied"


def test_anonymous_visitors_are_sent_to_sign_in_from_pages_and_get_401_from_the_api(client):
    for url in NAV.values():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_admin_reaching_another_users_page_sees_it_but_a_manager_cannot(client):
    admin = user_for(Role.ADMIN)
    customer = user_for(Role.CUSTOMER)
    client.force_login(admin)
    assert client.get(f"/staff/users/{customer.pk}/").status_code == 200

    client.force_login(user_for(Role.MANAGER))
    assert client.get(f"/staff/users/{customer.pk}/").status_code == 403


def test_a_manager_sees_the_workforce_but_not_customers_or_finance_in_people(client):
    annotator = user_for(Role.ANNOTATOR)
    customer = user_for(Role.CUSTOMER)
    manager = user_for(Role.MANAGER)
    make_team(managers=[manager], members=[annotator])  # managers see the people of their teams
    client.force_login(manager)

    response = client.get("/api/v1/people/")

    emails = {row["email"] for row in response.json()["results"]}
    assert annotator.email in emails
    assert customer.email not in emails
