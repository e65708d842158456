"""Review and rework API: reviewers claim reviews and give verdicts; authors redo rejected work.

Reviews use the annotators' leases: claim with `POST /projects/{id}/review/claim/`, keep alive,
skip or release with `/leases/{id}/...`, and finish with `POST /leases/{id}/verdict/`.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from labeling import policy
from labeling.api.throttles import WorkThrottle
from labeling.api.work import ClaimSerializer, claim_body
from labeling.models import RejectReason, Review, Verdict
from labeling.selectors import review_context, review_projects_for, rework_of
from labeling.services.claimed import Claim
from labeling.services.review import (
    review_claim_next,
    review_submit,
    reviewer_level_of,
    rework_claim,
)


class ReviewSerializer(serializers.ModelSerializer[Review]):
    class Meta:
        model = Review
        fields = [
            "id",
            "level",
            "annotation",
            "author",
            "reviewer",
            "verdict",
            "reason",
            "comment",
            "correction",
            "correction_score",
            "upheld",
            "created_at",
        ]
        read_only_fields = fields


def review_claim_body(claim: Claim) -> dict[str, Any]:
    body = claim_body(claim)
    body["review"] = review_context(
        task_id=claim.lease.task_id, project=claim.lease.project, level=claim.lease.slot.level
    )
    return body


class ReviewClaimSerializer(ClaimSerializer):
    review = serializers.DictField(
        help_text="level, work (the annotation under review), annotations and aggregate "
        "(consensus), previous_reviews, reasons, can_reject."
    )


class ReviewClaimView(APIView):
    """Lease the next review of a project at a level you hold (highest levels first)."""

    permission_classes = BASE_PERMISSIONS
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(
        request=None,
        responses={
            200: ReviewClaimSerializer,
            403: OpenApiResponse(description="Not a reviewer, or suspended"),
            404: OpenApiResponse(description="Nothing to review: extra.reason says why"),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = get_object_or_404(policy.projects_reviewable_by(request.user), pk=project_id)
        claim = review_claim_next(project=project, user=request_user(request))
        return Response(review_claim_body(claim))


class VerdictSerializer(serializers.Serializer[Any]):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    result = serializers.JSONField(required=False, help_text="The corrected result (correct).")
    reason = serializers.ChoiceField(
        choices=RejectReason.choices, required=False, help_text="Why it is rejected (reject)."
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class VerdictView(APIView):
    """Give your verdict on a leased review: approve, correct (with `result`) or reject (with
    `reason` and a comment for the author)."""

    permission_classes = BASE_PERMISSIONS
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(request=VerdictSerializer, responses={201: ReviewSerializer})
    def post(self, request: Request, lease_id: int) -> Response:
        data = VerdictSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        review = review_submit(
            lease_id=lease_id,
            user=request_user(request),
            verdict=values["verdict"],
            result=values.get("result"),
            reason=values.get("reason", ""),
            comment=values.get("comment", ""),
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewProjectsView(APIView):
    """Projects with review work waiting at the levels you hold, with counts per level."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request: Request) -> Response:
        user = request_user(request)
        return Response(review_projects_for(user=user, level=reviewer_level_of(user)))


class ReworkListView(APIView):
    """Your rejected work waiting for rework, with the reviewer's reason and comment."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses={200: serializers.ListSerializer(child=serializers.DictField())})
    def get(self, request: Request) -> Response:
        return Response(rework_of(user=request_user(request)))


class ReworkClaimView(APIView):
    """Lease one of your rejected tasks back to you; submit it with `/leases/{id}/submit/`."""

    permission_classes = BASE_PERMISSIONS
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(request=None, responses={200: ClaimSerializer})
    def post(self, request: Request, slot_id: int) -> Response:
        claim = rework_claim(slot_id=slot_id, user=request_user(request))
        return Response(claim_body(claim))


urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "projects/<id:project_id>/review/claim/",
        ReviewClaimView.as_view(),
        name="project-review-claim",
    ),
    path("leases/<id:lease_id>/verdict/", VerdictView.as_view(), name="lease-verdict"),
    path("work/review-projects/", ReviewProjectsView.as_view(), name="work-review-projects"),
    path("work/rework/", ReworkListView.as_view(), name="work-rework"),
    path("rework/<id:slot_id>/claim/", ReworkClaimView.as_view(), name="rework-claim"),
]
