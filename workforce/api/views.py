from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import MfaEnrolled, PolicyAllows
from accounts.policy import Action, can, users_visible_to
from accounts.selectors import request_user
from core.api.filters import FilterSet
from core.errors import PermissionDenied
from workforce.api.serializers import (
    PersonSerializer,
    SkillLevelInputSerializer,
    SkillLevelSerializer,
    SkillSerializer,
    StatusInputSerializer,
    TrustInputSerializer,
)
from workforce.models import AnnotatorProfile, AnnotatorStatus, Skill
from workforce.selectors import annotator_profiles_for
from workforce.services import (
    annotator_status_set,
    annotator_trust_set,
    skill_create,
    skill_level_grant,
    skill_level_revoke,
)


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
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW
    filterset_class = PersonFilter
    ordering_fields = ["created_at"]
    lookup_field = "user_id"

    def get_queryset(self) -> QuerySet[AnnotatorProfile]:
        return annotator_profiles_for(users_visible_to(self.request.user)).prefetch_related(
            "user__skill_levels__skill"
        )

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


class SkillViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Skill]):
    """Skills that projects can require (managers and administrators)."""

    serializer_class = SkillSerializer
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.PEOPLE_MANAGE
    queryset = Skill.objects.order_by("name")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = SkillSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skill = skill_create(actor=request_user(request), **data.validated_data)
        return Response(SkillSerializer(skill).data, status=status.HTTP_201_CREATED)
