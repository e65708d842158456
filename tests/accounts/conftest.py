"""Fixtures of the accounts tests, defined once for the app.

The builders are in tests.accounts.factories and, for people, tests.factories.
"""

import pytest

from tests.accounts.factories import Scenario, build


@pytest.fixture
def scenario() -> Scenario:
    """A person with a bit of everything Quorum keeps about people (see `build`)."""
    return build()
