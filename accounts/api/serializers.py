from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ApiToken, Role, RoleGrant, User
from core.models import AuditEvent


class RoleGrantSerializer(serializers.ModelSerializer[RoleGrant]):
    class Meta:
        model = RoleGrant
        fields = ["role", "level", "granted_at"]
        read_only_fields = ["granted_at"]


class RoleGrantInputSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)
    level = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9)


class UserSerializer(serializers.ModelSerializer[User]):
    roles = RoleGrantSerializer(source="role_grants", many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "is_active", "date_joined", "roles"]


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "is_active",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(
        read_only=True, help_text="The secret key. It is shown only this once."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor_email = serializers.EmailField(
        source="actor.email", read_only=True, allow_null=True, default=None
    )
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "ip_address",
        ]

    def get_target_type(self, event: AuditEvent) -> str:
        return f"{event.target_type.app_label}.{event.target_type.model}"
