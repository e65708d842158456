"""The workforce: annotators' profiles, status, trust, roles and skill levels."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.api.users import RoleGrantSerializer
from accounts.permissions import PolicyAllows
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.api.routers import Router
from core.errors import PermissionDenied
from workforce.models import AnnotatorProfile, AnnotatorStatus, Skill, SkillLevel
from workforce.selectors.onboarding_steps import status_label
from workforce.selectors.teams import profiles_managed_by
from workforce.services import (
    annotator_status_set,
    annotator_trust_set,
    skill_level_grant,
    skill_level_revoke,
)


class SkillLevelSerializer(serializers.ModelSerializer[SkillLevel]):
    skill: serializers.SlugRelatedField[Skill] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = SkillLevel
        fields = ["skill", "level", "granted_at"]
        read_only_fields = fields


class SkillLevelInputSerializer(serializers.Serializer[Any]):
    skill = serializers.SlugRelatedField(slug_field="slug", queryset=Skill.objects.all())
    level = serializers.IntegerField(min_value=1, max_value=10)


class StatusInputSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=AnnotatorStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class TrustInputSerializer(serializers.Serializer[Any]):
    is_trusted = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PersonSerializer(serializers.ModelSerializer[AnnotatorProfile]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    country = serializers.CharField(source="country.code", read_only=True)
    roles = RoleGrantSerializer(source="user.role_grants", many=True, read_only=True)
    skills = SkillLevelSerializer(source="user.skill_levels", many=True, read_only=True)
    status_label = serializers.SerializerMethodField(help_text="The status as people read it.")

    class Meta:
        model = AnnotatorProfile
        fields = [
            "user_id",
            "email",
            "full_name",
            "is_active",
            "country",
            "time_zone",
            "languages",
            "status",
            "status_label",
            "is_trusted",
            "roles",
            "skills",
            "created_at",
        ]

    def get_status_label(self, profile: AnnotatorProfile) -> str:
        return status_label(profile.status)


class PersonFilter(FilterSet):
    country = django_filters.CharFilter(lookup_expr="iexact")
    time_zone = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=AnnotatorStatus.choices)

    class Meta:
        model = AnnotatorProfile
        fields = ["country", "time_zone", "status"]


class PersonViewSet(viewsets.ReadOnlyModelViewSet[AnnotatorProfile]):
    """The workforce: annotators' profiles, status, roles and skills (managers and administrators)."""

    serializer_class = PersonSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW
    filterset_class = PersonFilter
    ordering_fields = ["created_at"]
    lookup_field = "user_id"

    def get_queryset(self) -> QuerySet[AnnotatorProfile]:
        return profiles_managed_by(self.request.user).prefetch_related("user__skill_levels__skill")

    def _require_manage(self, request: Request) -> None:
        if not can(request.user, Action.PEOPLE_MANAGE):
            raise PermissionDenied()

    @extend_schema(request=StatusInputSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, user_id: str | None = None) -> Response:
        """Activate, put on probation, suspend or offboard an annotator (audited)."""
        self._require_manage(request)
        profile = self.get_object()
        data = StatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotator_status_set(profile=profile, actor=request_user(request), **data.validated_data)
        return Response(PersonSerializer(self.get_queryset().get(pk=profile.pk)).data)

    @extend_schema(request=TrustInputSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"], url_path="trust")
    def set_trust(self, request: Request, user_id: str | None = None) -> Response:
        """Mark an annotator as trusted (reviewed and given gold less often), or not (audited)."""
        self._require_manage(request)
        profile = self.get_object()
        data = TrustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        annotator_trust_set(profile=profile, actor=request_user(request), **data.validated_data)
        return Response(PersonSerializer(self.get_queryset().get(pk=profile.pk)).data)

    @extend_schema(request=SkillLevelInputSerializer, responses={201: SkillLevelSerializer})
    @action(detail=True, methods=["post"], url_path="skills")
    def grant_skill(self, request: Request, user_id: str | None = None) -> Response:
        """Set the person's level in a skill (1..10)."""
        self._require_manage(request)
        profile = self.get_object()
        data = SkillLevelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        level = skill_level_grant(
            user=profile.user, actor=request_user(request), **data.validated_data
        )
        return Response(SkillLevelSerializer(level).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="skills/<slug:slug>")
    def revoke_skill(
        self, request: Request, user_id: str | None = None, slug: str = ""
    ) -> Response:
        self._require_manage(request)
        profile = self.get_object()
        skill = get_object_or_404(Skill, slug=slug)
        skill_level_revoke(user=profile.user, skill=skill, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


router = Router()
router.register("people", PersonViewSet, basename="person")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
