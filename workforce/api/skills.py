"""Skills that projects can require (managers and administrators)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.permissions import PolicyAllows
from accounts.policy import Action
from accounts.selectors import request_user
from core.api.routers import Router
from workforce.models import Skill
from workforce.services import skill_create


class SkillSerializer(serializers.ModelSerializer[Skill]):
    class Meta:
        model = Skill
        fields = ["id", "slug", "name", "description"]
        read_only_fields = ["id"]


class SkillViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Skill]):
    """Skills that projects can require (managers and administrators)."""

    serializer_class = SkillSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_MANAGE
    queryset = Skill.objects.order_by("name")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        data = SkillSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skill = skill_create(actor=request_user(request), **data.validated_data)
        return Response(SkillSerializer(skill).data, status=status.HTTP_201_CREATED)


router = Router()
router.register("skills", SkillViewSet, basename="skill")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
