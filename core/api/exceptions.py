"""The single API exception handler: every error is {"code", "message", "extra"}."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import PayloadTooLarge, QuorumError, ServiceUnavailable, error_body

logger = logging.getLogger(__name__)

# The database or Redis cannot be reached (or gave up on the statement): the client may retry.
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into {"field.sub": ["message", ...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_field_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                flat.update(_field_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat


def quorum_error_for(exc: BaseException) -> QuorumError | None:
    """The Quorum error a client sees for `exc`, or None when it is not one Quorum words itself.

    The one translation of Django's, the database's and Redis's exceptions into the API's
    errors, used by DRF's exception handler and by the error views of every other failure.
    """
    if isinstance(exc, QuorumError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return PayloadTooLarge(
            f"The request body is larger than the {limit} bytes the API accepts.",
            extra={"max_bytes": limit},
        )
    if isinstance(exc, OUTAGES):
        logger.error("Service unavailable: %s", exc.__class__.__name__, exc_info=exc)
        return ServiceUnavailable(extra={"retry_after_seconds": ServiceUnavailable.retry_after})
    return None


def quorum_error_headers(error: QuorumError) -> dict[str, str]:
    """The headers that go with `error` (Retry-After for an outage)."""
    if isinstance(error, ServiceUnavailable):
        return {"Retry-After": str(error.retry_after)}
    return {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render Quorum and DRF errors in the documented shape, with the right status."""
    error = quorum_error_for(exc)
    if error is not None:
        set_rollback()
        return Response(
            error_body(error.code, error.message, error.extra),
            status=error.http_status,
            headers=quorum_error_headers(error),
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    set_rollback()
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        first = next(iter(fields.items()), None)
        message = f"{first[0]}: {first[1][0]}" if first else "The input is not valid."
        body = error_body("validation_error", message, {"fields": fields})
        return Response(body, status=status.HTTP_400_BAD_REQUEST, headers=headers)

    # The stubs' type of `detail` differs between their releases; it is JSON-like data either way.
    detail: Any = exc.detail
    code = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    message = str(detail) if not isinstance(detail, dict | list) else str(exc.default_detail)
    if isinstance(detail, dict) and "code" in detail and "message" in detail:
        code, message = str(detail["code"]), str(detail["message"])
    extra: dict[str, Any] = {}
    if isinstance(detail, dict) and "code" in detail and "message" in detail:
        extra = {k: str(v) for k, v in detail.items() if k not in {"code", "message"}}
    if getattr(exc, "wait", None):
        extra["retry_after_seconds"] = int(exc.wait)  # type: ignore[attr-defined]
    return Response(
        error_body(str(code) if isinstance(code, str) else "error", message, extra),
        status=exc.status_code,
        headers=headers,
    )
