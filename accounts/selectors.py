"""Reads of users, roles and tokens."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache
from django.db import transaction
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


# API calls come many times a minute per person: a token, its user and their roles are read once
# and kept this long in the cache. Revoking a token, deactivating a user or changing their roles
# drops the entry at once (`api_tokens_forget`); expiry is checked on every call.
TOKEN_CACHE_SECONDS = 30


def _token_cache_key(digest: str) -> str:
    return f"accounts:api-token:{digest}"


def api_token_get_by_key(key: str) -> ApiToken | None:
    """Return the token whose key is `key` (active or not) with its user and their roles, or None."""
    cache_key = _token_cache_key(token_digest(key))
    token: ApiToken | None = cache.get(cache_key)
    if token is None:
        token = ApiToken.objects.select_related("user").filter(key_digest=token_digest(key)).first()
        if token is None:
            return None
        user_roles(token.user)  # kept on the user object, so cached with it
        api_token_remember(token)
    return token


def api_token_remember(token: ApiToken) -> None:
    """(Re)store `token` with its user in the cache (after it was read or touched)."""
    cache.set(_token_cache_key(token.key_digest), token, TOKEN_CACHE_SECONDS)


def api_tokens_forget(*, user_id: int) -> None:
    """Drop the cached tokens of a person now and again when the transaction commits (a request
    running meanwhile may have cached what is about to change)."""
    keys = [
        _token_cache_key(digest)
        for digest in ApiToken.objects.filter(user_id=user_id).values_list("key_digest", flat=True)
    ]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def user_has_mfa(user: Any) -> bool:
    """Return whether `user` has an active TOTP authenticator (recovery codes alone do not count)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def role_counts() -> dict[str, int]:
    """Return how many people hold each role."""
    from django.db.models import Count

    rows = RoleGrant.objects.values("role").annotate(n=Count("id")).values_list("role", "n")
    return dict(rows)
