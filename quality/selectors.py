"""Who sees which quality rules, rule actions and appeals, and what of an action's evidence.

Managers and administrators (labeling staff) see and change everything; a person sees only the
actions taken on them and their own appeals. Anything outside a person's scope is "not found".
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.errors import PermissionDenied
from labeling.policy import is_labeling_staff
from quality.models import (
    Appeal,
    QualityRule,
    RuleAction,
    RuleMetric,
)

# What a person may see of the evidence against them. The items of a gold-accuracy action are
# left out: they would tell which of the tasks they worked on were gold.
_PERSON_RULE_FIELDS = (
    "name",
    "metric",
    "window_kind",
    "window_size",
    "min_sample",
    "comparator",
    "threshold",
    "fast_answer_seconds",
)


def can_manage_quality(user: Any) -> bool:
    """Managers and administrators write rules, see every action and decide appeals."""
    return bool(getattr(user, "is_authenticated", False)) and is_labeling_staff(user)


def require_quality_manager(user: Any) -> None:
    """Raise PermissionDenied unless `user` manages quality (see `can_manage_quality`)."""
    if not can_manage_quality(user):
        raise PermissionDenied("Only managers and administrators manage quality rules.")


def quality_rules_visible_to(user: Any) -> QuerySet[QualityRule]:
    rules = QualityRule.objects.select_related("project", "created_by")
    if not can_manage_quality(user):
        return rules.none()
    return rules.order_by("-is_active", "name", "pk")


def rule_actions_visible_to(user: Any) -> QuerySet[RuleAction]:
    """Every action for staff; the actions taken on them for anyone else; newest first."""
    actions = RuleAction.objects.select_related(
        "rule", "user", "project", "ended_by", "appeal"
    ).order_by("-taken_at", "-pk")
    if can_manage_quality(user):
        return actions
    if not getattr(user, "is_authenticated", False):
        return actions.none()
    return actions.filter(user_id=user.pk)


def appeals_visible_to(user: Any) -> QuerySet[Appeal]:
    """Every appeal for staff; their own for anyone else; oldest pending first."""
    appeals = Appeal.objects.select_related(
        "action", "action__rule", "action__user", "action__project", "author", "decided_by"
    ).order_by("created_at", "pk")
    if can_manage_quality(user):
        return appeals
    if not getattr(user, "is_authenticated", False):
        return appeals.none()
    return appeals.filter(author_id=user.pk)


def evidence_visible_to(user: Any, action: RuleAction) -> dict[str, Any]:
    """The evidence of `action` that `user` may see: all of it for staff, a safe part for the person."""
    evidence = action.evidence or {}
    if can_manage_quality(user):
        return {
            **evidence,
            "metric_value": action.metric_value,
            "sample_size": action.sample_size,
            "item_ids": action.item_ids,
            "taken": action.taken,
        }
    rule = evidence.get("rule", {})
    shown_items = rule.get("metric") != RuleMetric.GOLD_ACCURACY
    return {
        "rule": {key: rule.get(key) for key in _PERSON_RULE_FIELDS},
        "items": evidence.get("items") if shown_items else None,
        "metric_value": action.metric_value,
        "sample_size": action.sample_size,
        "item_ids": action.item_ids if shown_items else [],
        "discounted_annotation_ids": evidence.get("discounted_annotation_ids", []),
    }
