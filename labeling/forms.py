"""Forms of the labeling portal pages: they check the shape of the input; the services judge it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from core.errors import QuorumError, ValidationFailed
from core.forms import form_add_error
from labeling.errors import ProjectLocked
from labeling.exports import FORMATS as EXPORT_FORMATS
from labeling.models import (
    Customer,
    ImportJob,
    Pipeline,
    Project,
    ProjectStatus,
    QueueOrder,
    TaskStatus,
    TaskType,
)
from labeling.schema import PRESETS
from labeling.services.imports import FORMATS as IMPORT_FORMATS
from workforce.models import Skill

LABELS_HELP = (
    "One label per line: <code>name</code>, or <code>name, #colour, hotkey</code>, "
    "e.g. <code>positive, #2ca02c, 1</code>. Colour and hotkey are optional. "
    "Leave empty to use the preset's labels."
)
PRESET_LABELS = {"sentiment": "Sentiment (positive / neutral / negative)"}
# A service names a bad label by its place in the list, e.g. "labels[2].hotkey".
_LABEL_ENTRY = re.compile(r"^labels\[(\d+)\]")
_LOCKED_HELP = "Fixed: the project has tasks."


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


def _label_line(label: dict[str, Any]) -> str:
    parts = [str(label.get("name", "")), str(label.get("color", "") or "")]
    if label.get("hotkey"):
        parts.append(str(label["hotkey"]))
    return ", ".join(part for part in parts if part)


class ProjectForm(forms.Form):
    """A project's settings, for creating one or (with `project`) changing one.

    `customers` is given to staff, who choose the customer; a customer's users create for their
    own, so they get no customer field. Editing has no customer, preset or instructions field.
    """

    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), empty_label="Choose…")
    name = forms.CharField(max_length=150)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="For your own team."
    )
    preset = forms.ChoiceField(
        required=False,
        choices=[
            ("", "None: choose a task type"),
            *((p, PRESET_LABELS.get(p, p)) for p in PRESETS),
        ],
        help_text="A ready-made task type and labels; it takes the place of the task type.",
    )
    task_type = forms.ChoiceField(
        required=False,
        choices=[("", "Choose… (not needed with a preset)"), *TaskType.choices],
    )
    labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=LABELS_HELP,
    )
    pipeline = forms.ChoiceField(choices=Pipeline.choices, initial=Pipeline.STANDARD)
    overlap = forms.IntegerField(
        min_value=1,
        max_value=50,
        initial=1,
        help_text="Independent annotations per task: 1 for standard, 2 or more for consensus.",
    )
    max_overlap = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        label="Max overlap",
        help_text="Consensus only: at most this many annotations per task. Empty means the overlap.",
    )
    lease_minutes = forms.IntegerField(
        min_value=1,
        max_value=24 * 60,
        initial=10,
        help_text="How long a person holds a task before it goes back to the queue.",
    )
    max_leases_per_person = forms.IntegerField(
        min_value=1, max_value=20, initial=1, help_text="Tasks one person may hold at once."
    )
    priority = forms.IntegerField(
        initial=0, help_text="Projects with a higher priority are offered first."
    )
    queue_order = forms.ChoiceField(choices=QueueOrder.choices, initial=QueueOrder.RANDOM)
    required_skill = forms.ModelChoiceField(
        queryset=Skill.objects.all(),
        required=False,
        empty_label="None: anyone active may work on it",
    )
    required_level = forms.IntegerField(
        min_value=1, max_value=10, initial=1, help_text="The lowest level of the required skill."
    )
    status = forms.ChoiceField(choices=ProjectStatus.choices, initial=ProjectStatus.DRAFT)
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. Annotators see it beside each task; you can publish new versions later.",
    )

    def __init__(
        self,
        *args: Any,
        customers: QuerySet[Customer] | None = None,
        project: Project | None = None,
        **kwargs: Any,
    ) -> None:
        self.project = project
        if project is not None:
            kwargs.setdefault("initial", self.initial_for(project))
        super().__init__(*args, **kwargs)
        self.label_lines: list[int] = []
        if customers is None or project is not None:
            del self.fields["customer"]
        else:
            cast(forms.ModelChoiceField, self.fields["customer"]).queryset = customers
        if project is not None:
            for field in ("preset", "instructions"):
                del self.fields[field]
            self.fields["task_type"].required = True
            _choice_field(self, "task_type").choices = TaskType.choices
            self.fields["labels"].help_text = LABELS_HELP.replace(
                "Leave empty to use the preset's labels.",
                "Labels already used in annotations cannot be removed or renamed.",
            )
            if project.tasks_total:
                for field in ("task_type", "pipeline", "overlap", "max_overlap"):
                    self.fields[field].disabled = True
                    self.fields[field].help_text = _LOCKED_HELP

    @staticmethod
    def initial_for(project: Project) -> dict[str, Any]:
        return {
            "name": project.name,
            "description": project.description,
            "task_type": project.task_type,
            "labels": "\n".join(_label_line(label) for label in project.labels),
            "pipeline": project.pipeline,
            "overlap": project.overlap,
            "max_overlap": project.max_overlap,
            "lease_minutes": max(1, round(project.lease_seconds / 60)),
            "max_leases_per_person": project.max_leases_per_person,
            "priority": project.priority,
            "queue_order": project.queue_order,
            "required_skill": project.required_skill_id,
            "required_level": project.required_level,
            "status": project.status,
        }

    def clean_labels(self) -> list[dict[str, str]]:
        """Read one label per line; name each bad line by its number."""
        text: str = self.cleaned_data["labels"]
        labels: list[dict[str, str]] = []
        errors: list[str] = []
        self.label_lines = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split(",")]
            if len(parts) > 3:
                errors.append(
                    f"Line {number}: too many commas; write name, #colour, hotkey "
                    "(a label name cannot contain a comma)."
                )
                continue
            name, color, hotkey = (*parts, "", "")[:3]
            if not name:
                errors.append(f"Line {number}: the label has no name.")
                continue
            label = {"name": name}
            if color:
                label["color"] = color
            if hotkey:
                label["hotkey"] = hotkey
            labels.append(label)
            self.label_lines.append(number)
        if errors:
            raise forms.ValidationError(errors)
        return labels

    def project_settings(self) -> dict[str, Any]:
        """Return the settings for project_create/project_update (for an edit, only what changed)."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            "description": data["description"],
            "labels": data["labels"],
            "pipeline": data["pipeline"],
            "overlap": data["overlap"],
            "lease_seconds": data["lease_minutes"] * 60,
            "max_leases_per_person": data["max_leases_per_person"],
            "priority": data["priority"],
            "queue_order": data["queue_order"],
            "required_skill": data["required_skill"],
            "required_level": data["required_level"],
            "status": data["status"],
        }
        if data["max_overlap"] is not None:
            values["max_overlap"] = data["max_overlap"]
        elif data["pipeline"] == Pipeline.CONSENSUS:
            values["max_overlap"] = data["overlap"]
        if self.project is None:
            if not data["labels"]:
                del values["labels"]  # the preset's labels, or the service says some are needed
            return values
        values["name"] = data["name"]
        values["task_type"] = data["task_type"]
        # Send only what the person changed: minutes are a rounded view of the stored seconds.
        field_of = {"lease_seconds": "lease_minutes"}
        return {k: v for k, v in values.items() if field_of.get(k, k) in self.changed_data}

    def add_service_error(self, error: QuorumError) -> None:
        """Show a service error next to the field it names; a bad label names its line."""
        if isinstance(error, ProjectLocked):
            fields = [f for f in error.extra.get("fields", []) if f in self.fields]
            for field in fields:
                self.add_error(field, error.message)
            if not fields:
                self.add_error(None, error.message)
            return
        if isinstance(error, ValidationFailed):
            renamed: dict[str, list[str]] = {}
            for field, messages in error.extra.get("fields", {}).items():
                target, prefix = field, ""
                if match := _LABEL_ENTRY.match(field):
                    index = int(match.group(1))
                    target = "labels"
                    if index < len(self.label_lines):
                        prefix = f"Line {self.label_lines[index]}: "
                elif field == "lease_seconds":
                    target = "lease_minutes"
                renamed.setdefault(target, []).extend(prefix + m for m in messages)
            error = ValidationFailed(error.message, fields=renamed)
        form_add_error(self, error)


class ProjectFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ProjectStatus.choices])


class ProjectStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ProjectStatus.choices)


class InstructionsForm(forms.Form):
    instructions = forms.CharField(
        label="New version (Markdown)",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Publishing makes a new version; annotators see it from their next task.",
    )


_IMPORT_FORMAT_CHOICES = [("", "From the file name"), *((f, f.upper()) for f in IMPORT_FORMATS)]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="JSONL, CSV or a JSON array; every line is checked before any is kept.",
    )
    format = forms.ChoiceField(required=False, choices=_IMPORT_FORMAT_CHOICES)


class ImportLocationForm(forms.Form):
    url = forms.CharField(
        label="URL or object URI",
        max_length=1000,
        help_text="https://…, s3://bucket/key, gs://bucket/key or azure://account/container/blob.",
    )
    format = forms.ChoiceField(required=False, choices=_IMPORT_FORMAT_CHOICES)


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
        _choice_field(self, "format").choices = [(f, f.upper()) for f in formats]
        _choice_field(self, "batch").choices = [
            ("", "Every batch"),
            *((job.pk, f"#{job.pk} · {job.source[:60]}") for job in batches),
        ]

    def export_request(self) -> tuple[str, dict[str, Any]]:
        """Return the file format and the filters of labeling.services.exports.export_rows."""
        data = self.cleaned_data
        since: date | None = data["since"]
        until: date | None = data["until"]
        return data["format"], {
            "final_only": data["status"] == "final",
            "since": since,
            "until": until,
            "batch_id": data["batch"],
        }


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TaskStatus.choices])
    batch = forms.IntegerField(
        required=False, min_value=1, label="Import batch", widget=forms.NumberInput()
    )
