from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import AuditEvent


class InspectOnly(admin.ModelAdmin):
    """Rows shown for inspection only: the services that change them also keep their history,
    counters and audit, so nobody adds, edits or deletes them here (every app's admin uses it)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(InspectOnly):
    """The audit trail is append-only: nobody edits or deletes it, not even here."""

    list_display = ["occurred_at", "actor", "action", "target_repr"]
    list_filter = ["action"]
    search_fields = ["target_repr", "actor__email", "action"]
