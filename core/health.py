"""/healthz: whether the database, Redis and Celery (workers and beat) are reachable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from core.tasks import BEAT_HEARTBEAT_KEY


def _check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is reported, never raised, by a health check
        return {"status": "error", "error": exc.__class__.__name__}
    return {"status": "ok", "vendor": connection.vendor}


def _check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": "not_configured"}
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except Exception as exc:  # reported, not raised
        return {"status": "error", "error": exc.__class__.__name__}
    return {"status": "ok"}


def _check_celery() -> dict[str, Any]:
    from config.celery import app

    if app.conf.task_always_eager:
        return {"status": "ok", "mode": "eager"}
    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception as exc:  # reported, not raised
        return {"status": "error", "error": exc.__class__.__name__}
    try:
        beat_seen = cache.get(BEAT_HEARTBEAT_KEY)
    except Exception:  # Redis is reported by its own check; the beat's age is then unknown
        beat_seen = None
    beat_age: int | None = None
    if beat_seen:
        beat_age = int((timezone.now() - datetime.fromisoformat(beat_seen)).total_seconds())
    return {
        "status": "ok" if replies else "no_workers",
        "mode": "broker",
        "workers": sorted(name for reply in replies for name in reply),
        "beat_last_seen_seconds_ago": beat_age,
    }


def health_report() -> tuple[int, dict[str, Any]]:
    """Check the database, Redis and Celery; return the HTTP status and the full report.

    200 when the database and Redis work (the overall status is "degraded" when Celery does
    not answer), 503 otherwise. The report's `checks` name hosts and workers: show them only to
    people allowed to see them (accounts.health).
    """
    checks = {
        "database": _check_database(),
        "redis": _check_redis(),
        "celery": _check_celery(),
    }
    essential_ok = checks["database"]["status"] == "ok" and checks["redis"]["status"] in {
        "ok",
        "not_configured",
    }
    overall = "ok" if essential_ok and checks["celery"]["status"] == "ok" else "degraded"
    if not essential_ok:
        overall = "error"
    return (200 if essential_ok else 503), {"status": overall, "checks": checks}
