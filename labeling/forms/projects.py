"""Forms of the project pages: settings, filter, status, instructions. They check the shape of the input; the services judge it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.forms import BoundField
from django.utils import timezone

from core.errors import QuorumError, ValidationFailed
from core.forms import form_add_error
from kit.label_schema import PRESETS
from labeling.errors import ProjectLocked
from labeling.models import (
    AggregationMethod,
    Customer,
    Pipeline,
    Project,
    ProjectStatus,
    QueueOrder,
    TaskType,
)
from labeling.models.projects import ProjectPurpose, TieRule
from labeling.services.projects import MAX_REVIEW_LEVELS, STANDINGS
from workforce.models import Skill, SkillCheck, SkillComparator, Team

LABELS_HELP = (
    "One label per line: <code>name</code>, or <code>name, #colour, hotkey</code>, "
    "e.g. <code>positive, #2ca02c, 1</code>. Colour and hotkey are optional. "
    "Leave empty to use the preset's labels."
)
PRESET_LABELS = {"sentiment": "Sentiment (positive / neutral / negative)"}
# A service names a bad label by its place in the list, e.g. "labels[2].hotkey".
_LABEL_ENTRY = re.compile(r"^labels\[(\d+)\]")
# ... and a review level's rate by its place and the standing, e.g. "review_levels[0].rates.regular".
_REVIEW_RATE = re.compile(r"^review_levels\[(\d+)\]\.rates\.(\w+)$")
_REVIEW_ENTRY = re.compile(r"^review_levels\[(\d+)\]")
_LOCKED_HELP = "Fixed: the project has tasks."
# A requirement line of the project form: "skill-slug >= 2" or "not skill-slug".
_AT_LEAST_LINE = re.compile(r"^([\w-]+)\s*>=\s*(\d+)$")
_LACKS_LINE = re.compile(r"^not\s+([\w-]+)$", re.IGNORECASE)
_REQUIREMENT_ENTRY = re.compile(r"^requirements\[(\d+)\]")
REQUIREMENTS_HELP = (
    "One per line: <code>skill-slug &gt;= 2</code> (at least level 2 of that skill) or "
    "<code>not skill-slug</code> (has not got it). Empty: no further requirements."
)
DEFAULT_GOLD_RATES = {"probation": 0.2, "regular": 0.05, "trusted": 0.05}
_PERCENT_ERROR = "A percentage from 0 to 100."


def review_field(level: int, standing: str) -> str:
    """The form field of a review level's sampling rate for one standing (levels from 1)."""
    return f"review_{level}_{standing}"


def gold_field(standing: str) -> str:
    return f"gold_{standing}"


def _percent_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        required=False,
        label=label,
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


def _percent(share: float) -> str:
    """Show a share (0..1) as a percentage without float noise: 0.07 -> "7"."""
    return format(round(share * 100, 2), "g")


def _share(percent: Decimal) -> float:
    return float(percent) / 100


