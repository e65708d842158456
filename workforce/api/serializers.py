from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.api.serializers import RoleGrantSerializer
from workforce.models import AnnotatorProfile, AnnotatorStatus, Skill, SkillLevel


class SkillSerializer(serializers.ModelSerializer[Skill]):
    class Meta:
        model = Skill
        fields = ["id", "slug", "name", "description"]
        read_only_fields = ["id"]


class SkillLevelSerializer(serializers.ModelSerializer[SkillLevel]):
    skill: serializers.SlugRelatedField[Skill] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = SkillLevel
        fields = ["skill", "level", "granted_at"]
        read_only_fields = fields


class SkillLevelInputSerializer(serializers.Serializer[Any]):
    skill = serializers.SlugRelatedField(slug_field="slug", queryset=Skill.objects.all())
    level = serializers.IntegerField(min_value=1, max_value=10)


class StatusInputSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=AnnotatorStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class TrustInputSerializer(serializers.Serializer[Any]):
    is_trusted = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PersonSerializer(serializers.ModelSerializer[AnnotatorProfile]):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    country = serializers.CharField(source="country.code", read_only=True)
    roles = RoleGrantSerializer(source="user.role_grants", many=True, read_only=True)
    skills = SkillLevelSerializer(source="user.skill_levels", many=True, read_only=True)

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
            "status",
            "is_trusted",
            "roles",
            "skills",
            "created_at",
        ]
