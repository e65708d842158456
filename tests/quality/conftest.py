"""Fixtures of the quality tests, defined once for the app: a workforce manager (signed in or
not), a customer with a signed-in member, a project, and the consensus project of the reports.

The builders are in tests.quality.factories and, for labeling's things, tests.labeling.factories.
"""

import pytest

from tests.labeling.factories import make_customer, make_customer_user, make_project
from tests.quality.factories import make_manager, seed_consensus


@pytest.fixture
def manager():
    return make_manager()


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def customer():
    return make_customer("Acme Data")


@pytest.fixture
def customer_client(client, customer):
    client.force_login(make_customer_user(customer))
    return client


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def seeded(customer):
    """The consensus project of `seed_consensus`, the customer's."""
    return seed_consensus(customer)
