from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.selectors import request_user
from workforce.models import AnnotatorProfile, TermsAcceptance, TermsVersion
from workforce.services import terms_publish


@admin.register(TermsVersion)
class TermsVersionAdmin(admin.ModelAdmin):
    """Publish new terms here; a published version is never edited, so acceptances stay meaningful."""

    list_display = ["version", "title", "published_at"]
    fields = ["version", "title", "body"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TermsVersion, form: Any, change: bool) -> None:
        published = terms_publish(
            version=obj.version, title=obj.title, body=obj.body, actor=request_user(request)
        )
        obj.pk = published.pk
        obj.published_at = published.published_at


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "country", "time_zone", "created_at"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "created_at", "updated_at"]


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(admin.ModelAdmin):
    list_display = ["user", "terms", "accepted_at", "ip_address"]
    readonly_fields = ["user", "terms", "accepted_at", "ip_address"]
