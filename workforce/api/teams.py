"""API of teams, their members, managers and announcements.

Administrators see and change every team, and alone create teams and assign managers; a manager
sees the teams they manage and, in them, adds, removes and moves members, sets leads and posts
announcements. A team or person outside the caller's scope is not found (404).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.models import User
from accounts.permissions import PolicyAllows
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.api.routers import Router
from core.errors import PermissionDenied
from workforce.models import Team, TeamAnnouncement, TeamManager, TeamMembership, TeamRole
from workforce.selectors.teams import (
    people_placeable_by,
    team_announcements,
    team_list_for,
    team_members,
    teams_visible_to,
)
from workforce.services.teams import (
    team_announcement_post,
    team_create,
    team_lead_set,
    team_manager_assign,
    team_manager_unassign,
    team_member_add,
    team_member_move,
    team_member_remove,
    team_update,
)


class TeamSerializer(serializers.ModelSerializer[Team]):
    members = serializers.IntegerField(read_only=True, help_text="How many people are in it.")

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = ["id", "members", "created_at"]


class TeamUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)


class MemberSerializer(serializers.ModelSerializer[TeamMembership]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = TeamMembership
        fields = ["user_id", "email", "full_name", "role", "joined_at"]
        read_only_fields = fields


class MemberInputSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(help_text="The person's user id.")
    role = serializers.ChoiceField(choices=TeamRole.choices, default=TeamRole.MEMBER)


class LeadInputSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    is_lead = serializers.BooleanField()


class MoveInputSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField()
    to_team = serializers.IntegerField(help_text="The id of the team they move to.")
    reason = serializers.CharField(max_length=300)


class ManagerSerializer(serializers.ModelSerializer[TeamManager]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = TeamManager
        fields = ["user_id", "email", "assigned_at"]
        read_only_fields = fields


class ManagerInputSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(help_text="The manager's user id.")


class AnnouncementSerializer(serializers.ModelSerializer[TeamAnnouncement]):
    author = serializers.EmailField(source="author.email", read_only=True, allow_null=True)

    class Meta:
        model = TeamAnnouncement
        fields = ["id", "title", "body", "author", "created_at", "expires_at"]
        read_only_fields = ["id", "author", "created_at"]


class TeamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Team],
):
    """Teams: administrators see all and create them; managers see the teams they manage."""

    serializer_class = TeamSerializer
    permission_classes = [*BASE_PERMISSIONS, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self) -> QuerySet[Team]:
        return team_list_for(self.request.user).order_by("name", "pk")

    def _require_admin(self, request: Request) -> None:
        if not can(request.user, Action.USERS_MANAGE):
            raise PermissionDenied("Only administrators create teams and assign their managers.")

    def _require_manage(self, request: Request) -> None:
        if not can(request.user, Action.PEOPLE_MANAGE):
            raise PermissionDenied()

    def _person(self, request: Request, user_id: Any) -> User:
        return get_object_or_404(people_placeable_by(request.user), pk=user_id)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._require_admin(request)
        data = TeamSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = team_create(actor=request_user(request), **data.validated_data)
        return Response(
            TeamSerializer(self.get_queryset().get(pk=team.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=TeamUpdateSerializer, responses=TeamSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._require_admin(request)
        team = self.get_object()
        data = TeamUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team_update(team=team, actor=request_user(request), **data.validated_data)
        return Response(TeamSerializer(self.get_queryset().get(pk=team.pk)).data)

    @extend_schema(request=TeamUpdateSerializer, responses=TeamSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(methods=["GET"], responses=MemberSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=MemberInputSerializer, responses={201: MemberSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def members(self, request: Request, pk: str | None = None) -> Response:
        """The team's members (paginated); POST adds a person (one team per person)."""
        team = self.get_object()
        if request.method == "POST":
            self._require_manage(request)
            data = MemberInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            membership = team_member_add(
                team=team,
                user=self._person(request, data.validated_data["user"]),
                role=data.validated_data["role"],
                actor=request_user(request),
            )
            return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)
        # The viewset's pages are of teams; its paginator pages any queryset alike.
        page = self.paginate_queryset(team_members(team=team))  # type: ignore[arg-type]  # see above
        return self.get_paginated_response(MemberSerializer(page, many=True).data)  # type: ignore[arg-type]  # see above

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="members/<id:user_id>")
    def remove_member(self, request: Request, pk: str | None = None, user_id: int = 0) -> Response:
        """Take a person out of the team."""
        self._require_manage(request)
        team = self.get_object()
        team_member_remove(
            team=team, user=self._person(request, user_id), actor=request_user(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=LeadInputSerializer, responses=MemberSerializer)
    @action(detail=True, methods=["post"])
    def lead(self, request: Request, pk: str | None = None) -> Response:
        """Make a member one of the team's leads, or a plain member again."""
        self._require_manage(request)
        team = self.get_object()
        data = LeadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = team_lead_set(
            team=team,
            user=self._person(request, data.validated_data["user"]),
            is_lead=data.validated_data["is_lead"],
            actor=request_user(request),
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(request=MoveInputSerializer, responses=MemberSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        """Move a member of this team to another team the caller manages (audited, with why)."""
        self._require_manage(request)
        team = self.get_object()
        data = MoveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        to_team = get_object_or_404(
            teams_visible_to(request.user), pk=data.validated_data["to_team"]
        )
        membership = team_member_move(
            user=self._person(request, data.validated_data["user"]),
            from_team=team,
            to_team=to_team,
            actor=request_user(request),
            reason=data.validated_data["reason"],
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(methods=["GET"], responses=ManagerSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=ManagerInputSerializer, responses={201: ManagerSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def managers(self, request: Request, pk: str | None = None) -> Response:
        """The team's managers; POST assigns one (administrators)."""
        team = self.get_object()
        if request.method == "POST":
            self._require_admin(request)
            data = ManagerInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            manager = get_object_or_404(User, pk=data.validated_data["user"])
            assignment = team_manager_assign(team=team, user=manager, actor=request_user(request))
            return Response(ManagerSerializer(assignment).data, status=status.HTTP_201_CREATED)
        assignments = team.manager_assignments.select_related("user").order_by("user__email")
        return Response(ManagerSerializer(assignments, many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path="managers/<id:user_id>")
    def unassign_manager(
        self, request: Request, pk: str | None = None, user_id: int = 0
    ) -> Response:
        """Take a manager off the team (administrators)."""
        self._require_admin(request)
        team = self.get_object()
        manager = get_object_or_404(User, pk=user_id)
        team_manager_unassign(team=team, user=manager, actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=AnnouncementSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=AnnouncementSerializer, responses={201: AnnouncementSerializer}
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def announcements(self, request: Request, pk: str | None = None) -> Response:
        """The team's announcements, newest first (paginated); POST posts one to its members."""
        team = self.get_object()
        if request.method == "POST":
            self._require_manage(request)
            data = AnnouncementSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            announcement = team_announcement_post(
                team=team, actor=request_user(request), **data.validated_data
            )
            return Response(
                AnnouncementSerializer(announcement).data, status=status.HTTP_201_CREATED
            )
        page = self.paginate_queryset(team_announcements(team=team))  # type: ignore[arg-type]  # as for members
        return self.get_paginated_response(AnnouncementSerializer(page, many=True).data)  # type: ignore[arg-type]  # as for members


router = Router()
router.register("teams", TeamViewSet, basename="team")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
