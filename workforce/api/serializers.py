from __future__ import annotations

from rest_framework import serializers

from accounts.api.serializers import RoleGrantSerializer
from workforce.models import AnnotatorProfile


class PersonSerializer(serializers.ModelSerializer[AnnotatorProfile]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    country = serializers.CharField(source="country.code", read_only=True)
    roles = RoleGrantSerializer(source="user.role_grants", many=True, read_only=True)

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
            "roles",
            "created_at",
        ]
