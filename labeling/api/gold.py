"""A task's gold answer (managers and the project's customer): read, set or fix, retire."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import BASE_PERMISSIONS
from accounts.selectors import request_user
from labeling import policy
from labeling.models import GoldAnswer, Task
from labeling.services.gold import gold_answer_set, gold_retire


class GoldAnswerSerializer(serializers.ModelSerializer[GoldAnswer]):
    """A gold task's hidden answer: for the project's managers and customer only."""

    class Meta:
        model = GoldAnswer
        fields = ["result", "explanation", "is_retired", "version", "updated_at"]
        read_only_fields = ["is_retired", "version", "updated_at"]


class GoldSerializer(serializers.Serializer[Any]):
    result = serializers.JSONField(help_text="The correct answer, in the project's result format.")
    explanation = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class GoldView(APIView):
    """A task's gold answer: GET it, PUT to make the task gold or fix its answer (scores are
    recomputed), DELETE to retire it (no longer served; past scores stay)."""

    permission_classes = BASE_PERMISSIONS

    def _task(self, request: Request, task_id: int) -> Task:
        # Only managers and the project's customer reach its tasks; anyone else gets "not found".
        return get_object_or_404(policy.tasks_managed_by(request.user), pk=task_id)

    @extend_schema(responses={200: GoldAnswerSerializer})
    def get(self, request: Request, task_id: int) -> Response:
        task = self._task(request, task_id)
        answer = get_object_or_404(GoldAnswer, task=task)
        return Response(GoldAnswerSerializer(answer).data)

    @extend_schema(request=GoldSerializer, responses={200: GoldAnswerSerializer})
    def put(self, request: Request, task_id: int) -> Response:
        task = self._task(request, task_id)
        data = GoldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = gold_answer_set(
            task=task,
            result=data.validated_data["result"],
            explanation=data.validated_data.get("explanation", ""),
            actor=request_user(request),
        )
        return Response(GoldAnswerSerializer(answer).data)

    @extend_schema(request=None, responses={200: GoldAnswerSerializer})
    def delete(self, request: Request, task_id: int) -> Response:
        task = self._task(request, task_id)
        answer = gold_retire(task=task, actor=request_user(request))
        return Response(GoldAnswerSerializer(answer).data)


urlpatterns: list[URLPattern | URLResolver] = [
    path("tasks/<id:task_id>/gold/", GoldView.as_view(), name="task-gold"),
]
