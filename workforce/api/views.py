from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from accounts.permissions import MfaEnrolled, PolicyAllows
from accounts.policy import Action, users_visible_to
from workforce.api.serializers import PersonSerializer
from workforce.models import AnnotatorProfile
from workforce.selectors import annotator_profiles_for


class PersonFilter(django_filters.FilterSet):
    country = django_filters.CharFilter(lookup_expr="iexact")
    time_zone = django_filters.CharFilter()

    class Meta:
        model = AnnotatorProfile
        fields = ["country", "time_zone"]


class PersonViewSet(viewsets.ReadOnlyModelViewSet[AnnotatorProfile]):
    """The workforce: annotators' profiles and roles (managers and administrators)."""

    serializer_class = PersonSerializer
    permission_classes = [IsAuthenticated, MfaEnrolled, PolicyAllows]
    policy_action = Action.PEOPLE_VIEW
    filterset_class = PersonFilter
    ordering_fields = ["created_at"]
    lookup_field = "user_id"

    def get_queryset(self) -> QuerySet[AnnotatorProfile]:
        return annotator_profiles_for(users_visible_to(self.request.user))
