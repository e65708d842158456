"""The base error of Quorum: every app's errors carry a stable code, a message and extra data."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The documented shape of every API error."""
    return {"code": code, "message": message, "extra": extra or {}}


class QuorumError(Exception):
    """An error a caller can act on; the API renders it as {"code", "message", "extra"}."""

    code = "error"
    http_status = 400
    default_message = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra or {}
        super().__init__(self.message)


class ValidationFailed(QuorumError):
    """Input was wrong; `extra["fields"]` maps each bad field to its messages."""

    code = "validation_error"
    http_status = 400
    default_message = "The input is not valid."

    def __init__(
        self, message: str | None = None, *, fields: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message, extra={"fields": fields or {}})


class PermissionDenied(QuorumError):
    code = "permission_denied"
    http_status = 403
    default_message = "You do not have permission to do this."


class NotFound(QuorumError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class Conflict(QuorumError):
    code = "conflict"
    http_status = 409
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(QuorumError):
    code = "request_too_large"
    http_status = 413
    default_message = "The request body is too large."


class ServiceUnavailable(QuorumError):
    """The database or Redis cannot be reached; the client should retry after `retry_after`."""

    code = "service_unavailable"
    http_status = 503
    default_message = "Quorum cannot reach its database or cache right now; try again shortly."
    retry_after = 30
