"""API of check attempts: training and test items served, answered and scored.

`checks/{id}/attempts/` lists attempts (workforce's records) and starts one (labeling draws the
items); `attempts/{id}/...` serves the person's own attempt: anyone else's is not found. No
response carries an item's expected answer or explanation, except the training feedback on the
answer to that very item.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.policy import Action, can
from accounts.selectors import request_user
from core.errors import NotFound
from labeling.api.throttles import WorkThrottle
from labeling.models import Task
from labeling.services.checks import (
    check_attempt_abandon,
    check_attempt_begin,
    check_item_answer,
    check_item_next,
)
from workforce.api.checks import CheckAttemptSerializer
from workforce.models import CheckAttempt, SkillCheck
from workforce.selectors.checks import attempt_of, attempts_visible_to, skill_checks_list


class CheckItemTaskSerializer(serializers.ModelSerializer[Task]):
    class Meta:
        model = Task
        fields = ["id", "data"]
        read_only_fields = fields


class CheckItemSerializer(serializers.Serializer[Any]):
    """The next item of an attempt: the task's data only."""

    attempt = CheckAttemptSerializer()
    task = CheckItemTaskSerializer(allow_null=True, help_text="Null once every item is answered.")
    position = serializers.IntegerField(help_text="1 for the first item.")
    total = serializers.IntegerField()
    instructions = serializers.DictField(allow_null=True)


class CheckAnswerInputSerializer(serializers.Serializer[Any]):
    task_id = serializers.IntegerField()
    result = serializers.JSONField()


class CheckFeedbackSerializer(serializers.Serializer[Any]):
    score = serializers.FloatField()
    correct = serializers.BooleanField()
    expected = serializers.JSONField()
    explanation = serializers.CharField(allow_blank=True)


class CheckAnsweredSerializer(serializers.Serializer[Any]):
    attempt = CheckAttemptSerializer()
    answered = serializers.IntegerField()
    feedback = CheckFeedbackSerializer(
        allow_null=True,
        help_text="Training only: the expected answer and why. A test says nothing here.",
    )


def _check_for(user: Any, check_id: int) -> SkillCheck:
    checks = skill_checks_list(include_inactive=can(user, Action.PEOPLE_VIEW))
    if not (can(user, Action.WORK_LABEL) or can(user, Action.PEOPLE_VIEW)):
        checks = checks.none()
    return get_object_or_404(checks, pk=check_id)


def _own_attempt(request: Request, attempt_id: int) -> CheckAttempt:
    attempt = attempt_of(user=request_user(request), attempt_id=attempt_id)
    if attempt is None:
        raise NotFound("No attempt of yours has this id.")
    return attempt


class CheckAttemptsView(GenericAPIView[CheckAttempt]):
    """Attempts at a check: yours (managers see everyone's), and starting your next one."""

    permission_classes = BASE_PERMISSIONS
    serializer_class = CheckAttemptSerializer
    queryset = CheckAttempt.objects.none()  # scoped per request below

    @extend_schema(responses=CheckAttemptSerializer(many=True))
    def get(self, request: Request, check_id: int) -> Response:
        check = _check_for(request.user, check_id)
        attempts = attempts_visible_to(viewer=request.user, check=check)
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(CheckAttemptSerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: CheckAttemptSerializer})
    def post(self, request: Request, check_id: int) -> Response:
        """Start your next attempt (or get the one you have open). Refused (409) while a cooldown
        runs (extra.next_attempt_at), when your attempts are used up, or while another is open."""
        check = _check_for(request.user, check_id)
        attempt = check_attempt_begin(user=request_user(request), check=check, now=timezone.now())
        return Response(CheckAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)


class AttemptView(GenericAPIView[CheckAttempt]):
    permission_classes = BASE_PERMISSIONS
    serializer_class = CheckAttemptSerializer
    queryset = CheckAttempt.objects.none()

    @extend_schema(responses=CheckAttemptSerializer)
    def get(self, request: Request, attempt_id: int) -> Response:
        """Your attempt: its state, deadline and, once over, its score."""
        return Response(CheckAttemptSerializer(_own_attempt(request, attempt_id)).data)


class AttemptNextView(GenericAPIView[CheckAttempt]):
    permission_classes = BASE_PERMISSIONS
    serializer_class = CheckItemSerializer
    queryset = CheckAttempt.objects.none()
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(
        responses={
            200: CheckItemSerializer,
            409: OpenApiResponse(
                description='The attempt is over, or its time ran out (code "attempt_timed_out").'
            ),
        }
    )
    def get(self, request: Request, attempt_id: int) -> Response:
        """Your attempt's next unanswered item (the task's data, never its answer)."""
        attempt = _own_attempt(request, attempt_id)
        item = check_item_next(attempt=attempt, now=timezone.now())
        attempt.refresh_from_db()
        body = {
            "attempt": CheckAttemptSerializer(attempt).data,
            "task": {"id": item.task.pk, "data": item.task.data} if item else None,
            "position": item.position if item else len(attempt.item_ids),
            "total": len(attempt.item_ids),
            "instructions": item.instructions if item else None,
        }
        return Response(body)


class AttemptAnswersView(GenericAPIView[CheckAttempt]):
    permission_classes = BASE_PERMISSIONS
    serializer_class = CheckAnswerInputSerializer
    queryset = CheckAttempt.objects.none()
    throttle_classes = [WorkThrottle]
    throttle_scope = "work"

    @extend_schema(request=CheckAnswerInputSerializer, responses={201: CheckAnsweredSerializer})
    def post(self, request: Request, attempt_id: int) -> Response:
        """Answer one item of your attempt. Training answers with the feedback; the last answer
        closes the attempt. After the deadline: 409 "attempt_timed_out"."""
        attempt = _own_attempt(request, attempt_id)
        data = CheckAnswerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = check_item_answer(attempt=attempt, now=timezone.now(), **data.validated_data)
        body = {
            "attempt": CheckAttemptSerializer(outcome.attempt).data,
            "answered": outcome.answered,
            "feedback": outcome.feedback,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class AttemptAbandonView(GenericAPIView[CheckAttempt]):
    permission_classes = BASE_PERMISSIONS
    serializer_class = CheckAttemptSerializer
    queryset = CheckAttempt.objects.none()

    @extend_schema(request=None, responses=CheckAttemptSerializer)
    def post(self, request: Request, attempt_id: int) -> Response:
        """Give up your open attempt; it counts as an attempt."""
        attempt = check_attempt_abandon(
            attempt=_own_attempt(request, attempt_id), now=timezone.now()
        )
        return Response(CheckAttemptSerializer(attempt).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("checks/<id:check_id>/attempts/", CheckAttemptsView.as_view(), name="check-attempts"),
    path("attempts/<id:attempt_id>/", AttemptView.as_view(), name="attempt-detail"),
    path("attempts/<id:attempt_id>/next/", AttemptNextView.as_view(), name="attempt-next"),
    path("attempts/<id:attempt_id>/answers/", AttemptAnswersView.as_view(), name="attempt-answers"),
    path("attempts/<id:attempt_id>/abandon/", AttemptAbandonView.as_view(), name="attempt-abandon"),
]
