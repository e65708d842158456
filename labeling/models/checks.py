"""The answers given in a skill check's attempt (workforce.CheckAttempt), item by item."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class CheckAnswer(models.Model):
    """One answer to one item of an attempt, scored at once against the item's hidden answer."""

    attempt = models.ForeignKey(
        "workforce.CheckAttempt", on_delete=models.CASCADE, related_name="answers"
    )
    task = models.ForeignKey("labeling.Task", on_delete=models.CASCADE, related_name="+")
    result = models.JSONField()
    score = models.FloatField(help_text="0..1, by the same scorer as gold tasks.")
    detail = models.JSONField(default=dict, blank=True)
    answered_at = models.DateTimeField(default=timezone.now)
    active_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempt", "answered_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "task"], name="labeling_checkanswer_once_per_item"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=1),
                name="labeling_checkanswer_score_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer to task {self.task_id} in attempt {self.attempt_id}"
