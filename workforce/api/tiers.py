"""API of a person's tier as a manager sets it by hand: grant or revoke lead, set a reviewer level.

`POST /api/v1/people/{id}/tier/` with the tier and a reason (required: the person is told). A
person outside the manager's teams is not found (404); administrators reach everyone.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, require
from accounts.selectors import request_user
from workforce.selectors.teams import people_managed_by
from workforce.selectors.tiers import tier_label, tier_of
from workforce.services.tier_moves import TIER_REASON_MAX, tier_move


class TierMoveSerializer(serializers.Serializer[Any]):
    tier = serializers.CharField(
        max_length=40, help_text='"annotator", "reviewer-<level>" or "lead".'
    )
    reason = serializers.CharField(
        max_length=TIER_REASON_MAX, help_text="Why; the person is told (required)."
    )


class TierSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    tier = serializers.CharField()
    tier_label = serializers.CharField()
    previous_tier = serializers.CharField()


class PersonTierView(APIView):
    """Move a person of the manager's teams to another tier (audited; the person is notified)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(request=TierMoveSerializer, responses=TierSerializer)
    def post(self, request: Request, user_id: int) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        person = get_object_or_404(people_managed_by(request.user), pk=user_id)
        data = TierMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        before = tier_move(user=person, actor=request_user(request), **data.validated_data)
        tier = tier_of(user=person)
        return Response(
            TierSerializer(
                {
                    "user_id": person.pk,
                    "tier": tier,
                    "tier_label": tier_label(tier),
                    "previous_tier": before,
                }
            ).data
        )


urlpatterns: list[URLPattern | URLResolver] = [
    path("people/<id:user_id>/tier/", PersonTierView.as_view(), name="person-tier"),
]
