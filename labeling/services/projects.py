"""Every write to customers, projects and their instructions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Role, User
from accounts.selectors import user_roles
from core.audit import audit_record, snapshot
from core.errors import Conflict, ValidationFailed
from kit.label_schema import PRESETS, SchemaError, normalise_labels
from labeling.errors import ProjectLocked
from labeling.events import project_created_send
from labeling.markdown import render_markdown
from labeling.models import (
    AggregationMethod,
    Customer,
    CustomerMember,
    InstructionVersion,
    Pipeline,
    Project,
    ProjectRequirement,
    ProjectStatus,
    QueueOrder,
    TaskType,
)
from labeling.models.projects import ProjectPurpose, TieRule
from labeling.queue_order import queue_order_default
from workforce.models import Skill, SkillCheck, SkillComparator, Team

PROJECT_FIELDS = [
    "name",
    "description",
    "task_type",
    "preset",
    "labels",
    "max_labels",
    "allow_overlapping_spans",
    "pipeline",
    "overlap",
    "max_overlap",
    "lease_seconds",
    "idle_cap_seconds",
    "max_leases_per_person",
    "priority",
    "queue_order",
    "required_skill",
    "required_level",
    "status",
    "review_levels",
    "max_reworks",
    "gold_warmup",
    "gold_rates",
    "gold_feedback",
    "aggregation_method",
    "confidence_threshold",
    "tie_rule",
    "reaggregate_final",
    "purpose",
    "skill_check",
    "deadline",
]
STANDINGS = ("probation", "regular", "trusted")
MAX_REVIEW_LEVELS = 5
# Fields that shape tasks, slots or results: fixed once a project has tasks.
_STRUCTURAL = {"task_type", "pipeline", "overlap", "max_overlap", "purpose"}
_LABEL_FIELDS = {"labels", "max_labels", "allow_overlapping_spans"}


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", fields={field: [message]})


@transaction.atomic
def customer_create(*, name: str, slug: str = "", actor: User | None) -> Customer:
    """Create a customer organisation; the slug defaults to one made from the name."""
    name = name.strip()
    if not name:
        raise _fail("name", "A customer needs a name.")
    slug = slugify(slug or name)[:60]
    if Customer.objects.filter(slug=slug).exists():
        raise _fail("slug", f"The slug {slug!r} is taken.")
    customer = Customer.objects.create(name=name, slug=slug)
    audit_record(
        actor=actor,
        action="customer.created",
        target=customer,
        after=snapshot(customer, ["name", "slug"]),
    )
    return customer


@transaction.atomic
def customer_member_add(*, customer: Customer, user: User, actor: User | None) -> CustomerMember:
    """Make `user` act for `customer` (and give them the customer role)."""
    existing = CustomerMember.objects.filter(user=user).first()
    if existing is not None:
        if existing.customer_id == customer.pk:
            return existing
        raise Conflict(f"{user.email} already acts for another customer.", extra={"field": "user"})
    member = CustomerMember.objects.create(customer=customer, user=user)
    if Role.CUSTOMER not in user_roles(user):
        from accounts.services import role_grant

        role_grant(user=user, role=Role.CUSTOMER, actor=actor)
    audit_record(
        actor=actor, action="customer.member_added", target=customer, after={"user": user.pk}
    )
    return member


def _clean_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Check project settings together; raise ValidationFailed naming every bad field."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not str(values.get("name", "")).strip():
        bad("name", "A project needs a name.")
    if values["task_type"] not in TaskType.values:
        bad("task_type", f"Use one of: {', '.join(TaskType.values)}.")
    if values["pipeline"] not in Pipeline.values:
        bad("pipeline", f"Use one of: {', '.join(Pipeline.values)}.")
    if values["queue_order"] not in QueueOrder.values:
        bad("queue_order", f"Use one of: {', '.join(QueueOrder.values)}.")
    if values["status"] not in ProjectStatus.values:
        bad("status", f"Use one of: {', '.join(ProjectStatus.values)}.")
    overlap, max_overlap = values["overlap"], values["max_overlap"]
    if not isinstance(overlap, int) or not 1 <= overlap <= 50:
        bad("overlap", "From 1 to 50 annotations per task.")
    elif values["pipeline"] == Pipeline.STANDARD and overlap != 1:
        bad("overlap", "A standard pipeline takes one annotation per task; use consensus for more.")
    elif values["pipeline"] == Pipeline.CONSENSUS and overlap < 2:
        bad("overlap", "Consensus needs at least two annotations per task.")
    if values["pipeline"] == Pipeline.CONSENSUS:
        if (
            not isinstance(max_overlap, int)
            or not isinstance(overlap, int)
            or max_overlap < overlap
            or max_overlap > 50
        ):
            bad("max_overlap", "At least the overlap and at most 50.")
    else:
        values["max_overlap"] = overlap
    for field, low, high in (
        ("lease_seconds", 30, 24 * 3600),
        ("idle_cap_seconds", 10, 3600),
        ("max_leases_per_person", 1, 20),
        ("required_level", 1, 10),
    ):
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bad(field, f"A whole number from {low} to {high}.")
    _clean_quality_settings(values, bad)
    _clean_check_settings(values, bad)
    if values["max_labels"] is not None and (
        not isinstance(values["max_labels"], int) or values["max_labels"] < 1
    ):
        bad("max_labels", "At least 1, or empty for no limit.")
    if not errors:
        try:
            values["labels"] = normalise_labels(values["labels"], task_type=values["task_type"])
        except SchemaError as exc:
            for field, message in exc.errors.items():
                bad(field, message)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    return values


def _rate(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= 1


def _clean_rates(raw: Any, field: str, bad: Any, default: float) -> dict[str, float]:
    if not isinstance(raw, dict):
        bad(field, f"An object of shares by standing: {', '.join(STANDINGS)}.")
        return {}
    for key in set(raw) - set(STANDINGS):
        bad(f"{field}.{key}", f"Unknown standing; use {', '.join(STANDINGS)}.")
    rates = {}
    for standing in STANDINGS:
        value = raw.get(standing, default)
        if not _rate(value):
            bad(f"{field}.{standing}", "A share from 0 to 1.")
        else:
            rates[standing] = float(value)
    return rates


def _clean_quality_settings(values: dict[str, Any], bad: Any) -> None:
    """Review levels, gold mix and consensus aggregation settings (see the model's comments)."""
    levels = values["review_levels"]
    if not isinstance(levels, list) or len(levels) > MAX_REVIEW_LEVELS:
        bad("review_levels", f"A list of at most {MAX_REVIEW_LEVELS} levels.")
    else:
        clean = []
        for i, spec in enumerate(levels):
            where = f"review_levels[{i}]"
            if not isinstance(spec, dict):
                bad(where, 'Each level is an object: {"level": 1, "rates": {...}}.')
                continue
            if spec.get("level", i + 1) != i + 1:
                bad(f"{where}.level", f"Levels go 1, 2, 3... in order; expected {i + 1}.")
            rates = _clean_rates(spec.get("rates", {}), f"{where}.rates", bad, 1.0)
            clean.append({"level": i + 1, "rates": rates})
        values["review_levels"] = clean
        if clean and values["pipeline"] == Pipeline.COLLECTION:
            bad("review_levels", "Collection projects have no review levels.")
    values["gold_rates"] = _clean_rates(values["gold_rates"], "gold_rates", bad, 0.0)
    for field, low, high in (("max_reworks", 0, 10), ("gold_warmup", 0, 100)):
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bad(field, f"A whole number from {low} to {high}.")
    if not isinstance(values["gold_feedback"], bool):
        bad("gold_feedback", "True or false.")
    method = values["aggregation_method"]
    if method not in AggregationMethod.values:
        bad("aggregation_method", f"Use one of: {', '.join(AggregationMethod.values)}.")
    elif method != AggregationMethod.MAJORITY and values["task_type"] != TaskType.SINGLE_LABEL:
        bad(
            "aggregation_method",
            "Weighted vote and Dawid-Skene apply to single-label classification; "
            "spans and boxes are aggregated by token vote and box clustering.",
        )
    threshold = values["confidence_threshold"]
    if threshold is not None:
        if not _rate(threshold) or not 0.5 < threshold <= 1:
            bad("confidence_threshold", "A probability above 0.5 and at most 1, or empty.")
        elif values["pipeline"] != Pipeline.CONSENSUS:
            bad("confidence_threshold", "Dynamic overlap applies to consensus projects only.")
        elif values["task_type"] != TaskType.SINGLE_LABEL:
            bad("confidence_threshold", "Dynamic overlap applies to single-label classification.")
        else:
            values["confidence_threshold"] = float(threshold)
    if values["queue_order"] == QueueOrder.UNCERTAIN_FIRST and not (
        values["pipeline"] == Pipeline.CONSENSUS
        and values["task_type"] == TaskType.SINGLE_LABEL
        and values["confidence_threshold"] is not None
        and isinstance(values["max_overlap"], int)
        and isinstance(values["overlap"], int)
        and values["max_overlap"] > values["overlap"]
    ):
        bad(
            "queue_order",
            "Uncertain first needs dynamic overlap: a single-label consensus project with a "
            "confidence threshold and a max overlap above the overlap.",
        )
    if values["tie_rule"] not in TieRule.values:
        bad("tie_rule", f"Use one of: {', '.join(TieRule.values)}.")
    if not isinstance(values["reaggregate_final"], bool):
        bad("reaggregate_final", "True or false.")
    deadline = values.get("deadline")
    if deadline is not None and (not isinstance(deadline, datetime) or timezone.is_naive(deadline)):
        bad("deadline", "A date and time with its time zone, or empty.")


def _clean_check_settings(values: dict[str, Any], bad: Any) -> None:
    """A training module's or a test's project holds the items of one skill check of its kind;
    a work project has none."""
    purpose, check = values["purpose"], values["skill_check"]
    if purpose not in ProjectPurpose.values:
        bad("purpose", f"Use one of: {', '.join(ProjectPurpose.values)}.")
        return
    if check is not None and not isinstance(check, SkillCheck):
        bad("skill_check", "A skill check, or empty.")
        return
    if purpose == ProjectPurpose.WORK:
        if check is not None:
            bad("skill_check", "Only a training or test project holds a skill check's items.")
        return
    if check is not None and check.kind != purpose:
        bad(
            "skill_check",
            f"This is a {purpose} project; choose a {purpose} check (that one is a {check.kind}).",
        )


def _refuse_taken_check(check: SkillCheck | None, *, project_pk: int | None) -> None:
    """A skill check's items live in one project (the database's one-to-one backs this)."""
    if check is None:
        return
    holders = Project.objects.filter(skill_check_id=check.pk)
    if project_pk is not None:
        holders = holders.exclude(pk=project_pk)
    holder = holders.first()
    if holder is not None:
        raise _fail("skill_check", f"The project {holder.name!r} already holds this check's items.")


def _defaults() -> dict[str, Any]:
    return {
        "description": "",
        "preset": "",
        "labels": [],
        "max_labels": None,
        "allow_overlapping_spans": False,
        "pipeline": Pipeline.STANDARD.value,
        "overlap": 1,
        "max_overlap": 1,
        "lease_seconds": 600,
        "idle_cap_seconds": 120,
        "max_leases_per_person": 1,
        "priority": 0,
        "required_skill": None,
        "required_level": 1,
        "status": ProjectStatus.DRAFT.value,
        "review_levels": [],
        "max_reworks": 2,
        "gold_warmup": 5,
        "gold_rates": {"probation": 0.2, "regular": 0.05, "trusted": 0.05},
        "gold_feedback": False,
        "aggregation_method": AggregationMethod.MAJORITY.value,
        "confidence_threshold": None,
        "tie_rule": TieRule.ESCALATE.value,
        "reaggregate_final": False,
        "deadline": None,
        "purpose": ProjectPurpose.WORK.value,
        "skill_check": None,
    }


@transaction.atomic
def project_create(
    *,
    customer: Customer,
    name: str,
    actor: User | None,
    task_type: str | None = None,
    preset: str = "",
    instructions: str = "",
    **settings: Any,
) -> Project:
    """Create a project (from a preset such as "sentiment", or with its own task type and labels)."""
    unknown = set(settings) - set(PROJECT_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown settings: {', '.join(sorted(unknown))}.",
            fields={k: ["Unknown setting."] for k in unknown},
        )
    values = {**_defaults(), **settings, "name": name.strip()}
    values.setdefault("queue_order", queue_order_default(str(values["pipeline"])))
    if preset:
        if preset not in PRESETS:
            raise _fail("preset", f"Unknown preset {preset!r}; use one of: {', '.join(PRESETS)}.")
        values["preset"] = preset
        values["task_type"] = PRESETS[preset]["task_type"]
        if not settings.get("labels"):
            values["labels"] = PRESETS[preset]["labels"]
    else:
        if not task_type:
            raise _fail("task_type", "Choose a task type or a preset.")
        values["task_type"] = task_type
    values = _clean_settings(values)
    _refuse_taken_check(values["skill_check"], project_pk=None)
    project = Project.objects.create(customer=customer, created_by=actor, **values)
    audit_record(
        actor=actor,
        action="project.created",
        target=project,
        after=snapshot(project, PROJECT_FIELDS),
    )
    if instructions.strip():
        instructions_publish(project=project, body_markdown=instructions, actor=actor)
    project_created_send(project_id=project.pk, actor_id=actor.pk if actor else None)
    return project


@transaction.atomic
def project_update(*, project: Project, actor: User | None, **changes: Any) -> Project:
    """Change project settings; task type, pipeline and overlap are fixed once tasks exist."""
    unknown = set(changes) - set(PROJECT_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown settings: {', '.join(sorted(unknown))}.",
            fields={k: ["Unknown setting."] for k in unknown},
        )
    locked = Project.objects.select_for_update().get(pk=project.pk)
    before = snapshot(locked, PROJECT_FIELDS)
    current = {f: getattr(locked, f) for f in PROJECT_FIELDS}
    changed = {k: v for k, v in changes.items() if current.get(k) != v}
    if not changed:
        return locked
    if _STRUCTURAL & set(changed) and locked.tasks.exists():
        fields = sorted(_STRUCTURAL & set(changed))
        raise ProjectLocked(
            f"{', '.join(fields)} cannot change once the project has tasks.",
            extra={"fields": fields},
        )
    if _LABEL_FIELDS & set(changed) and locked.annotations_total > 0:
        new_names = {
            str(x.get("name") if isinstance(x, dict) else x)
            for x in changed.get("labels", locked.labels)
        }
        old_names = {x["name"] for x in locked.labels}
        if not old_names <= new_names:
            raise ProjectLocked(
                "Labels that annotators have used cannot be removed or renamed; add new ones instead.",
                extra={"fields": ["labels"]},
            )
    values = _clean_settings({**current, **changed})
    if "skill_check" in changed:
        _refuse_taken_check(values["skill_check"], project_pk=locked.pk)
    for field in changed:
        setattr(locked, field, values[field])
    if "pipeline" in changed or "overlap" in changed:
        locked.max_overlap = values["max_overlap"]
    locked.save()
    audit_record(
        actor=actor,
        action="project.updated",
        target=locked,
        before=before,
        after=snapshot(locked, PROJECT_FIELDS),
    )
    return locked


def project_set_status(*, project: Project, status: str, actor: User | None) -> Project:
    """Activate, pause, archive or return a project to draft."""
    return project_update(project=project, actor=actor, status=status)


@transaction.atomic
def instructions_publish(
    *, project: Project, body_markdown: str, actor: User | None
) -> InstructionVersion:
    """Publish a new version of the instructions; annotators see it from their next task."""
    if not body_markdown.strip():
        raise _fail("instructions", "Instructions cannot be empty.")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    last = (
        project.instruction_versions.order_by("-version").values_list("version", flat=True).first()
        or 0
    )
    version = InstructionVersion.objects.create(
        project=project,
        version=last + 1,
        body_markdown=body_markdown,
        body_html=render_markdown(body_markdown),
        created_by=actor,
    )
    Project.objects.filter(pk=project.pk).update(instructions_version=version.version)
    project.instructions_version = version.version
    audit_record(
        actor=actor,
        action="project.instructions_published",
        target=project,
        after={"version": version.version},
    )
    return version


def skill_resolve(slug: str | None) -> Skill | None:
    """Return the skill with this slug (None for none); raise ValidationFailed naming `required_skill`."""
    if not slug:
        return None
    skill = Skill.objects.filter(slug=slug).first()
    if skill is None:
        raise _fail("required_skill", f"There is no skill {slug!r}.")
    return skill


@dataclass(frozen=True)
class RequirementSpec:
    """One requirement of a project, validated: a skill, a comparator and (for at_least) a level."""

    skill: Skill
    comparator: str
    level: int | None


MAX_REQUIREMENTS = 10


def requirements_clean(raw: Any) -> list[RequirementSpec]:
    """Validate requirements given as [{"skill": slug, "comparator": "at_least"|"lacks",
    "level": N}]; raise ValidationFailed naming each bad field (`requirements[i].skill`...)."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not isinstance(raw, list) or len(raw) > MAX_REQUIREMENTS:
        raise _fail("requirements", f"A list of at most {MAX_REQUIREMENTS} requirements.")
    slugs = [item.get("skill") for item in raw if isinstance(item, dict)]
    skills = Skill.objects.in_bulk([s for s in slugs if isinstance(s, str)], field_name="slug")
    specs: list[RequirementSpec] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        where = f"requirements[{i}]"
        if not isinstance(item, dict):
            bad(where, 'Each requirement is an object: {"skill", "comparator", "level"}.')
            continue
        skill = skills.get(item.get("skill")) if isinstance(item.get("skill"), str) else None
        if skill is None:
            bad(f"{where}.skill", f"There is no skill {item.get('skill')!r}.")
        elif skill.pk in seen:
            bad(f"{where}.skill", "Each skill may be required once.")
        comparator = item.get("comparator")
        level = item.get("level")
        if comparator not in SkillComparator.values:
            bad(f"{where}.comparator", f"Use one of: {', '.join(SkillComparator.values)}.")
        elif comparator == SkillComparator.AT_LEAST:
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
                bad(f"{where}.level", "A whole number from 1 to 10.")
        elif level is not None:
            bad(f"{where}.level", "Leave the level empty for 'lacks'.")
        if skill is not None and comparator in SkillComparator.values and not errors:
            seen.add(skill.pk)
            specs.append(
                RequirementSpec(
                    skill, comparator, level if comparator == SkillComparator.AT_LEAST else None
                )
            )
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    return specs


def teams_resolve(ids: Any, *, visible: QuerySet[Team]) -> list[Team]:
    """The teams of `ids` among `visible` (the caller's); raise ValidationFailed naming `teams`."""
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise _fail("teams", "A list of team ids (empty: open to every team).")
    found = visible.in_bulk(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise _fail("teams", f"There is no team {missing[0]}.")
    return [found[i] for i in dict.fromkeys(ids)]


@transaction.atomic
def project_access_set(
    *,
    project: Project,
    actor: User | None,
    teams: list[Team] | None = None,
    requirements: list[RequirementSpec] | None = None,
) -> Project:
    """Limit `project` to `teams` (empty: every team) and/or replace its requirements (audited);
    None leaves that part as it is. The claim enforces both from the next claim on."""
    locked = Project.objects.select_for_update().get(pk=project.pk)
    before = _access_snapshot(locked)
    if teams is not None:
        locked.teams.set(teams)
    if requirements is not None:
        ProjectRequirement.objects.filter(project=locked).delete()
        ProjectRequirement.objects.bulk_create(
            ProjectRequirement(
                project=locked, skill=spec.skill, comparator=spec.comparator, level=spec.level
            )
            for spec in requirements
        )
    after = _access_snapshot(locked)
    if after != before:
        audit_record(
            actor=actor, action="project.access_changed", target=locked, before=before, after=after
        )
    return locked


def _access_snapshot(project: Project) -> dict[str, Any]:
    return {
        "teams": sorted(project.teams.values_list("pk", flat=True)),
        "requirements": [
            {"skill": slug, "comparator": comparator, "level": level}
            for slug, comparator, level in project.requirements.order_by("pk").values_list(
                "skill__slug", "comparator", "level"
            )
        ],
    }
