"""API of a manager sending a person of their teams back to training.

`POST /api/v1/people/{id}/retrain/` with a project (or none: every project they have worked in)
and a reason (required: the person is told). Answers the rule action taken (see
`/api/v1/rule-actions/`, where it is lifted). A person outside the manager's teams is not found
(404); administrators reach everyone.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, require
from accounts.selectors import request_user
from core.converters import MAX_ID
from quality.api.actions import RuleActionSerializer
from quality.api.rules import TAGS
from quality.selectors import rule_actions_visible_to
from quality.services.retraining import RETRAIN_REASON_MAX, person_retrain
from workforce.selectors.teams import people_managed_by


class RetrainSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        default=None,
        help_text="One of your projects; empty or absent: every project they have worked in.",
    )
    reason = serializers.CharField(
        allow_blank=True,
        help_text=f"Why; the person is told (required, at most {RETRAIN_REASON_MAX}).",
    )


class PersonRetrainView(APIView):
    """Send a person of the manager's teams back to training (audited; the person is told)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(tags=TAGS, request=RetrainSerializer, responses={201: RuleActionSerializer})
    def post(self, request: Request, user_id: int) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        person = get_object_or_404(people_managed_by(request.user), pk=user_id)
        data = RetrainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action = person_retrain(
            manager=request_user(request),
            user=person,
            project_id=data.validated_data["project"],
            reason=data.validated_data["reason"],
        )
        action = rule_actions_visible_to(request.user).get(pk=action.pk)
        return Response(
            RuleActionSerializer(action, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


urlpatterns: list[URLPattern | URLResolver] = [
    path("people/<id:user_id>/retrain/", PersonRetrainView.as_view(), name="person-retrain"),
]
