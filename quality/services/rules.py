"""Write quality rules: validate, create, change and deactivate them (managers and administrators).

A rule is data: a metric over a window of a person's recent record, a condition on its value and
an action to take when the condition holds (see `quality.services.evaluation`). Changing a rule
does not change the actions it already took. Every write records an audit event in its transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record, snapshot
from core.errors import ValidationFailed
from labeling.models import Project
from quality.models import (
    QualityRule,
    RuleActionKind,
    RuleComparator,
    RuleMetric,
    RuleWindow,
)
from quality.selectors import require_rule_scope

RATE_METRICS = frozenset(
    {
        RuleMetric.GOLD_ACCURACY,
        RuleMetric.REVIEW_PASS_RATE,
        RuleMetric.AGREEMENT,
        RuleMetric.FAST_ANSWER_RATE,
        RuleMetric.SPAMMER_SCORE,
        RuleMetric.CONSENSUS_AGREEMENT,
        RuleMetric.GOLD_ACCURACY_UPPER,
    }
)
# The consensus model's scores exist per project: a global rule cannot use them.
PROJECT_ONLY_METRICS = frozenset(
    {RuleMetric.SPAMMER_SCORE, RuleMetric.CONSENSUS_AGREEMENT, RuleMetric.GOLD_ACCURACY_UPPER}
)
MAX_WINDOW_ITEMS = 10_000
MAX_WINDOW_DAYS = 366
MAX_DURATION_HOURS = 24 * 366
MAX_TEXT = 5_000

RULE_FIELDS = [
    "project",
    "name",
    "description",
    "metric",
    "window_kind",
    "window_size",
    "min_sample",
    "comparator",
    "threshold",
    "fast_answer_seconds",
    "action",
    "gold_rate",
    "duration_hours",
    "is_active",
]


def _rule_validate(rule: QualityRule) -> None:
    """Raise ValidationFailed naming every field of `rule` that is wrong."""
    errors: dict[str, list[str]] = {}
    rule.name = (rule.name or "").strip()
    if not rule.name:
        errors["name"] = ["Give the rule a name."]
    elif len(rule.name) > 150:
        errors["name"] = ["At most 150 characters."]
    if rule.metric not in RuleMetric.values:
        errors["metric"] = [f"Choose one of: {', '.join(RuleMetric.values)}."]
    elif rule.metric in PROJECT_ONLY_METRICS and rule.project is None:
        errors["metric"] = ["The model's scores exist per project: choose a project for this rule."]
    if rule.window_kind not in RuleWindow.values:
        errors["window_kind"] = ["Choose items (last N) or days (last D days)."]
    limit = MAX_WINDOW_DAYS if rule.window_kind == RuleWindow.DAYS else MAX_WINDOW_ITEMS
    if not isinstance(rule.window_size, int) or not 1 <= rule.window_size <= limit:
        errors["window_size"] = [f"From 1 to {limit}."]
    if not isinstance(rule.min_sample, int) or rule.min_sample < 1:
        errors["min_sample"] = ["At least 1."]
    if rule.comparator not in RuleComparator.values:
        errors["comparator"] = ["Choose lt, lte, gt or gte."]
    if rule.threshold is None:
        errors["threshold"] = ["Required."]
    elif rule.metric in RATE_METRICS and not 0 <= rule.threshold <= 1:
        errors["threshold"] = ["This metric is a share: from 0 to 1."]
    elif rule.threshold < 0:
        errors["threshold"] = ["At least 0."]
    if rule.metric == RuleMetric.FAST_ANSWER_RATE:
        if not rule.fast_answer_seconds or rule.fast_answer_seconds < 1:
            errors["fast_answer_seconds"] = ["Say below how many seconds an answer is fast."]
    else:
        rule.fast_answer_seconds = None
    if rule.action not in RuleActionKind.values:
        errors["action"] = [f"Choose one of: {', '.join(RuleActionKind.values)}."]
    if rule.action == RuleActionKind.RAISE_GOLD_RATE:
        if rule.gold_rate is None or not 0 < rule.gold_rate <= 1:
            errors["gold_rate"] = ["The person's gold share: more than 0, at most 1."]
    else:
        rule.gold_rate = None
    if rule.action == RuleActionKind.REMOVE_SKILL_LEVEL:
        if rule.project is None:
            errors["action"] = ["Only a project rule removes a skill level (the project's skill)."]
        elif rule.project.required_skill_id is None:
            errors["action"] = ["This project asks for no skill, so there is no level to remove."]
    if rule.duration_hours is not None and not 1 <= rule.duration_hours <= MAX_DURATION_HOURS:
        errors["duration_hours"] = [f"From 1 to {MAX_DURATION_HOURS} hours, or empty."]
    if len(rule.description or "") > MAX_TEXT:
        errors["description"] = [f"At most {MAX_TEXT} characters."]
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)


def rule_build(**values: Any) -> QualityRule:
    """Return an unsaved, validated rule (for a dry run before saving); raise ValidationFailed."""
    values.setdefault("description", "")
    rule = QualityRule(**values)
    _rule_validate(rule)
    return rule


@transaction.atomic
def rule_create(
    *,
    actor: User,
    name: str,
    metric: str,
    window_kind: str,
    window_size: int,
    min_sample: int,
    comparator: str,
    threshold: float,
    action: str,
    project: Project | None = None,
    description: str = "",
    fast_answer_seconds: int | None = None,
    gold_rate: float | None = None,
    duration_hours: int | None = None,
    is_active: bool = True,
) -> QualityRule:
    """Create a rule (global when `project` is None); raise PermissionDenied or ValidationFailed."""
    require_rule_scope(actor, project)
    now = timezone.now()
    rule = rule_build(
        project=project,
        name=name,
        description=description,
        metric=metric,
        window_kind=window_kind,
        window_size=window_size,
        min_sample=min_sample,
        comparator=comparator,
        threshold=threshold,
        fast_answer_seconds=fast_answer_seconds,
        action=action,
        gold_rate=gold_rate,
        duration_hours=duration_hours,
        is_active=is_active,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    rule.save()
    audit_record(
        actor=actor, action="quality_rule.created", target=rule, after=snapshot(rule, RULE_FIELDS)
    )
    return rule


@transaction.atomic
def rule_update(*, rule: QualityRule, actor: User, **changes: Any) -> QualityRule:
    """Change a rule's settings (not its project); actions already taken keep what they did."""
    require_rule_scope(actor, rule.project)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"{sorted(unknown)[0]}: Not a rule setting.",
            fields={name: ["Not a rule setting."] for name in sorted(unknown)},
        )
    locked = (
        QualityRule.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=rule.pk)
    )
    if "project" in changes and changes["project"] != locked.project:
        raise ValidationFailed(
            "project: A rule cannot move to another project; create a new rule.",
            fields={"project": ["Cannot change."]},
        )
    before = snapshot(locked, RULE_FIELDS)
    for name, value in changes.items():
        setattr(locked, name, value)
    _rule_validate(locked)
    after = snapshot(locked, RULE_FIELDS)
    if after == before:
        return locked
    locked.updated_at = timezone.now()
    locked.save()
    changed = [name for name in RULE_FIELDS if before[name] != after[name]]
    audit_record(
        actor=actor,
        action="quality_rule.updated",
        target=locked,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    return locked


@transaction.atomic
def rule_deactivate(*, rule: QualityRule, actor: User) -> QualityRule:
    """Stop evaluating a rule; the actions it took stay until they expire or are lifted."""
    require_rule_scope(actor, rule.project)
    locked = QualityRule.objects.select_for_update().get(pk=rule.pk)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.updated_at = timezone.now()
    locked.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        action="quality_rule.deactivated",
        target=locked,
        before={"is_active": True},
        after={"is_active": False},
    )
    return locked
