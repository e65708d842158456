"""Fixtures of the payments tests: a person, a project, a finance user (with MFA), signed in or not."""

import pytest

from accounts.models import Role
from tests.factories import make_user
from tests.labeling.factories import make_project


@pytest.fixture
def person():
    return make_user(Role.ANNOTATOR)


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def finance():
    return make_user(Role.FINANCE, mfa=True)


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def person_client(client, person):
    client.force_login(person)
    return client
