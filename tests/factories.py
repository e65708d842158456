"""Test data made through the product's own services, so tests start from states the product can reach."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

from accounts.models import Role, User
from accounts.services import RoleSpec, user_create
from workforce.models import Team
from workforce.selectors import terms_current
from workforce.services import annotator_signup_complete, terms_publish
from workforce.services.teams import team_create, team_manager_assign, team_member_add

PASSWORD = "correct-horse-battery-staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"
_seq = itertools.count(1)


def make_user(
    *roles: Role | str,
    level: int | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    mfa: bool = False,
) -> User:
    """Create a verified user holding `roles`; annotators sign up with a profile; `mfa` adds TOTP."""
    email = email or f"person{next(_seq)}@example.test"
    specs = [
        RoleSpec(Role(r), level if Role(r) == Role.REVIEWER else None)
        for r in roles
        if Role(r) != Role.ANNOTATOR
    ]
    user = user_create(email=email, password=password, roles=specs, email_verified=True)
    if Role.ANNOTATOR in roles or Role.REVIEWER in roles:
        # Transactional tests (live server, threads) flush the terms the data migration published.
        terms = terms_current() or terms_publish(
            version="2026-11", title="Terms", body="Terms.", actor=None
        )
        annotator_signup_complete(
            user=user,
            country="KE",
            time_zone="Africa/Nairobi",
            languages=["en"],
            terms_version=terms.version,
        )
    if mfa:
        TOTP.activate(user, TOTP_SECRET)
    return user


def totp_now(secret: str = TOTP_SECRET) -> str:
    """The code an authenticator app would show for `secret` right now. Near the end of a 30 s
    window it waits for the next one: the server accepts only the current window's code, and on a
    busy machine a code made at 29.9 s reaches it in the next window."""
    left = 30 - time.time() % 30
    if left < 3:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def make_team(
    name: str | None = None, *, managers: Iterable[User] = (), members: Iterable[User] = ()
) -> Team:
    """A team with `managers` assigned and `members` in it: a manager sees and manages only the
    people of their teams, so a test whose manager must reach a person puts both in one."""
    team = team_create(name=name or f"Team {next(_seq)}", actor=None)
    for manager in managers:
        team_manager_assign(team=team, user=manager, actor=None)
    for member in members:
        team_member_add(team=team, user=member, actor=None)
    return team
