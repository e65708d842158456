"""API of a manager's message to a person of their teams.

`POST /api/v1/people/{id}/message/` with a subject and a body; the person finds it in their
notifications (kind "message"). A person outside the manager's teams is not found (404);
administrators reach everyone. At most `QUORUM_MANAGER_MESSAGES_PER_MINUTE` a minute (429).
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
from accounts.policy import Action, require
from accounts.selectors import request_user
from workforce.api.notifications import NotificationSerializer
from workforce.selectors.teams import people_managed_by
from workforce.services.messages import (
    MESSAGE_BODY_MAX,
    MESSAGE_SUBJECT_MAX,
    person_message_send,
)


class MessageSerializer(serializers.Serializer[Any]):
    # Lengths are checked by the service, which names the field as the portal shows it.
    subject = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"At most {MESSAGE_SUBJECT_MAX}."
    )
    body = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"At most {MESSAGE_BODY_MAX}."
    )


class PersonMessageView(APIView):
    """Send a person of the manager's teams a message (audited; e-mailed if they want it)."""

    permission_classes = BASE_PERMISSIONS

    @extend_schema(
        request=MessageSerializer,
        responses={
            201: NotificationSerializer,
            429: OpenApiResponse(
                description='More messages this minute than the limit (code "rate_limited", '
                "extra.limit_per_minute); send it again in the next minute."
            ),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        require(request.user, Action.PEOPLE_MANAGE)
        person = get_object_or_404(people_managed_by(request.user), pk=user_id)
        data = MessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notification = person_message_send(
            actor=request_user(request), person=person, **data.validated_data
        )
        return Response(NotificationSerializer(notification).data, status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern | URLResolver] = [
    path("people/<id:user_id>/message/", PersonMessageView.as_view(), name="person-message"),
]
