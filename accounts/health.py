"""/healthz: the status for anyone (load balancers, uptime checks); the details for staff.

The details name database vendors, Redis errors and Celery worker host names, which help an
attacker map the deployment. They are shown to a signed-in manager, finance user or
administrator with a second factor, by session or by API token; everyone else, including a
request with no credentials, gets only `{"status": ...}` with the same HTTP status.
"""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.policy import Action, can, roles_require_mfa
from accounts.selectors import user_has_mfa
from core.health import health_report


def may_see_health_details(user: Any) -> bool:
    """Operations staff (managers, finance, administrators) who have set up their second factor."""
    return can(user, Action.HEALTH_DETAILS_VIEW) and (
        not roles_require_mfa(user) or user_has_mfa(user)
    )


@method_decorator(never_cache, name="dispatch")
class HealthView(APIView):
    """Answer 200 when the database and Redis work, 503 otherwise; details for staff only."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes: list[Any] = []

    @extend_schema(exclude=True)  # not part of the versioned API
    def get(self, request: Request) -> Response:
        status, report = health_report()
        if not may_see_health_details(request.user):
            report = {"status": report["status"]}
        return Response(report, status=status)


healthz = HealthView.as_view()
