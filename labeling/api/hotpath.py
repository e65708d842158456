"""Claim and submit, for token and session callers alike, without the general request stack.

Annotators call `POST /api/v1/projects/{id}/claim/` and `POST /api/v1/leases/{id}/submit/`
hundreds of times an hour each, from the labeling page (session cookie and CSRF token) or from
their tools (API token). On a small server the whole middleware chain, DRF's request machinery
and a cache round trip per check cost more than the work itself (one PostgreSQL call).
`QueueHotPath` wraps the WSGI application and serves those two calls itself:

- Which calls: the URLconf decides. A POST is resolved with `resolve()`; it is served here when
  the URL names `ClaimView` or `LeaseViewSet`'s `submit` action, with the ids the URLconf's
  converters read (an id they refuse is the URLconf's 404, from the full stack).
- It is still Django: the same request and response objects, signals (database connections
  are opened and closed as usual), URL prefix, error logging and 500 handling, and the
  middleware that shapes these responses (security headers, content security policy, content
  length, frame options), taken from `MIDDLEWARE` in its order.
- Who calls: DRF's own authentication classes (`DEFAULT_AUTHENTICATION_CLASSES`: the token with
  the customer's IP allowlist, then the session with DRF's CSRF check), run on a DRF `Request`
  exactly as the views run them; the session's user is Django's `get_user`, kept in the process
  under generations (`accounts.authentication.session_user`) instead of the session and
  authentication middleware. Then the views' permission classes (signed in, MFA), the customer's
  IP allowlist for sessions (as `CustomerIpAllowlistMiddleware` checks it) and the views'
  `WorkThrottle`. Whenever one of them is not plainly fine, or the body is not well formed, the
  whole request is handed to the full stack, which answers (and audits) in its own words.
- One cache round trip: the token's generation (or the session's and the person's) and the
  rate-limit counter are read and counted in one Redis pipeline (`cache_read_and_count`); the
  lookups use the generations read ahead with the token or user this process keeps under them.
  Only a caller this process has not seen within TOKEN_CACHE_SECONDS (or whose generation
  changed) costs more: their lookups read the cache and database as DRF's do.
- Then it calls the same functions as the DRF views (`work_claim`, `work_submit`) and renders
  their errors with the same exception handler.

Why a WSGI wrapper and not an ordinary Django view in the URLconf: Django runs every middleware
before it resolves a URL, so a view cannot skip the session, CSRF, authentication, messages,
allauth, allowlist and MFA middleware; something in front of the handler must, and that is this
wrapper. Measured with bench/queue.py (30,000 tasks, 16 annotators, gunicorn 2 x 8 threads,
PostgreSQL, Redis; a 2-core machine saturated by other work, load average 13-15, so only CPU per
cycle compares): server + PostgreSQL CPU per claim + submit cycle, session 9.1 ms here vs 13.9 ms
through the full stack, token 8.1 ms vs 10.2 ms (bench/README.md).

`QUORUM_API_HOT_PATH = False` sends everything through the full stack; the tests compare both
answers, headers included, for successes and every kind of refusal, for both kinds of caller.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, get_path_info
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from accounts.authentication import (
    caller_read_ahead,
    read_ahead_set,
    session_key,
    session_user,
    token_key,
)
from core.api.exceptions import exception_handler
from core.api.parsers import json_loads
from core.cache import cache_read_and_count
from labeling.access import ip_allowlist_permits

_CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
# The middleware that changes these responses; the rest of MIDDLEWARE leaves them as they are.
_RESPONSE_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        _CSP_MIDDLEWARE,
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)
_RENDERER = JSONRenderer()


class _PolicyBuiltOnce(CSPMiddleware):
    """django-csp's middleware for these two calls, with the policy built once: their JSON
    answers never use a nonce nor a per-view policy, so every one gets the same headers, which
    the full middleware builds anew for each response (a tenth of this path's CPU)."""

    _headers: dict[str, str] | None = None

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if self._headers is None:
            probe = super().process_response(request, HttpResponse())
            self._headers = {
                name: probe[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in probe
            }
        for name, value in self._headers.items():
            if name not in response:
                response[name] = value
        return response


# What DRF adds to every response of these two views.
_DRF_HEADERS = {"Vary": "Accept", "Allow": "POST, OPTIONS"}
_WORK_KEY = "quorum.hot_path.work"

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]


def hot_work(path_info: str) -> tuple[str, type[Any], dict[str, Any]] | None:
    """("claim" or "submit", the view class, the URL's kwargs) when the URLconf sends a POST to
    `path_info` to one of the two views served here; None otherwise."""
    from labeling.api.work import ClaimView, LeaseViewSet

    try:
        match = resolve(path_info)
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None)
    if view_class is ClaimView:
        return "claim", view_class, match.kwargs
    if view_class is LeaseViewSet and getattr(match.func, "actions", {}).get("post") == "submit":
        return "submit", view_class, match.kwargs
    return None


