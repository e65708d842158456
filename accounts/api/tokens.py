"""API tokens: a person's own, created with their key shown once and revoked by deleting."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import ApiToken
from accounts.permissions import PolicyAllows
from accounts.policy import Action, api_tokens_visible_to
from accounts.selectors import request_user
from accounts.services import api_token_create, api_token_revoke
from core.api.routers import Router


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(
        read_only=True, help_text="The secret key. It is shown only this once."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    """Your API tokens. Creating one returns its key once; deleting one revokes it."""

    serializer_class = ApiTokenSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
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


router = Router()
router.register("tokens", ApiTokenViewSet, basename="token")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
