"""Expired sessions: removed once a day by beat (docs/security.md, "Retention")."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings


def sessions_clear_expired() -> None:
    """Delete every expired session of the configured session engine, as `clearsessions` does.

    Repeating it changes nothing; engines whose store expires sessions by itself (the cache,
    signed cookies) have nothing to delete."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
