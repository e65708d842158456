"""Errors of workforce that core's general ones do not word (see core.errors)."""

from __future__ import annotations

from core.errors import QuorumError


class TooManyMessages(QuorumError):
    """A manager sent more messages in the current minute than the limit allows."""

    code = "rate_limited"
    http_status = 429
    default_message = "You have sent too many messages in the last minute; wait a moment."
