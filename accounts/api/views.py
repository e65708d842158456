from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEventSerializer,
    RoleGrantInputSerializer,
    RoleGrantSerializer,
    UserSerializer,
)
from accounts.models import ApiToken, Role, User
from accounts.permissions import MfaEnrolled, PolicyAllows
from accounts.policy import Action, api_tokens_visible_to, audit_events_visible_to, users_visible_to
from accounts.selectors import request_user
from accounts.services import api_token_create, api_token_revoke, role_grant, role_revoke
from core.api.filters import FilterSet, IdFilter, TimestampFilter
from core.errors import NotFound
from core.models import AuditEvent


class MeView(APIView):
    """The signed-in user and their roles."""

    permission_classes = [IsAuthenticated, MfaEnrolled]

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        user = (
            users_visible_to(request.user)
            .prefetch_related("role_grants")
            .get(pk=request_user(request).pk)
        )
        return Response(UserSerializer(user).data)


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """Your API tokens. Creating one returns its key once; deleting one revokes it."""

    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.TOKENS_MANAGE
    throttle_scope = "token_create"
    filterset_fields = ["revoked_at"]
    ordering_fields = ["created_at", "last_used_at"]

    def get_throttles(self) -> list[Any]:
        return [ScopedRateThrottle()] if self.action == "create" else []

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ApiToken.objects.none()
        tokens = api_tokens_visible_to(self.request.user)
        if self.action == "list":
            # The list is "my tokens" even for admins, who reach others' tokens by id to revoke them.
            tokens = tokens.filter(user_id=request_user(self.request).pk)
        return tokens

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = api_token_create(
            user=request_user(request),
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
            actor=request_user(request),
        )
        body = ApiTokenCreatedSerializer(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_token_revoke(token=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(field_name="role_grants__role", choices=Role.choices)
    email = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "email", "is_active"]


class UserViewSet(viewsets.ReadOnlyModelViewSet[User]):
    """Users and their roles (administrators only). Role changes are audited."""

    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.USERS_MANAGE
    filterset_class = UserFilter
    ordering_fields = ["email", "date_joined"]

    def get_queryset(self) -> QuerySet[User]:
        return users_visible_to(self.request.user).prefetch_related("role_grants").distinct()

    @extend_schema(request=RoleGrantInputSerializer, responses={201: RoleGrantSerializer})
    @action(detail=True, methods=["post"], url_path="roles")
    def grant_role(self, request: Request, pk: str | None = None) -> Response:
        person = self.get_object()
        data = RoleGrantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = role_grant(
            user=person,
            role=data.validated_data["role"],
            level=data.validated_data.get("level"),
            actor=request_user(request),
        )
        return Response(RoleGrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="roles/<slug:role>")
    def revoke_role(self, request: Request, pk: str | None = None, role: str = "") -> Response:
        person = self.get_object()
        if role not in Role.values:
            raise NotFound(f"There is no role named {role!r}.")
        role_revoke(user=person, role=role, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventFilter(FilterSet):
    action = django_filters.CharFilter(lookup_expr="startswith")
    actor = IdFilter(field_name="actor_id")
    target_id = django_filters.CharFilter()
    since = TimestampFilter(field_name="occurred_at", lookup_expr="gte")
    until = TimestampFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target_id", "since", "until"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The audit trail: who changed what, when, before and after (administrators and finance)."""

    serializer_class = AuditEventSerializer
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.AUDIT_VIEW
    filterset_class = AuditEventFilter
    ordering_fields = ["occurred_at"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return audit_events_visible_to(self.request.user)
