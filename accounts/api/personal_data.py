"""The personal-data API: your data as a JSON download, your erasure request, and the
administrators' erasure requests."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.erasure import (
    erasure_request_cancel,
    erasure_request_create,
    erasure_request_execute,
    erasure_request_reject,
)
from accounts.models import ErasureRequest, ErasureStatus, User
from accounts.permissions import PolicyAllows
from accounts.personal_data import personal_data_export
from accounts.policy import Action, erasure_requests_visible_to, users_visible_to
from accounts.selectors import request_user
from core.api.routers import Router
from core.errors import NotFound

# Building the download reads the person's whole history: a few a day is what a person needs.
PERSONAL_DATA_DOWNLOADS_PER_HOUR = 10


class PersonalDataDownloadThrottle(UserRateThrottle):
    scope = "personal_data_download"
    rate = f"{PERSONAL_DATA_DOWNLOADS_PER_HOUR}/hour"


def personal_data_response(user: User) -> StreamingHttpResponse:
    """The person's data as a streamed JSON attachment (for the API and the portal alike)."""
    response = StreamingHttpResponse(
        personal_data_export(user=user), content_type="application/json; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = (
        f'attachment; filename="quorum-personal-data-{user.pk}-{stamp}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


class ErasureRequestSerializer(serializers.ModelSerializer[ErasureRequest]):
    user_email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = ErasureRequest
        fields = [
            "id",
            "user",
            "user_email",
            "requested_by",
            "requested_at",
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
            "outcome",
        ]
        read_only_fields = fields


class ConfirmSerializer(serializers.Serializer[Any]):
    confirm = serializers.BooleanField(
        help_text="Must be true: erasure cannot be undone.",
    )

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Confirm that you understand it cannot be undone.")
        return value


class ErasureRequestCreateSerializer(ConfirmSerializer):
    user = serializers.IntegerField(help_text="The id of the person whose data is to be erased.")


class ErasureRejectSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(help_text="Why; the person reads it.")


class MyDataView(APIView):
    """Download everything Quorum keeps about you, as one JSON document (streamed)."""

    permission_classes = BASE_PERMISSIONS
    throttle_classes = [PersonalDataDownloadThrottle]

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Sections: account, profile, work, audit (and earnings once kept).",
            )
        }
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return personal_data_response(request_user(request))


class MyErasureRequestView(APIView):
    """Your request to erase your personal data: see it, make it, or withdraw it."""

    permission_classes = BASE_PERMISSIONS

    def _latest(self, request: Request) -> ErasureRequest | None:
        return (
            erasure_requests_visible_to(request.user)
            .filter(user_id=request_user(request).pk)
            .first()
        )

    @extend_schema(
        responses={
            200: ErasureRequestSerializer,
            404: OpenApiResponse(description="You have not asked for erasure."),
        }
    )
    def get(self, request: Request) -> Response:
        latest = self._latest(request)
        if latest is None:
            raise NotFound("You have not asked for erasure.")
        return Response(ErasureRequestSerializer(latest).data)

    @extend_schema(request=ConfirmSerializer, responses={201: ErasureRequestSerializer})
    def post(self, request: Request) -> Response:
        ConfirmSerializer(data=request.data).is_valid(raise_exception=True)
        user = request_user(request)
        erasure = erasure_request_create(user=user, requested_by=user)
        return Response(ErasureRequestSerializer(erasure).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            204: None,
            404: OpenApiResponse(description="You have no open erasure request."),
        },
    )
    def delete(self, request: Request) -> Response:
        latest = self._latest(request)
        if latest is None or latest.status != ErasureStatus.REQUESTED:
            raise NotFound("You have no open erasure request.")
        erasure_request_cancel(request=latest, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ErasureRequestViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[ErasureRequest],
):
    """Erasure requests (administrators): record one for a person, execute it, or reject it."""

    serializer_class = ErasureRequestSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PERSONAL_DATA_ERASE
    filterset_fields = ["status", "user"]
    ordering_fields = ["requested_at", "decided_at"]

    def get_queryset(self) -> QuerySet[ErasureRequest]:
        return erasure_requests_visible_to(self.request.user)

    @extend_schema(
        request=ErasureRequestCreateSerializer,
        responses={
            201: ErasureRequestSerializer,
            404: OpenApiResponse(description="No such user."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ErasureRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = get_object_or_404(users_visible_to(request.user), pk=data.validated_data["user"])
        erasure = erasure_request_create(user=person, requested_by=request_user(request))
        return Response(ErasureRequestSerializer(erasure).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ConfirmSerializer, responses=ErasureRequestSerializer)
    @action(detail=True, methods=["post"])
    def execute(self, request: Request, pk: str | None = None) -> Response:
        ConfirmSerializer(data=request.data).is_valid(raise_exception=True)
        erasure = erasure_request_execute(request=self.get_object(), actor=request_user(request))
        return Response(ErasureRequestSerializer(erasure).data)

    @extend_schema(request=ErasureRejectSerializer, responses=ErasureRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        data = ErasureRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erasure = erasure_request_reject(
            request=self.get_object(), actor=request_user(request), note=data.validated_data["note"]
        )
        return Response(ErasureRequestSerializer(erasure).data)


router = Router()
router.register("erasure-requests", ErasureRequestViewSet, basename="erasure-request")

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/data/", MyDataView.as_view(), name="me-data"),
    path("me/erasure-request/", MyErasureRequestView.as_view(), name="me-erasure-request"),
    *router.urls,
]
