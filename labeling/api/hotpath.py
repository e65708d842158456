"""The two busiest API calls, claim and submit, served without the general request stack.

Annotators' tools call `POST /api/v1/projects/{id}/claim/` and `POST /api/v1/leases/{id}/submit/`
hundreds of times an hour each; on a small server the full middleware chain and DRF's request
machinery cost more CPU than the work itself (one PostgreSQL call). `QueueHotPath` wraps the
WSGI application and takes exactly those two calls when they carry an API token:

- It is still Django: the same request and response objects, signals (database connections are
  opened and closed as usual), URL prefix, error logging and 500 handling, and the middleware
  that shapes these responses (security headers, content security policy, content length,
  frame options), taken from `MIDDLEWARE` in its order. The rest of `MIDDLEWARE` (sessions, CSRF, messages, sign-in, MFA
  redirects) does nothing for a token-authenticated API call.
- It does the same checks in the same order as the DRF views: token (cached, as everywhere),
  MFA enrolment, the customer's IP allowlist, the `work` throttle, the body; whenever one of
  them is not plainly fine it hands the request to the DRF view itself, which answers in its
  own words. Once they pass, it calls the same functions as the DRF views (`work_claim`,
  `work_submit`) and renders errors with the same exception handler.

`QUORUM_API_HOT_PATH = False` sends everything through the full stack; the tests compare both
answers, headers included, for successes and every kind of error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from rest_framework.renderers import JSONRenderer

from accounts.models import User
from accounts.policy import roles_require_mfa
from accounts.selectors import api_token_get_by_key, user_has_mfa
from accounts.services import api_token_touch
from core.api.exceptions import exception_handler
from core.api.parsers import json_loads
from core.converters import IdConverter, id_or_none
from labeling.access import ip_allowlist_permits

# The ids as the URLconf's `id` converter reads them; an id it refuses goes to the full stack (404).
_CLAIM = re.compile(rf"/api/v1/projects/({IdConverter.regex})/claim/")
_SUBMIT = re.compile(rf"/api/v1/leases/({IdConverter.regex})/submit/")
# The middleware that changes these responses; the rest of MIDDLEWARE leaves them as they are.
_RESPONSE_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "csp.middleware.CSPMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)
_RENDERER = JSONRenderer()
# What DRF adds to every response of these two views.
_DRF_HEADERS = {"Vary": "Accept", "Allow": "POST, OPTIONS"}

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]


def _is_hot(environ: WSGIEnviron) -> bool:
    if environ.get("REQUEST_METHOD") != "POST" or not str(
        environ.get("HTTP_AUTHORIZATION", "")
    ).startswith("Token "):
        return False
    path = environ.get("PATH_INFO", "")
    match = _CLAIM.fullmatch(path) or _SUBMIT.fullmatch(path)
    return match is not None and id_or_none(match[1]) is not None


class QueueHotPath(WSGIHandler):
    """WSGI application: claim and submit with a token on the short path, all else to `app`."""

    def __init__(self, app: Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]) -> None:
        BaseHandler.__init__(self)  # not WSGIHandler's: the chain is built here, not from settings
        self.app = app
        chain: Callable[[HttpRequest], Any] = convert_exception_to_response(self._serve)
        for path in reversed(settings.MIDDLEWARE):
            if path in _RESPONSE_MIDDLEWARE:
                chain = convert_exception_to_response(import_string(path)(chain))
        self._middleware_chain = chain

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Any:
        if settings.QUORUM_API_HOT_PATH and _is_hot(environ):
            return super().__call__(environ, start_response)
        return self.app(environ, start_response)

    def _serve(self, request: HttpRequest) -> HttpResponse:
        response = self._answer(request)
        # In the full stack the MFA middleware reads the session's user, so the session
        # middleware marks every response as varying by cookie: caches must see the same here.
        patch_vary_headers(response, ("Cookie",))
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        claim = _CLAIM.fullmatch(request.path_info)
        submit = _SUBMIT.fullmatch(request.path_info)
        result = _submitted_result(request) if submit is not None else None
        if submit is not None and result is None:
            return _drf(request)
        # Django checks a reused connection with a `SELECT 1` before its first query in a
        # request; here the first query is the work itself, run once more on a new connection if
        # the reused one turns out to be broken (nothing was done on a broken one).
        connection.health_check_done = True  # type: ignore[attr-defined]  # Django's, not in the stubs
        try:
            return self._work(request, claim, submit, result)
        except (InterfaceError, OperationalError):
            if connection.connection is not None and connection.is_usable():
                raise  # a database error, not a broken connection
            connection.close()
            return self._work(request, claim, submit, result)

    def _work(
        self,
        request: HttpRequest,
        claim: re.Match[str] | None,
        submit: re.Match[str] | None,
        result: Any,
    ) -> HttpResponse:
        from labeling.api.views import work_claim, work_submit

        user = _token_user(request)
        if user is None or not _throttle_allows(user):
            return _drf(request)
        try:
            if claim is not None:
                prefetch = request.GET.get("prefetch") in {"1", "true"}
                return _json(work_claim(user=user, project_id=int(claim[1]), prefetch=prefetch))
            assert submit is not None  # noqa: S101 - _is_hot matched one of the two
            return _json(work_submit(user=user, lease_id=int(submit[1]), result=result), 201)
        except (InterfaceError, OperationalError):
            raise  # a broken connection is retried by _answer
        except Exception as exc:  # rendered exactly as the DRF views render it, or re-raised
            response = exception_handler(exc, {})
            if response is None:
                raise
            return _json(response.data, response.status_code, dict(response.items()))


def _token_user(request: HttpRequest) -> User | None:
    """The token's user when the token is good and MFA allows; None sends the call to DRF."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2:
        return None
    token = api_token_get_by_key(parts[1])
    if token is None or not token.is_active or not token.user.is_active:
        return None
    user = token.user
    if roles_require_mfa(user) and not user_has_mfa(user):
        return None
    if not ip_allowlist_permits(user=user, meta=request.META):
        return None  # DRF's token authentication refuses it, audits it and words the refusal
    api_token_touch(token=token)
    return user


def _throttle_allows(user: User) -> bool:
    """Count the call against the person's `work` rate, as the DRF views do."""
    from labeling.api.views import WorkThrottle

    view = SimpleNamespace(throttle_scope="work")
    return WorkThrottle().allow_request(SimpleNamespace(user=user), view)


def _submitted_result(request: HttpRequest) -> Any:
    """The `result` of a well-formed submit body, or None (DRF then explains what is wrong).

    The body is read by the DRF views' own JSON reading, so what they refuse (NaN, deep
    nesting, a body over the size limit) is refused here too, in DRF's words.
    """
    if request.content_type != "application/json":
        return None
    try:
        body = json_loads(request.body)
    except (ValueError, RequestDataTooBig):
        return None
    return body.get("result") if isinstance(body, dict) else None


def _drf(request: HttpRequest) -> HttpResponse:
    """Answer through the DRF view of the same URL (it authenticates and words every refusal)."""
    match = resolve(request.path_info)
    request.resolver_match = match
    response: HttpResponse = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render"):
        response = response.render()
    return response


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON response rendered by DRF's own renderer, with the headers DRF's views add."""
    response = HttpResponse(
        _RENDERER.render(data), status=status, content_type=_RENDERER.media_type
    )
    for name, value in {**_DRF_HEADERS, **(headers or {})}.items():
        if name.lower() != "content-type":
            response[name] = value
    return response
