"""Probation and tiers: the promotion and demotion candidates managers decide, and a person's own
standing (`me/standing/`).

Managers and administrators (people.manage) list the candidates of the people they may see (the
workforce pages' scoping), approve or decline each, and compute them now; anyone else gets 403
on the list, and a candidate outside a manager's people is "not found".
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.filters import FilterSet, IdFilter
from core.api.routers import Router
from quality.selectors import standing_summary_of
from quality.services.standing import tier_candidates_compute
from workforce.models import CandidateState, TierCandidate, TierDirection
from workforce.selectors.teams import people_managed_by
from workforce.selectors.tiers import tier_candidates_for
from workforce.services.tiers import tier_candidate_approve, tier_candidate_decline

TAGS = ["standing"]


class CandidatePersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)


class TierCandidateSerializer(serializers.ModelSerializer[TierCandidate]):
    person = CandidatePersonSerializer(source="user", read_only=True)
    evidence = serializers.DictField(
        read_only=True,
        help_text="The numbers behind it: accuracy (gold and review verdicts) with its 95% "
        "interval, review pass rate, volume, upheld share, thresholds, this and last week's "
        "verdicts.",
    )
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)

    class Meta:
        model = TierCandidate
        fields = [
            "id",
            "person",
            "from_tier",
            "to_tier",
            "direction",
            "state",
            "evidence",
            "computed_at",
            "decided_by",
            "decided_at",
            "note",
        ]
        read_only_fields = fields


class ApproveSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DeclineSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(
        max_length=2000, help_text="Why the move is declined (shown in the record)."
    )


class ComputationSerializer(serializers.Serializer[Any]):
    week = serializers.DateField(help_text="The Monday of the week computed.")
    people = serializers.IntegerField(help_text="Working people measured.")
    candidates = serializers.IntegerField(help_text="Candidates proposed now.")
    superseded = serializers.IntegerField(help_text="Pending candidates no longer warranted.")


class TierCandidateFilter(FilterSet):
    state = django_filters.ChoiceFilter(choices=CandidateState.choices)
    direction = django_filters.ChoiceFilter(choices=TierDirection.choices)
    person = IdFilter(field_name="user_id")

    class Meta:
        model = TierCandidate
        fields = ["state", "direction", "person"]


@extend_schema(tags=TAGS)
class TierCandidateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[TierCandidate]
):
    """Promotion and demotion candidates of the people the manager sees, oldest first."""

    serializer_class = TierCandidateSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_MANAGE
    filterset_class = TierCandidateFilter
    ordering_fields = ["computed_at"]

    def get_queryset(self) -> QuerySet[TierCandidate]:
        return tier_candidates_for(people_managed_by(self.request.user)).order_by(
            "computed_at", "pk"
        )

    def _render(self, candidate: TierCandidate) -> Response:
        return Response(TierCandidateSerializer(self.get_queryset().get(pk=candidate.pk)).data)

    @extend_schema(request=ApproveSerializer, responses=TierCandidateSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve: the person moves to the candidate's tier (reviewer role granted, changed or
        revoked through the role service; audited). 409 if no longer pending or out of date."""
        data = ApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        candidate = tier_candidate_approve(
            candidate=self.get_object(),
            actor=request_user(request),
            note=data.validated_data["note"],
        )
        return self._render(candidate)

    @extend_schema(request=DeclineSerializer, responses=TierCandidateSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        """Decline with a note saying why; the person's tier stays."""
        data = DeclineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        candidate = tier_candidate_decline(
            candidate=self.get_object(),
            actor=request_user(request),
            note=data.validated_data["note"],
        )
        return self._render(candidate)

    @extend_schema(request=None, responses=ComputationSerializer)
    @action(detail=False, methods=["post"])
    def compute(self, request: Request) -> Response:
        """Compute this week's verdicts and candidates now (as the weekly job does)."""
        outcome = tier_candidates_compute(now=timezone.now(), actor=request_user(request))
        return Response(
            ComputationSerializer(
                {
                    "week": outcome.week,
                    "people": outcome.people,
                    "candidates": len(outcome.candidates),
                    "superseded": outcome.superseded,
                }
            ).data
        )


class ShareSerializer(serializers.Serializer[Any]):
    n = serializers.IntegerField()
    successes = serializers.FloatField()
    accuracy = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, lower bound.")
    high = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, upper bound.")


class RecordSerializer(serializers.Serializer[Any]):
    accuracy = ShareSerializer(help_text="Gold scores and review verdicts of your work together.")
    gold = ShareSerializer()
    review_pass_rate = ShareSerializer()
    volume = serializers.IntegerField(help_text="Annotations handed in.")
    upheld = ShareSerializer(help_text="Your reviews a higher level upheld.")


class NeedsSerializer(serializers.Serializer[Any]):
    accuracy_low_at_least = serializers.FloatField()
    volume_at_least = serializers.IntegerField()
    upheld_low_at_least = serializers.FloatField(allow_null=True)
    weeks_in_a_row = serializers.IntegerField()


class CurrentSerializer(serializers.Serializer[Any]):
    accuracy_low = serializers.FloatField(allow_null=True)
    volume = serializers.IntegerField()
    upheld_low = serializers.FloatField(allow_null=True)


class NextTierSerializer(serializers.Serializer[Any]):
    tier = serializers.CharField()
    tier_label = serializers.CharField()
    needs = NeedsSerializer()
    current = CurrentSerializer()


class ProbationWindowSerializer(serializers.Serializer[Any]):
    items = serializers.IntegerField()
    since = serializers.CharField(allow_null=True)
    until = serializers.CharField()


class ProbationSerializer(ShareSerializer):
    min_items = serializers.IntegerField()
    pass_low_above = serializers.FloatField()
    floor_high_below = serializers.FloatField()
    window = ProbationWindowSerializer()


class PendingSerializer(serializers.Serializer[Any]):
    to_tier = serializers.CharField()
    direction = serializers.ChoiceField(choices=TierDirection.choices)


class DecisionSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    created_at = serializers.DateTimeField()
    evidence = serializers.DictField(help_text="n, successes, accuracy, low, high, threshold...")


class StandingSerializer(serializers.Serializer[Any]):
    status = serializers.CharField(allow_null=True)
    tier = serializers.CharField(help_text='"annotator", "reviewer-<level>" or "lead".')
    tier_label = serializers.CharField()
    window_days = serializers.IntegerField()
    record = RecordSerializer()
    next_tier = NextTierSerializer(allow_null=True)
    probation = ProbationSerializer(allow_null=True)
    pending_candidate = PendingSerializer(allow_null=True)
    decisions = DecisionSerializer(many=True)


@extend_schema(tags=TAGS)
class MyStandingView(APIView):
    """Your tier, what the next one needs and how far you are, your probation numbers, and the
    decisions taken about your standing with the numbers behind each."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses=StandingSerializer)
    def get(self, request: Request) -> Response:
        summary = standing_summary_of(user=request_user(request), now=timezone.now())
        return Response(StandingSerializer(summary).data)


router = Router()
router.register("tier-candidates", TierCandidateViewSet, basename="tier-candidate")

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/standing/", MyStandingView.as_view(), name="me-standing"),
    *router.urls,
]