def _utc(moment: datetime | None) -> datetime | None:
    """The form's deadline as a time in UTC: the field is labelled UTC whatever the site's zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment.astimezone(UTC)


def _label_line(label: dict[str, Any]) -> str:
    parts = [str(label.get("name", "")), str(label.get("color", "") or "")]
    if label.get("hotkey"):
        parts.append(str(label["hotkey"]))
    return ", ".join(part for part in parts if part)


class ProjectForm(forms.Form):
    """A project's settings, for creating one or (with `project`) changing one.

    `customers` is given to staff, who choose the customer; a customer's users create for their
    own, so they get no customer field. Editing has no customer, preset or instructions field.
    `teams` and `checks` are given to staff too: the team limit, and the purpose (work, training
    or test) with the skill check a training or test project holds; customers get neither.
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
    queue_order = forms.ChoiceField(
        choices=[("", "By pipeline: depth-first for consensus, else random"), *QueueOrder.choices],
        required=False,
        help_text="Depth-first finishes the tasks people have started before it begins new ones. "
        "Uncertain first (dynamic overlap only) does too, and among the started tasks that ask "
        "for one more annotator it offers the least certain first; none waits behind newer work "
        "for more than 10 minutes.",
    )
    required_skill = forms.ModelChoiceField(
        queryset=Skill.objects.all(),
        required=False,
        empty_label="None: anyone active may work on it",
    )
    required_level = forms.IntegerField(
        min_value=1, max_value=10, initial=1, help_text="The lowest level of the required skill."
    )
    requirements = forms.CharField(
        required=False,
        label="Further requirements",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=REQUIREMENTS_HELP,
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(),
        required=False,
        label="Limited to teams",
        help_text="Only members of these teams get its work. None chosen: open to every team.",
    )
    purpose = forms.ChoiceField(
        choices=ProjectPurpose.choices,
        initial=ProjectPurpose.WORK,
        required=False,  # not given: a new project is for work, an edit keeps the purpose
        help_text="A training module or a qualification test holds the items of one skill "
        "check of its kind; its attempts serve them, never the queue.",
    )
    skill_check = forms.ModelChoiceField(
        queryset=SkillCheck.objects.none(),
        required=False,
        label="Skill check",
        empty_label="None (a work project)",
        help_text="Training and test projects: the check whose items this project holds.",
    )
    status = forms.ChoiceField(choices=ProjectStatus.choices, initial=ProjectStatus.DRAFT)
    deadline = forms.DateTimeField(
        required=False,
        label="Deadline (UTC)",
        help_text="Optional: when every task should be final, e.g. 2026-12-31 18:00 (UTC). "
        "The dashboards show the project as late when its ETA at the current pace is later.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. Annotators see it beside each task; you can publish new versions later.",
    )
    max_reworks = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=10,
        initial=2,
        label="Reworks",
        help_text="How often a rejected author may redo a task before it goes to someone else.",
    )
    gold_warmup = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        initial=5,
        label="Gold warm-up",
        help_text="Each person's first tasks in the project are all gold: this many.",
    )
    gold_feedback = forms.BooleanField(
        required=False,
        label="Training mode: show the expected answer right after each gold task",
    )
    aggregation_method = forms.ChoiceField(
        required=False,
        choices=AggregationMethod.choices,
        initial=AggregationMethod.MAJORITY,
        label="Aggregation",
        help_text="Consensus: how the annotations of a task become its result. Weighted vote "
        "and Dawid-Skene apply to single-label classification.",
    )
    confidence_threshold = _percent_field(
        "Confidence threshold (%)",
        "Consensus, single-label: add annotators (up to the max overlap) until the result is "
        "this likely, e.g. 95. Above 50; empty for a fixed overlap.",
    )
    tie_rule = forms.ChoiceField(
        required=False,
        choices=TieRule.choices,
        initial=TieRule.ESCALATE,
        label="Tie rule",
        help_text="Consensus: what a tied vote does. Escalate asks one more annotator while under "
        "the max overlap, then sends it to review; review sends it to a reviewer at once; only "
        "leave unlabelled ends a task without a label (reported as a tie in exports).",
    )
    reaggregate_final = forms.BooleanField(
        required=False,
        label="Re-aggregate final tasks whenever the estimates refresh",
        help_text="Consensus with weighted vote, Dawid-Skene or a threshold: when the people's "
        "estimates refresh, tasks in review and final in the last days are re-aggregated; with "
        "this on, older final tasks too (each change is recorded and sent as task.updated).",
    )

    def __init__(
        self,
        *args: Any,
        customers: QuerySet[Customer] | None = None,
        project: Project | None = None,
        teams: QuerySet[Team] | None = None,
        checks: QuerySet[SkillCheck] | None = None,
        **kwargs: Any,
    ) -> None:
        self.project = project
        if project is not None:
            kwargs.setdefault("initial", self.initial_for(project))
        super().__init__(*args, **kwargs)
        for level in range(1, MAX_REVIEW_LEVELS + 1):
            for standing in STANDINGS:
                self.fields[review_field(level, standing)] = _percent_field(
                    f"Review level {level}, {standing} (%)"
                )
        for standing in STANDINGS:
            self.fields[gold_field(standing)] = _percent_field(
                f"Gold rate, {standing} (%)",
            )
            self.fields[gold_field(standing)].initial = _percent(DEFAULT_GOLD_RATES[standing])
        self.label_lines: list[int] = []
        self.requirement_lines: list[int] = []
        if teams is None:  # customers' users do not choose teams
            del self.fields["teams"]
        else:
            cast(forms.ModelMultipleChoiceField, self.fields["teams"]).queryset = teams
        if checks is None:  # customers' users make work projects only
            del self.fields["purpose"]
            del self.fields["skill_check"]
        else:
            cast(forms.ModelChoiceField, self.fields["skill_check"]).queryset = checks
        if customers is None or project is not None:
            del self.fields["customer"]
        else:
            cast(forms.ModelChoiceField, self.fields["customer"]).queryset = customers
        if project is not None:
            for field in ("preset", "instructions"):
                del self.fields[field]
            self.fields["task_type"].required = True
            cast(forms.ChoiceField, self.fields["task_type"]).choices = TaskType.choices
            self.fields["labels"].help_text = LABELS_HELP.replace(
                "Leave empty to use the preset's labels.",
                "Labels already used in annotations cannot be removed or renamed.",
            )
            if project.tasks_total:
                for field in ("task_type", "pipeline", "overlap", "max_overlap", "purpose"):
                    if field not in self.fields:
                        continue
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
            "teams": [team.pk for team in project.teams.all()],
            "requirements": "\n".join(
                f"not {slug}" if comparator == SkillComparator.LACKS else f"{slug} >= {level}"
                for slug, comparator, level in project.requirements.order_by("pk").values_list(
                    "skill__slug", "comparator", "level"
                )
            ),
            "purpose": project.purpose,
            "skill_check": project.skill_check_id,
            "status": project.status,
            "deadline": project.deadline.astimezone(UTC).replace(tzinfo=None)
            if project.deadline is not None
            else None,
            "max_reworks": project.max_reworks,
            "gold_warmup": project.gold_warmup,
            "gold_feedback": project.gold_feedback,
            "aggregation_method": project.aggregation_method,
            "confidence_threshold": _percent(project.confidence_threshold)
            if project.confidence_threshold is not None
            else None,
            "tie_rule": project.tie_rule,
            "reaggregate_final": project.reaggregate_final,
            **{
                gold_field(standing): _percent(float(rate))
                for standing, rate in (project.gold_rates or {}).items()
                if standing in STANDINGS
            },
            **{
                review_field(index, standing): _percent(float(rate))
                for index, spec in enumerate(project.review_levels or [], start=1)
                for standing, rate in spec.get("rates", {}).items()
                if standing in STANDINGS and index <= MAX_REVIEW_LEVELS
            },
        }

    def main_fields(self) -> list[BoundField]:
        """The fields shown before the quality settings."""
        return [self[name] for name in self.fields if name not in self._quality_names()]

    def review_rows(self) -> list[tuple[int, list[BoundField]]]:
        """The review levels table: (level, its rate fields by standing) for each level."""
        return [
            (level, [self[review_field(level, standing)] for standing in STANDINGS])
            for level in range(1, MAX_REVIEW_LEVELS + 1)
        ]

    def gold_rate_fields(self) -> list[BoundField]:
        return [self[gold_field(standing)] for standing in STANDINGS]

    def _quality_names(self) -> set[str]:
        return {
            "max_reworks",
            "gold_warmup",
            "gold_feedback",
            "aggregation_method",
            "confidence_threshold",
            "tie_rule",
            "reaggregate_final",
            *(gold_field(s) for s in STANDINGS),
            *(
                review_field(level, s)
                for level in range(1, MAX_REVIEW_LEVELS + 1)
                for s in STANDINGS
            ),
        }

    def clean_requirements(self) -> list[dict[str, Any]]:
        """Read the requirement lines as the services take them; the services judge them."""
        parsed: list[dict[str, Any]] = []
        self.requirement_lines = []
        for number, line in enumerate(str(self.cleaned_data["requirements"]).splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            if match := _AT_LEAST_LINE.match(line):
                parsed.append(
                    {
                        "skill": match.group(1),
                        "comparator": SkillComparator.AT_LEAST.value,
                        "level": int(match.group(2)),
                    }
                )
            elif match := _LACKS_LINE.match(line):
                parsed.append({"skill": match.group(1), "comparator": SkillComparator.LACKS.value})
            else:
                raise forms.ValidationError(
                    f"Line {number}: write “skill-slug >= 2” or “not skill-slug”."
                )
            self.requirement_lines.append(number)
        return parsed

    def access_settings(self) -> dict[str, Any]:
        """The team limit and requirements for `project_access_set` (for an edit, only what
        changed): `teams` as teams, `requirements` as the services' raw input."""
        changed = set(self.changed_data) if self.project is not None else set(self.fields)
        values: dict[str, Any] = {}
        if "teams" in self.fields and "teams" in changed:
            values["teams"] = list(self.cleaned_data["teams"])
        if "requirements" in changed:
            values["requirements"] = self.cleaned_data["requirements"]
        return values

    def clean_confidence_threshold(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["confidence_threshold"]
        if value is not None and value <= 50:
            raise forms.ValidationError("Above 50 (a coin flip), at most 100; or empty.")
        return value

    def clean(self) -> dict[str, Any] | None:
        """Review levels are used from level 1 on without a gap; a used level gives every rate."""
        cleaned = super().clean()
        used = [
            level
            for level, fields in self.review_rows()
            if any(self.data.get(field.html_name, "") not in ("", None) for field in fields)
        ]
        for level in range(1, max(used, default=0) + 1):
            names = [review_field(level, standing) for standing in STANDINGS]
            if level not in used:
                self.add_error(names[0], f"Fill level {level} before level {max(used)}.")
                continue
            for name in names:
                if name not in self.errors and self.cleaned_data.get(name) is None:
                    self.add_error(name, _PERCENT_ERROR)
        return cleaned

    def review_levels(self) -> list[dict[str, Any]]:
        """The review levels as project_update takes them, from the table's filled rows."""
        levels = []
        for level, fields in self.review_rows():
            rates = {
                standing: self.cleaned_data.get(field.name)
                for standing, field in zip(STANDINGS, fields, strict=True)
            }
            if all(rate is None for rate in rates.values()):
                break
            levels.append(
                {
                    "level": level,
                    "rates": {s: _share(r) for s, r in rates.items() if r is not None},
                }
            )
        return levels

    def gold_rates(self) -> dict[str, float]:
        """The gold shares by standing; an empty cell keeps the current (or default) share."""
        base = dict(self.project.gold_rates) if self.project else dict(DEFAULT_GOLD_RATES)
        for standing in STANDINGS:
            percent = self.cleaned_data.get(gold_field(standing))
            if percent is not None:
                base[standing] = _share(percent)
        return base

    def _quality_settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {
            "review_levels": self.review_levels(),
            "gold_rates": self.gold_rates(),
            "gold_feedback": data["gold_feedback"],
            "reaggregate_final": data["reaggregate_final"],
            "confidence_threshold": _share(data["confidence_threshold"])
            if data["confidence_threshold"] is not None
            else None,
        }
        # An emptied number or choice keeps what the project has (or the default).
        for name in ("max_reworks", "gold_warmup", "aggregation_method", "tie_rule"):
            if data[name] not in (None, ""):
                values[name] = data[name]
        return values

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
            "required_skill": data["required_skill"],
            "required_level": data["required_level"],
            "status": data["status"],
            "deadline": _utc(data["deadline"]),
        }
        if "purpose" in self.fields:  # staff only; the service judges purpose and check together
            values["purpose"] = data["purpose"] or (
                self.project.purpose if self.project is not None else ProjectPurpose.WORK.value
            )
            values["skill_check"] = data["skill_check"]
        if data["queue_order"]:  # else the service's default for the pipeline
            values["queue_order"] = data["queue_order"]
        if data["max_overlap"] is not None:
            values["max_overlap"] = data["max_overlap"]
        elif data["pipeline"] == Pipeline.CONSENSUS:
            values["max_overlap"] = data["overlap"]
        values.update(self._quality_settings())
        if self.project is None:
            if not data["labels"]:
                del values["labels"]  # the preset's labels, or the service says some are needed
            return values
        values["name"] = data["name"]
        values["task_type"] = data["task_type"]
        # Send only what the person changed: minutes are a rounded view of the stored seconds,
        # and the review levels and gold rates are each several cells.
        changed = set(self.changed_data)
        fields_of = {
            "lease_seconds": {"lease_minutes"},
            "review_levels": {n for n in changed if n.startswith("review_")},
            "gold_rates": {gold_field(s) for s in STANDINGS},
        }
        return {k: v for k, v in values.items() if fields_of.get(k, {k}) & changed}

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
                target, prefix = self._field_of(field)
                if target is None:
                    for message in messages:
                        self.add_error(None, prefix + message)
                    continue
                renamed.setdefault(target, []).extend(prefix + m for m in messages)
            if not renamed and self.non_field_errors():
                return
            error = ValidationFailed(error.message, fields=renamed)
        form_add_error(self, error)

    def _field_of(self, path: str) -> tuple[str | None, str]:
        """The form field a service's field path belongs to (None: the whole form), and a prefix
        that says which part of it is meant."""
        if match := _LABEL_ENTRY.match(path):
            index = int(match.group(1))
            if index < len(self.label_lines):
                return "labels", f"Line {self.label_lines[index]}: "
            return "labels", ""
        if match := _REQUIREMENT_ENTRY.match(path):
            index = int(match.group(1))
            if index < len(self.requirement_lines):
                return "requirements", f"Line {self.requirement_lines[index]}: "
            return "requirements", ""
        if match := _REVIEW_RATE.match(path):
            name = review_field(int(match.group(1)) + 1, match.group(2))
            if name in self.fields:
                return name, ""
        if match := _REVIEW_ENTRY.match(path):
            return None, f"Review level {int(match.group(1)) + 1}: "
        if path == "review_levels":
            return None, "Review levels: "
        if path.startswith("gold_rates."):
            name = gold_field(path.removeprefix("gold_rates."))
            if name in self.fields:
                return name, ""
        if path.startswith("gold_rates"):
            return None, "Gold rates: "
        if path == "lease_seconds":
            return "lease_minutes", ""
        return path, ""


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
