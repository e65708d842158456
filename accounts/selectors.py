"""Reads of users, roles and tokens."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import ApiToken, Role, RoleGrant, User

_ROLE_CACHE_ATTR = "_quorum_roles"


def user_roles(user: Any) -> dict[str, int | None]:
    """Return {role: level} for `user` (empty for anonymous); cached on the user object."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    cached: dict[str, int | None] | None = getattr(user, _ROLE_CACHE_ATTR, None)
    if cached is None:
        cached = dict(RoleGrant.objects.filter(user_id=user.pk).values_list("role", "level"))
        setattr(user, _ROLE_CACHE_ATTR, cached)
    return cached


def user_roles_forget(user: Any) -> None:
    """Drop the cached roles of `user` after a grant or revoke."""
    if hasattr(user, _ROLE_CACHE_ATTR):
        delattr(user, _ROLE_CACHE_ATTR)


def request_user(request: HttpRequest | Request) -> User:
    """Return the signed-in user of a request that a guard already required to be signed in."""
    user = request.user
    if not isinstance(user, User):
        raise AssertionError("request_user() needs a signed-in user; guard the view first")
    return user


def user_has_role(user: Any, *roles: Role | str) -> bool:
    held = user_roles(user)
    return any(str(role) in held for role in roles)


def user_list() -> QuerySet[User]:
    return User.objects.order_by("email").prefetch_related("role_grants")


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_get_by_key(key: str) -> ApiToken | None:
    """Return the token whose key is `key` (active or not), or None."""
    return ApiToken.objects.select_related("user").filter(key_digest=token_digest(key)).first()


def user_has_mfa(user: Any) -> bool:
    """Return whether `user` has an active TOTP authenticator (recovery codes alone do not count)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def role_counts() -> dict[str, int]:
    """Return how many people hold each role."""
    from django.db.models import Count

    rows = RoleGrant.objects.values("role").annotate(n=Count("id")).values_list("role", "n")
    return dict(rows)
