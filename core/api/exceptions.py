"""The single API exception handler: every error is {"code", "message", "extra"}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import QuorumError, error_body


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


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render Quorum and DRF errors in the documented shape, with the right status."""
    if isinstance(exc, QuorumError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.extra), status=exc.http_status)
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

    detail = exc.detail
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
