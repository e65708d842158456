"""/healthz: whether the database, Redis and Celery (workers and beat) are reachable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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
    beat_seen = cache.get(BEAT_HEARTBEAT_KEY)
    beat_age: int | None = None
    if beat_seen:
        beat_age = int((timezone.now() - datetime.fromisoformat(beat_seen)).total_seconds())
    return {
        "status": "ok" if replies else "no_workers",
        "mode": "broker",
        "workers": sorted(name for reply in replies for name in reply),
        "beat_last_seen_seconds_ago": beat_age,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database and Redis work, 503 otherwise; Celery is reported as is."""
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
    return JsonResponse({"status": overall, "checks": checks}, status=200 if essential_ok else 503)
