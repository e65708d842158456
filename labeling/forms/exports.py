"""The export form: which rows of a project to export, and in what format."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms

from labeling.export_formats import FORMATS as EXPORT_FORMATS
from labeling.models import ImportJob, Project, TaskType


class ExportForm(forms.Form):
    """Which rows to export and in what format; CoNLL is offered for named-entity projects only."""

    format = forms.ChoiceField(choices=[])
    status = forms.ChoiceField(
        label="Tasks",
        choices=[("final", "Final tasks only"), ("all", "All tasks, final or not")],
        help_text="Dates filter final tasks by completion, all tasks by creation (UTC).",
    )
    since = forms.DateField(
        required=False,
        label="From (inclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        label="Until (exclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    batch = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Import batch", choices=[]
    )

    def __init__(
        self, *args: Any, project: Project, batches: list[ImportJob], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        formats = [f for f in EXPORT_FORMATS if f != "conll" or project.task_type == TaskType.NER]
        cast(forms.ChoiceField, self.fields["format"]).choices = [(f, f.upper()) for f in formats]
        cast(forms.ChoiceField, self.fields["batch"]).choices = [
            ("", "Every batch"),
            *((job.pk, f"#{job.pk} · {job.source[:60]}") for job in batches),
        ]

    def export_request(self) -> tuple[str, dict[str, Any]]:
        """Return the file format and the filters of labeling.services.exports.rows.export_rows."""
        data = self.cleaned_data
        since: date | None = data["since"]
        until: date | None = data["until"]
        return data["format"], {
            "final_only": data["status"] == "final",
            "since": since,
            "until": until,
            "batch_id": data["batch"],
        }
