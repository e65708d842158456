"""Reads of users, roles and tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import ApiToken, Role, RoleGrant, User
from core.cache import ProcessCache
from core.sessions import person_generation_key

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
# and kept this long in the cache; expiry is checked on every call.
TOKEN_CACHE_SECONDS = 30
# How long a token's generation lives in the cache without being changed. When it has gone, the
# next call starts a new one (and reads the database): it only needs to outlive the entries.
TOKEN_GENERATION_SECONDS = 24 * 60 * 60
_GENERATION_ATTR = "_quorum_token_generation"
# Each process also keeps the tokens it used (TOKEN_CACHE_SECONDS at most), handed out only under
# the generation read from the cache during the same call: no unpickling of the shared entry,
# and, when the caller reads the generation ahead with its other cache reads, no round trip.
_PROCESS_TOKENS = ProcessCache(seconds=TOKEN_CACHE_SECONDS)

# Revoking a token, deactivating its user or changing their roles must apply to every call that
# starts after the change commits, whatever the timing. Dropping the cached entry is not enough:
# a call that read the token from the database just before the commit can store what it read
# just after the entry was dropped, and then serve it for the entry's whole lifetime.
#
# So each token has a generation in the cache, a random value that every such change replaces
# (`api_tokens_forget`). A call reads the entry and the generation together (one round trip),
# uses the entry only if it was built under the current generation, and otherwise reads the
# database and stores what it read stamped with the generation it saw *before* that read. An
# entry built from data older than a change therefore carries a generation the change has
# already replaced, and no later call uses it, whenever it is written. A missing generation
# (never set, expired or evicted) is created with `add` before the database read, so it too
# is one that a concurrent change replaces; if a change got there first, the call reads the
# database without caching.


def _token_cache_key(digest: str) -> str:
    return f"accounts:api-token-entry:{digest}"


def _token_generation_key(digest: str) -> str:
    return f"accounts:api-token-generation:{digest}"


def _new_generation() -> str:
    return secrets.token_hex(8)


class _Unread:
    """The generation was not read ahead: `api_token_get_by_key` reads it itself."""


UNREAD = _Unread()


def api_token_cache_keys(key: str) -> tuple[str, str]:
    """The cache keys of the token `key`: its entry and its generation (to read them ahead)."""
    digest = token_digest(key)
    return _token_cache_key(digest), _token_generation_key(digest)


def api_token_user_id_hint(key: str) -> int | None:
    """The user id of the token `key` if this process holds it (possibly stale: a hint only)."""
    hint: int | None = _PROCESS_TOKENS.peek(token_digest(key))
    return hint


def api_token_get_by_key(
    key: str, *, generation: str | _Unread | None = UNREAD, entry_cached: bool = False
) -> ApiToken | None:
    """Return the token whose key is `key` (active or not) with its user and their roles, or None.

    A caller that read the token's generation ahead passes it (None: it was missing) and whether
    the token's entry is in the cache (`entry_cached`). A token cached under the current
    generation costs one cache round trip (none when read ahead and held by this process) and
    no query; otherwise one query (plus a cache write, and an `add` when the generation is
    missing). This process holds a token no longer than the cache does: when the entry has
    gone, the database is read again.
    """
    digest = token_digest(key)
    entry_key, generation_key = _token_cache_key(digest), _token_generation_key(digest)
    entry: tuple[str, ApiToken] | None = None
    if isinstance(generation, _Unread):
        found = cache.get_many([entry_key, generation_key])
        generation, entry = found.get(generation_key), found.get(entry_key)
        entry_cached = entry is not None
    if generation is not None and entry_cached:
        token: ApiToken | None = _PROCESS_TOKENS.get(digest, generation)
        if token is None:
            if entry is None:
                entry = cache.get(entry_key)
            token = entry[1] if entry is not None and entry[0] == generation else None
            if token is not None:
                _PROCESS_TOKENS.put(digest, generation, token, hint=token.user_id)
        if token is not None:
            setattr(token, _GENERATION_ATTR, generation)
            return token
    if generation is None:
        generation = _new_generation()
        if not cache.add(generation_key, generation, TOKEN_GENERATION_SECONDS):
            generation = None  # a change (or another call) set it meanwhile: do not cache
    token = ApiToken.objects.select_related("user").filter(key_digest=digest).first()
    if token is None:
        return None
    user_roles(token.user)  # kept on the user object, so cached with it
    if generation is not None:
        setattr(token, _GENERATION_ATTR, generation)
        api_token_remember(token)
    return token


def api_token_remember(token: ApiToken) -> None:
    """(Re)store `token` with its user in the cache and in this process, under the generation it
    was read under.

    A token that did not come from `api_token_get_by_key` has no generation and is not stored;
    one read under a generation that a change has since replaced is stored but never used.
    """
    generation: str | None = getattr(token, _GENERATION_ATTR, None)
    if generation is None:
        return
    cache.set(_token_cache_key(token.key_digest), (generation, token), TOKEN_CACHE_SECONDS)
    _PROCESS_TOKENS.put(token.key_digest, generation, token, hint=token.user_id)


def _token_generations_replace(*, user_id: int) -> None:
    digests = ApiToken.objects.filter(user_id=user_id).values_list("key_digest", flat=True)
    generations = {_token_generation_key(digest): _new_generation() for digest in digests}
    # The person's sessions are cached under a generation of theirs too (core/sessions.py).
    generations[person_generation_key(user_id)] = _new_generation()
    cache.set_many(generations, TOKEN_GENERATION_SECONDS)


def api_tokens_forget(*, user_id: int) -> None:
    """Make every cached token and signed-in session of a person unusable, now and again when the
    transaction commits.

    Call it inside the transaction that changes anything a token's cache entry holds (the
    token, its user, their roles). The second replacement, after the commit, is the one that
    counts: it also covers calls that read the old rows meanwhile, and tokens created meanwhile.
    """
    _token_generations_replace(user_id=user_id)
    transaction.on_commit(lambda: _token_generations_replace(user_id=user_id))


def user_has_mfa(user: Any) -> bool:
    """Return whether `user` has an active TOTP authenticator (recovery codes alone do not count)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def role_counts() -> dict[str, int]:
    """Return how many people hold each role."""
    from django.db.models import Count

    rows = RoleGrant.objects.values("role").annotate(n=Count("id")).values_list("role", "n")
    return dict(rows)
