"""API of the onboarding journey: the checklist, the approval queue, where applicants are stuck."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action, require
from accounts.selectors import request_user
from workforce.models import AnnotatorProfile, JourneyEvent
from workforce.selectors.onboarding import (
    approval_queue,
    journey_events_of,
    onboarding_checklist,
    onboarding_summary,
)
from workforce.selectors.onboarding_steps import status_label
from workforce.selectors.teams import people_placeable_by
from workforce.services.onboarding import (
    journey_approve,
    journey_decline,
    journey_offboard,
    journey_reinstate,
    journey_reonboard,
    journey_suspend,
)

HISTORY_SHOWN = 50


class ChecklistItemSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    title = serializers.CharField(source="label")
    state = serializers.ChoiceField(choices=["done", "current", "next"])
    url = serializers.CharField(help_text="Where to do the current step; empty: no page.")
    hint = serializers.CharField(source="help_text")
    blocked_reason = serializers.CharField(
        allow_null=True, help_text="Why the step cannot be done now (e.g. a test's cooldown)."
    )


class JourneyEventSerializer(serializers.ModelSerializer[JourneyEvent]):
    actor_email = serializers.EmailField(source="actor.email", read_only=True, allow_null=True)
    from_status_label = serializers.SerializerMethodField()
    to_status_label = serializers.SerializerMethodField()

    class Meta:
        model = JourneyEvent
        fields = [
            "from_status",
            "from_status_label",
            "to_status",
            "to_status_label",
            "actor_email",
            "reason",
            "evidence",
            "created_at",
        ]
        read_only_fields = fields

    def get_from_status_label(self, event: JourneyEvent) -> str:
        return status_label(event.from_status)

    def get_to_status_label(self, event: JourneyEvent) -> str:
        return status_label(event.to_status)


class JourneySerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    is_onboarding = serializers.BooleanField()
    steps = ChecklistItemSerializer(many=True)
    history = JourneyEventSerializer(many=True)


def _journey(user: Any) -> dict[str, Any]:
    checklist = onboarding_checklist(user=user)
    if checklist is None:
        raise Http404("No annotator profile.")
    return {
        "user_id": user.pk,
        "status": checklist.status,
        "status_label": checklist.status_label,
        "is_onboarding": checklist.is_onboarding,
        "steps": checklist.items,
        "history": list(journey_events_of(user=user)[:HISTORY_SHOWN]),
    }


class OwnJourneyView(APIView):
    """The caller's own journey: their state, the onboarding checklist and their history."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(
        responses={
            200: JourneySerializer,
            404: OpenApiResponse(description="You have no annotator profile, so no journey."),
        }
    )
    def get(self, request: Request) -> Response:
        return Response(JourneySerializer(_journey(request_user(request))).data)


def _profile_in_scope(request: Request, user_id: int) -> AnnotatorProfile:
    """A profile the caller may see; others' answer 404 so their existence does not leak."""
    return get_object_or_404(
        AnnotatorProfile.objects.select_related("user"),
        user__in=people_placeable_by(request.user),
        user_id=user_id,
    )


class PersonJourneyView(APIView):
    """One person's journey, as their managers see it."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW

    @extend_schema(responses=JourneySerializer)
    def get(self, request: Request, user_id: int) -> Response:
        profile = _profile_in_scope(request, user_id)
        return Response(JourneySerializer(_journey(profile.user)).data)


class StepCountSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    status_label = serializers.CharField(source="label")
    count = serializers.IntegerField()
    oldest_since = serializers.DateTimeField(allow_null=True)
    oldest_user_id = serializers.IntegerField(allow_null=True)
    oldest_email = serializers.EmailField(allow_null=True)


class SummaryView(APIView):
    """Where applicants are: how many wait at each onboarding state and who has waited longest."""

    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW

    @extend_schema(responses=StepCountSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = onboarding_summary(users=people_placeable_by(request.user))
        return Response(StepCountSerializer(rows, many=True).data)


class ApprovalSerializer(serializers.ModelSerializer[AnnotatorProfile]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    country = serializers.CharField(source="country.code", read_only=True)
    waiting_since = serializers.DateTimeField(source="status_changed_at", read_only=True)

    class Meta:
        model = AnnotatorProfile
        fields = ["user_id", "email", "full_name", "country", "languages", "waiting_since"]
        read_only_fields = fields


class ApprovalListView(generics.ListAPIView[AnnotatorProfile]):
    """People who completed onboarding and wait for a manager's approval, longest waiting first."""

    serializer_class = ApprovalSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW

    def get_queryset(self) -> QuerySet[AnnotatorProfile]:
        return approval_queue(users=people_placeable_by(self.request.user))


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class _DecisionView(APIView):
    """Decide on a person waiting for approval with `decide` (a journey service)."""

    permission_classes = BASE_PERMISSIONS
    decide: Callable[..., Any]

    @extend_schema(request=ReasonSerializer, responses=JourneySerializer)
    def post(self, request: Request, user_id: int) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        profile = _profile_in_scope(request, user_id)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        type(self).decide(profile=profile, actor=request_user(request), **data.validated_data)
        return Response(JourneySerializer(_journey(profile.user)).data)


class ApproveView(_DecisionView):
    """Approve a person waiting for approval: they start work on probation."""

    decide = journey_approve


class DeclineView(_DecisionView):
    """Decline a person waiting for approval (a reason is required): they are offboarded."""

    decide = journey_decline


MOVES: dict[str, Callable[..., Any]] = {
    "suspend": journey_suspend,
    "reinstate": journey_reinstate,
    "offboard": journey_offboard,
    "reonboard": journey_reonboard,
}


class MoveSerializer(serializers.Serializer[Any]):
    move = serializers.ChoiceField(choices=sorted(MOVES))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class MoveView(APIView):
    """Suspend, reinstate (to where they were), offboard or re-onboard a person (audited)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(request=MoveSerializer, responses=JourneySerializer)
    def post(self, request: Request, user_id: int) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        profile = _profile_in_scope(request, user_id)
        data = MoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        move = MOVES[data.validated_data["move"]]
        move(profile=profile, actor=request_user(request), reason=data.validated_data["reason"])
        return Response(JourneySerializer(_journey(profile.user)).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("onboarding/", OwnJourneyView.as_view(), name="onboarding"),
    path("onboarding/summary/", SummaryView.as_view(), name="onboarding-summary"),
    path("onboarding/approvals/", ApprovalListView.as_view(), name="onboarding-approvals"),
    path(
        "onboarding/approvals/<id:user_id>/approve/",
        ApproveView.as_view(),
        name="onboarding-approve",
    ),
    path(
        "onboarding/approvals/<id:user_id>/decline/",
        DeclineView.as_view(),
        name="onboarding-decline",
    ),
    path("onboarding/people/<id:user_id>/", PersonJourneyView.as_view(), name="onboarding-person"),
    path("onboarding/people/<id:user_id>/move/", MoveView.as_view(), name="onboarding-move"),
]
