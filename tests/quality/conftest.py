"""Fixtures of the quality tests: a workforce manager, signed in or not, and a project.

The builders are shared with labeling's tests (tests.labeling.factories) and tests.quality.rules_data;
labeling's fixtures (tests/labeling/conftest.py) are imported where a test here needs them.
"""

import pytest

from tests.labeling.factories import make_project
from tests.quality.rules_data import make_manager


@pytest.fixture
def manager():
    return make_manager()


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def project():
    return make_project()
