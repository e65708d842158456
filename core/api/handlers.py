"""Django's error views (handler400/403/404/500): the API's errors keep the API's shape.

Failures outside a DRF view never reach DRF's exception handler: an unknown URL, a body too
large or a Host header refused while middleware reads the request, the database or Redis gone
while middleware or the queue's hot path works. Django answers those through these views; under
`/api/` they answer `{"code", "message", "extra"}` with the right status, elsewhere Django's
pages as before.
"""

from __future__ import annotations

import sys

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from core.api.exceptions import quorum_error_for, quorum_error_headers
from core.errors import QuorumError, error_body

API_PREFIX = "/api/"
_COMPACT = {"separators": (",", ":")}  # as DRF's JSONRenderer writes the API's other answers


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(error: QuorumError) -> JsonResponse:
    """`error` as the API renders it."""
    response = JsonResponse(
        error_body(error.code, error.message, error.extra),
        status=error.http_status,
        json_dumps_params=_COMPACT,
    )
    for name, value in quorum_error_headers(error).items():
        response[name] = value
    return response


def _plain(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status, json_dumps_params=_COMPACT)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    error = quorum_error_for(exception)
    if error is not None:
        return error_response(error)
    if isinstance(exception, DisallowedHost):
        return _plain("disallowed_host", "The Host header names a host Quorum does not serve.", 400)
    return _plain("bad_request", "The request is malformed.", 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return _plain("permission_denied", "You do not have permission to do this.", 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return _plain("not_found", "Not found.", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    exception = sys.exc_info()[1]  # Django calls this view while handling the exception
    error = quorum_error_for(exception) if exception is not None else None
    if error is not None:
        return error_response(error)
    return _plain("server_error", "Something went wrong on Quorum's side; it has been logged.", 500)
