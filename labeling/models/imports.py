from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    URL = "url", "Web address"
    CLOUD = "cloud", "Cloud object"
    API = "api", "Posted by API"


class ImportJob(models.Model):
    """One batch of tasks arriving in a project; all of it is stored, or (on any bad line) none."""

    project = models.ForeignKey(
        "labeling.Project", on_delete=models.CASCADE, related_name="imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_kind = models.CharField(max_length=10, choices=ImportSource.choices)
    source = models.CharField(max_length=1000, help_text="File name, URL or object URI.")
    file = models.FileField(upload_to="imports/%Y/%m/", null=True, blank=True)
    file_format = models.CharField(max_length=10, help_text="jsonl, csv or json.")
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_bytes = models.BigIntegerField(null=True, blank=True)
    processed_bytes = models.BigIntegerField(default=0)
    lines_read = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Lines whose external_id already existed."
    )
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, help_text='[{"line", "field", "message"}], the first 1000.'
    )
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} into project {self.project_id} ({self.status})"

    @property
    def progress(self) -> float | None:
        """Share of the input read so far (0..1), when the size is known."""
        if self.status == ImportStatus.SUCCEEDED:
            return 1.0
        if not self.total_bytes:
            return None
        return min(1.0, self.processed_bytes / self.total_bytes)