class QueueHotPath(WSGIHandler):
    """WSGI application: claim and submit on the short path, all else to `app`."""

    def __init__(self, app: WSGIHandler) -> None:
        BaseHandler.__init__(self)  # not WSGIHandler's: the chain is built here, not from settings
        self.app = app
        chain: Callable[[HttpRequest], Any] = convert_exception_to_response(self._serve)
        for path in reversed(settings.MIDDLEWARE):
            if path in _RESPONSE_MIDDLEWARE:
                middleware = _PolicyBuiltOnce if path == _CSP_MIDDLEWARE else import_string(path)
                chain = convert_exception_to_response(middleware(chain))
        self._middleware_chain = chain

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Any:
        if not settings.QUORUM_API_HOT_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        work = hot_work(get_path_info(environ))
        if work is None:
            return self.app(environ, start_response)
        environ[_WORK_KEY] = work
        return super().__call__(environ, start_response)

    def _hand_over(self, request: HttpRequest) -> HttpResponse:
        """Answer through the full stack (every middleware, then the DRF view) as a fresh
        request, with the body if this path read it. This path's response middleware then runs
        on the answer again and changes nothing: each leaves a header that is already set."""
        environ = dict(request.META)  # a WSGIRequest's META is its WSGI environ
        del environ[_WORK_KEY]
        body = getattr(request, "_body", None)
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
        response = self.app.get_response(self.app.request_class(environ))
        return response  # type: ignore[return-value]  # what the middleware chain answers

    def _serve(self, request: HttpRequest) -> HttpResponse:
        response = self._answer(request)
        # In the full stack the session middleware marks every response of these calls as
        # varying by cookie (its MFA check reads the session's user): caches must see the same.
        patch_vary_headers(response, ("Cookie",))
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        kind, view_class, kwargs = request.META[_WORK_KEY]
        result = _submitted_result(request) if kind == "submit" else None
        if kind == "submit" and result is None:
            return self._hand_over(request)
        # Django checks a reused connection with a `SELECT 1` before its first query in a
        # request; here the first query is the work itself, run once more on a new connection if
        # the reused one turns out to be broken (nothing was done on a broken one).
        connection.health_check_done = True  # type: ignore[attr-defined]  # Django's, not in the stubs
        try:
            return self._work(request, kind, view_class, kwargs, result)
        except (InterfaceError, OperationalError):
            if connection.connection is not None and connection.is_usable():
                raise  # a database error, not a broken connection
            connection.close()
            return self._work(request, kind, view_class, kwargs, result)

    def _work(
        self,
        request: HttpRequest,
        kind: str,
        view_class: type[Any],
        kwargs: dict[str, Any],
        result: Any,
    ) -> HttpResponse:
        from labeling.api.work import work_claim, work_submit

        user = _caller(request, view_class(action=kind, args=(), kwargs=kwargs))
        if user is None:
            return self._hand_over(request)
        try:
            if kind == "claim":
                prefetch = request.GET.get("prefetch") in {"1", "true"}
                body = work_claim(user=user, project_id=kwargs["project_id"], prefetch=prefetch)
                return _json(body)
            return _json(work_submit(user=user, lease_id=int(kwargs["pk"]), result=result), 201)
        except (InterfaceError, OperationalError):
            raise  # a broken connection is retried by _answer
        except Exception as exc:  # rendered exactly as the DRF views render it, or re-raised
            response = exception_handler(exc, {})
            if response is None:
                raise
            return _json(response.data, response.status_code, dict(response.items()))


def _caller(request: HttpRequest, view: Any) -> Any:
    """The signed-in caller when authentication, permissions, allowlist and rate limit all let
    the call through, as the view's own classes decide; None hands the call to the full stack."""
    hint, keys, present = caller_read_ahead(request)
    throttle = view.get_throttles()[0]
    counted = SimpleNamespace(user=SimpleNamespace(pk=hint, is_authenticated=True))
    counter = throttle.counter(counted, view) if hint is not None else None
    values, count = cache_read_and_count(keys, counter, present=present)
    read_ahead_set(request, {key: values.get(key) for key in [*keys, *present]})
    if token_key(request) is None and (key := session_key(request)) is not None:
        # What the session and authentication middleware would give DRF's SessionAuthentication.
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
        request.user = SimpleLazyObject(lambda: session_user(request))  # type: ignore[assignment]  # as AuthenticationMiddleware sets it
    drf_request = Request(  # as the view's initialize_request makes it
        request,
        parsers=view.get_parsers(),
        authenticators=view.get_authenticators(),
        negotiator=view.get_content_negotiator(),
        parser_context={"view": view, "args": (), "kwargs": view.kwargs},
    )
    try:
        user = drf_request.user
        if not all(p.has_permission(drf_request, view) for p in view.get_permissions()):
            return None
    except exceptions.APIException:
        return None
    if drf_request.auth is None and not ip_allowlist_permits(user=user, meta=request.META):
        return None  # the allowlist middleware refuses it, audits it and words the refusal
    if count is None or user.pk != hint:  # not read ahead for this person: count now
        allowed = throttle.allow_request(drf_request, view)
    else:
        allowed = throttle.allows(count)
    return user if allowed else None


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


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """A JSON response rendered by DRF's own renderer, with the headers DRF's views add."""
    response = HttpResponse(
        _RENDERER.render(data), status=status, content_type=_RENDERER.media_type
    )
    for name, value in {**_DRF_HEADERS, **(headers or {})}.items():
        if name.lower() != "content-type":
            response[name] = value
    return response
