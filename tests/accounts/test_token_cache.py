"""API tokens are cached with their user and roles; every change that matters applies at once."""

import pytest

from accounts.models import Role
from accounts.selectors import api_token_get_by_key
from accounts.services import api_token_create, api_token_revoke, role_revoke, user_set_active
from tests.accounts.factories import auth
from tests.factories import make_user
from tests.labeling.factories import add_tasks, make_project, make_worker

pytestmark = pytest.mark.django_db


def test_a_token_in_use_stops_working_the_moment_it_is_revoked(client):
    customer = make_user(Role.CUSTOMER)
    token, key = api_token_create(user=customer, name="ci")
    assert client.get("/api/v1/me/", **auth(key)).status_code == 200  # now cached

    api_token_revoke(token=token, actor=customer)

    assert client.get("/api/v1/me/", **auth(key)).status_code == 401


def test_a_deactivated_person_is_refused_at_once_though_their_token_was_cached(
    client, django_assert_num_queries
):
    customer = make_user(Role.CUSTOMER)
    _, key = api_token_create(user=customer, name="ci")
    assert client.get("/api/v1/me/", **auth(key)).status_code == 200
    with django_assert_num_queries(0):  # the token and its active user come from the cache
        cached = api_token_get_by_key(key)
    assert cached is not None and cached.user.is_active

    user_set_active(user=customer, is_active=False, actor=None)

    assert client.get("/api/v1/me/", **auth(key)).status_code == 401


def test_a_role_taken_away_applies_at_once_to_a_cached_token(client):
    project = make_project()
    add_tasks(project, 3)
    worker = make_worker()
    _, key = api_token_create(user=worker, name="tool")
    first = client.post(f"/api/v1/projects/{project.pk}/claim/", **auth(key))
    assert first.status_code == 200

    role_revoke(user=worker, role=Role.ANNOTATOR, actor=None)

    again = client.post(f"/api/v1/projects/{project.pk}/claim/", **auth(key))
    assert again.status_code == 404
