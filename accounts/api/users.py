"""Users and their roles: the signed-in user (`me/`) and, for administrators, everyone's."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import Role, RoleGrant, User
from accounts.permissions import PolicyAllows
from accounts.policy import Action, users_visible_to
from accounts.selectors import request_user
from accounts.services import role_grant, role_revoke
from core.api.filters import FilterSet
from core.api.routers import Router
from core.errors import NotFound


class RoleGrantSerializer(serializers.ModelSerializer[RoleGrant]):
    class Meta:
        model = RoleGrant
        fields = ["role", "level", "granted_at"]
        read_only_fields = ["granted_at"]


class RoleGrantInputSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)
    level = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9)


class UserSerializer(serializers.ModelSerializer[User]):
    roles = RoleGrantSerializer(source="role_grants", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "is_active", "date_joined", "roles"]


class MeView(APIView):
    """The signed-in user and their roles."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        user = (
            users_visible_to(request.user)
            .prefetch_related("role_grants")
            .get(pk=request_user(request).pk)
        )
        return Response(UserSerializer(user).data)


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(field_name="role_grants__role", choices=Role.choices)
    email = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "email", "is_active"]


class UserViewSet(viewsets.ReadOnlyModelViewSet[User]):
    """Users and their roles (administrators only). Role changes are audited."""

    serializer_class = UserSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
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


router = Router()
router.register("users", UserViewSet, basename="user")

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
