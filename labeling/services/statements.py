"""Whether the queue's ordinary claim and submit run as one statement (see
`labeling.services.claim`); core.statements runs such statements."""

from __future__ import annotations

from django.conf import settings
from django.db import connection


def statements_enabled() -> bool:
    """Whether the ordinary claim and submit run as one statement (PostgreSQL, the setting on)."""
    return connection.vendor == "postgresql" and bool(settings.QUORUM_QUEUE_STATEMENTS)
