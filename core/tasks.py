"""Infrastructure tasks: liveness of workers and of the beat scheduler, and session cleanup."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from core.sessions import sessions_clear_expired as clear_expired_sessions

BEAT_HEARTBEAT_KEY = "quorum:beat:last-seen"


@shared_task(name="core.tasks.ping")
def ping() -> str:
    """Answer "pong"; used by health checks and the worker round-trip test."""
    return "pong"


@shared_task(name="core.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Record that the beat scheduler is alive; /healthz reports how long ago it ran."""
    cache.set(BEAT_HEARTBEAT_KEY, timezone.now().isoformat(), timeout=60 * 60)


@shared_task(name="core.tasks.sessions_clear_expired", ignore_result=True)
def sessions_clear_expired() -> None:
    """Delete expired sessions (daily, from beat); running it twice changes nothing."""
    clear_expired_sessions()
