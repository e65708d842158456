"""How API calls are authenticated: a token (`Authorization: Token <key>`) or a session.

DRF's views authenticate with `ApiTokenAuthentication` (through labeling's allowlisted
subclass) and DRF's `SessionAuthentication`, reading the session's user that Django's
authentication middleware set. The claim and submit short path (labeling/api/hotpath.py) runs
those same classes; without the middleware, it gives them the session's user through
`session_user`, Django's own `get_user` with the result kept in the process under generations.

Both lookups can take their generations from the request's read-ahead (`read_ahead_set`): the
short path reads them with the rate-limit counter in one cache round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import User
from accounts.selectors import (
    TOKEN_CACHE_SECONDS,
    UNREAD,
    api_token_cache_keys,
    api_token_get_by_key,
    api_token_user_id_hint,
    user_roles,
)
from accounts.services import api_token_touch
from core.cache import ProcessCache
from core.sessions import (
    GENERATION_SECONDS,
    generation_new,
    person_generation_key,
    session_generation_key,
)

_READ_AHEAD_ATTR = "_quorum_cache_read_ahead"
# A session's user, kept in the process as tokens are (same lifetime), under the session's and
# the person's generations read during the request.
_PROCESS_SESSIONS = ProcessCache(seconds=TOKEN_CACHE_SECONDS)


def read_ahead_set(request: HttpRequest, values: Mapping[str, Any]) -> None:
    """Give the lookups of this request the cache values read ahead (None: read, not found)."""
    setattr(request, _READ_AHEAD_ATTR, values)


def _read_ahead(request: HttpRequest | Request, key: str) -> Any:
    values: Mapping[str, Any] = getattr(request, _READ_AHEAD_ATTR, {})
    return values.get(key, UNREAD)


def token_key(request: HttpRequest) -> str | None:
    """The key of an `Authorization: Token <key>` header, or None (another kind, or malformed:
    `ApiTokenAuthentication` words the refusal)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    return parts[1] if len(parts) == 2 and parts[0].lower() == "token" else None


def session_key(request: HttpRequest) -> str | None:
    return request.COOKIES.get(settings.SESSION_COOKIE_NAME) or None


def caller_read_ahead(request: HttpRequest) -> tuple[int | None, list[str], list[str]]:
    """Who this process last saw behind the request's token or session (a hint: None if it holds
    neither), the cache keys that its lookups will read, and those whose presence they check:
    to read them ahead in one round trip (`cache_read_and_count`)."""
    key = token_key(request)
    if key is not None:
        entry_key, generation_key = api_token_cache_keys(key)
        return api_token_user_id_hint(key), [generation_key], [entry_key]
    session = session_key(request)
    if request.META.get("HTTP_AUTHORIZATION") or session is None:
        return None, [], []
    hint = _PROCESS_SESSIONS.peek(session)
    keys = [session_generation_key(session)]
    return (hint[0], [*keys, person_generation_key(hint[0])], []) if hint else (None, keys, [])


def _generation(request: HttpRequest, key: str) -> tuple[str | None, bool]:
    """The generation `key` (read ahead or now), created when missing; and whether entries may
    be cached under it (not when a change replaced it while it was being created)."""
    value = _read_ahead(request, key)
    if value is UNREAD:
        value = cache.get(key)
    if value is not None:
        return value, True
    value = generation_new()
    return value, bool(cache.add(key, value, GENERATION_SECONDS))


def session_user(request: HttpRequest) -> Any:
    """The signed-in user of `request.session`, or AnonymousUser, as Django's `get_user` gives it.

    Kept in this process for TOKEN_CACHE_SECONDS at most, and only handed out under the
    session's generation (replaced when it is deleted: sign-out, a new key) and the person's
    (replaced on a password change, deactivation, erasure or a change of roles), both read during
    this request, so those changes apply at once, as they do to tokens.
    """
    key = session_key(request)
    if key is None:
        return get_user(request)
    session_generation = _read_ahead(request, session_generation_key(key))
    hint = _PROCESS_SESSIONS.peek(key)
    if hint is not None and session_generation is not UNREAD:
        person_generation = _read_ahead(request, person_generation_key(hint[0]))
        user = _PROCESS_SESSIONS.get(key, (session_generation, person_generation))
        if user is not None and hint[1] > datetime.now(tz=UTC):
            return user
    # Generations first, then the rows: a change committed after this read replaces what the
    # entry is stamped with, so no later request uses it.
    session_generation, cacheable = _generation(request, session_generation_key(key))
    user_id = request.session.get(SESSION_KEY)
    if user_id is None:
        return get_user(request)
    person_generation, person_cacheable = _generation(request, person_generation_key(user_id))
    user = get_user(request)
    if cacheable and person_cacheable and isinstance(user, User) and user.is_active:
        user_roles(user)  # kept on the user object, so cached with it
        expires = request.session.get_expiry_date()
        _PROCESS_SESSIONS.put(
            key, (session_generation, person_generation), user, hint=(user.pk, expires)
        )
    return user


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` with a key from the API tokens page (stored only as a digest)."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give exactly one key.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: the key is not text."
            ) from None
        entry_key, generation_key = api_token_cache_keys(key)
        token = api_token_get_by_key(
            key,
            generation=_read_ahead(request, generation_key),
            entry_cached=_read_ahead(request, entry_key) is True,
        )
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is deactivated.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
