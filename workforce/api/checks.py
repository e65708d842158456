"""API of training modules and qualification tests: their rules (managers edit them; annotators
read the active ones). Attempts are started, served and listed by labeling's API
(`labeling.api.checks`), which draws and scores the items."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, can, require
from accounts.selectors import request_user
from core.api.routers import Router
from workforce.models import CheckAttempt, Skill, SkillCheck
from workforce.selectors.checks import skill_checks_list
from workforce.services.checks import CHECK_FIELDS, skill_check_create, skill_check_update


class SkillCheckSerializer(serializers.ModelSerializer[SkillCheck]):
    skill = serializers.SlugRelatedField(slug_field="slug", queryset=Skill.objects.all())
    level_map = serializers.JSONField(
        required=False, help_text="Tests: [[min_score, level], ...], rising, e.g. [[0.8, 1]]."
    )

    class Meta:
        model = SkillCheck
        fields = ["id", *CHECK_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]


class CheckAttemptSerializer(serializers.ModelSerializer[CheckAttempt]):
    """An attempt as its person (or a manager) sees it: the outcome, never the items' answers."""

    check = serializers.IntegerField(source="check_ref_id", read_only=True)
    check_name = serializers.CharField(source="check_ref.name", read_only=True)
    kind = serializers.CharField(source="check_ref.kind", read_only=True)
    user = serializers.IntegerField(source="user_id", read_only=True)
    items = serializers.SerializerMethodField()

    class Meta:
        model = CheckAttempt
        fields = [
            "id",
            "check",
            "check_name",
            "kind",
            "user",
            "number",
            "state",
            "items",
            "started_at",
            "deadline",
            "finished_at",
            "score",
            "level_granted",
        ]
        read_only_fields = fields

    def get_items(self, attempt: CheckAttempt) -> int:
        return len(attempt.item_ids)


class SkillCheckViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[SkillCheck],
):
    """Training modules and qualification tests: managers create and edit them; annotators see
    the active ones (and start them at `POST /checks/{id}/attempts/`)."""

    serializer_class = SkillCheckSerializer
    permission_classes = BASE_PERMISSIONS
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[SkillCheck]:
        user = self.request.user
        if can(user, Action.PEOPLE_VIEW):
            return skill_checks_list(include_inactive=True)
        if can(user, Action.WORK_LABEL):
            return skill_checks_list()
        return SkillCheck.objects.none()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        data = SkillCheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = skill_check_create(actor=request_user(request), **data.validated_data)
        return Response(SkillCheckSerializer(check).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        check = self.get_object()
        require(request.user, Action.PEOPLE_MANAGE)
        data = SkillCheckSerializer(check, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        check = skill_check_update(check=check, actor=request_user(request), **data.validated_data)
        return Response(SkillCheckSerializer(check).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)


router = Router()
router.register("checks", SkillCheckViewSet, basename="check")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
