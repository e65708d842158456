"""Fixtures of the workforce tests: a manager with a team of their own, and people in it.

A manager sees and manages only the people of their teams (`workforce.selectors.teams`), so a
test whose manager must reach a person makes that person with `make_member`.
"""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role, User
from tests.factories import make_team, make_user
from workforce.models import Team
from workforce.services.teams import team_member_add


@pytest.fixture
def manager() -> User:
    return make_user(Role.MANAGER, mfa=True)


@pytest.fixture
def managed_team(manager: User) -> Team:
    """The team `manager` manages."""
    return make_team("Managed team", managers=[manager])


@pytest.fixture
def make_member(managed_team: Team) -> Callable[..., User]:
    """Make a person (an annotator by default) in the manager's team."""

    def make(*roles: Role, **kwargs: Any) -> User:
        user = make_user(*(roles or (Role.ANNOTATOR,)), **kwargs)
        team_member_add(team=managed_team, user=user, actor=None)
        return user

    return make
