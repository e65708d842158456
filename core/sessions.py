"""Sessions: the database engine, with generations that let other processes cache sign-ins.

`SESSION_ENGINE = "core.sessions"` is Django's database engine plus two generations in the
shared cache, random values that are replaced when what a cached sign-in stands for changes:

- the session's own (`session_generation_key`), replaced when the session is deleted (sign-out,
  `flush`, a new key at sign-in or password change);
- the person's (`person_generation_key`), replaced when their password changes in one of their
  sessions (`cycle_key` with a signed-in user, as `update_session_auth_hash` does) and, by
  `accounts.selectors.api_tokens_forget`, when they are deactivated, erased or change roles.

A process may keep a session's user for a few seconds only under both generations as it read
them during the same request (`accounts.authentication.session_user`), so each of those changes
applies to the next request everywhere, as a token revocation does.

Expired sessions: removed once a day by beat (docs/security.md, "Retention").
"""

from __future__ import annotations

import secrets
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.cache import cache
from django.db import transaction

# Generations only need to outlive the entries cached under them (seconds); when one has gone,
# the next request reads the database and starts a new one.
GENERATION_SECONDS = 24 * 60 * 60


def session_generation_key(session_key: str) -> str:
    return f"core:session-generation:{session_key}"


def person_generation_key(user_id: Any) -> str:
    return f"core:person-generation:{user_id}"


def generation_new() -> str:
    return secrets.token_hex(8)


def generations_replace(keys: list[str]) -> None:
    """Replace the generations `keys` now and again when the current transaction commits (the
    second covers requests that read the old rows meanwhile)."""

    def replace() -> None:
        cache.set_many({key: generation_new() for key in keys}, GENERATION_SECONDS)

    if keys:
        replace()
        transaction.on_commit(replace)


class SessionStore(DatabaseSessionStore):
    """Django's database sessions; deleting one or changing a person's password replaces the
    generations that processes cache sign-ins under."""

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        if key is not None:
            generations_replace([session_generation_key(key)])

    def cycle_key(self) -> None:
        user_id = self.get(SESSION_KEY)
        super().cycle_key()
        if user_id is not None:
            generations_replace([person_generation_key(user_id)])


def sessions_clear_expired() -> None:
    """Delete every expired session of the configured session engine, as `clearsessions` does.

    Repeating it changes nothing; engines whose store expires sessions by itself (the cache,
    signed cookies) have nothing to delete."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
