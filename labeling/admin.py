"""Read-only inspection of the labeling engine for operators; every change goes through the portal or API."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import InspectOnly
from labeling.models import (
    Annotation,
    Customer,
    ExportJob,
    ImportJob,
    Lease,
    Project,
    Task,
    WebhookDelivery,
    WebhookEndpoint,
    projects_with_counts,
)


@admin.register(Customer)
class CustomerAdmin(InspectOnly):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(Project)
class ProjectAdmin(InspectOnly):
    list_display = [
        "name",
        "customer",
        "task_type",
        "pipeline",
        "status",
        "tasks_completed",
        "tasks_total",
    ]
    list_filter = ["status", "task_type", "pipeline"]
    search_fields = ["name", "customer__name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        return projects_with_counts(super().get_queryset(request))


@admin.register(Task)
class TaskAdmin(InspectOnly):
    list_display = ["id", "project", "external_id", "status", "annotations_count", "completed_at"]
    list_filter = ["status"]
    search_fields = ["external_id"]
    list_select_related = ["project"]
    show_full_result_count = False


@admin.register(Lease)
class LeaseAdmin(InspectOnly):
    list_display = [
        "id",
        "project",
        "task_id",
        "user",
        "state",
        "claimed_at",
        "expires_at",
        "active_seconds",
    ]
    list_filter = ["state"]
    list_select_related = ["project", "user"]
    show_full_result_count = False


@admin.register(Annotation)
class AnnotationAdmin(InspectOnly):
    list_display = [
        "id",
        "project",
        "task_id",
        "author",
        "status",
        "submitted_at",
        "active_seconds",
    ]
    list_filter = ["status"]
    list_select_related = ["project", "author"]
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(InspectOnly):
    list_display = [
        "id",
        "project",
        "source_kind",
        "status",
        "tasks_created",
        "duplicates",
        "error_count",
        "created_at",
    ]
    list_filter = ["status", "source_kind"]
    list_select_related = ["project"]


@admin.register(ExportJob)
class ExportJobAdmin(InspectOnly):
    list_display = ["id", "project", "file_format", "status", "rows_written", "created_at"]
    list_filter = ["status", "file_format"]
    list_select_related = ["project"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(InspectOnly):
    list_display = ["url", "customer", "is_active", "created_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(InspectOnly):
    list_display = [
        "id",
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
