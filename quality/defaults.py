"""The quality rules every new project starts with (on, editable, deactivatable).

They judge people by the consensus model's scores (see docs/quality.md, "Spammers caught with
evidence"). `QUORUM_DEFAULT_QUALITY_RULES=false` turns them off for new projects.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record, snapshot
from kit.spam import DEFAULT_SPAM_MIN_LABELS, DEFAULT_SPAM_SCORE_THRESHOLD
from labeling.models import Project
from quality.models import QualityRule, RuleActionKind, RuleComparator, RuleMetric, RuleWindow
from quality.services.rules import RULE_FIELDS, rule_build

# Each: the rule's settings. A suspension from the project is appealable; it releases the person's
# leases and discounts their unreviewed consensus work, so those tasks get new open slots.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "Spammer score above 0.65 (model)",
        "description": (
            "The person's labels say little about the true class: their estimated confusion "
            "matrix has near-identical rows. Suspends them from the project (appealable); "
            "their unreviewed work on open tasks is discounted and those tasks are labelled again."
        ),
        "metric": RuleMetric.SPAMMER_SCORE,
        "window_kind": RuleWindow.ITEMS,
        "window_size": 200,
        "min_sample": DEFAULT_SPAM_MIN_LABELS,
        "comparator": RuleComparator.GT,
        "threshold": DEFAULT_SPAM_SCORE_THRESHOLD,
        "action": RuleActionKind.SUSPEND_PROJECT,
    },
    {
        "name": "Gold answers no better than chance (upper bound)",
        "description": (
            "Even the upper end of the 95% Wilson interval of the person's gold accuracy, "
            "corrected for chance, is below 0.2. Suspends them from the project (appealable)."
        ),
        "metric": RuleMetric.GOLD_ACCURACY_UPPER,
        "window_kind": RuleWindow.ITEMS,
        "window_size": 50,
        "min_sample": 10,
        "comparator": RuleComparator.LT,
        "threshold": 0.2,
        "action": RuleActionKind.SUSPEND_PROJECT,
    },
)


@transaction.atomic
def default_rules_create(*, project: Project) -> list[QualityRule]:
    """Create the default rules for `project` (once: a project that has rules gets none)."""
    if QualityRule.objects.filter(project=project).exists():
        return []
    now = timezone.now()
    created: list[QualityRule] = []
    for values in DEFAULT_RULES:
        rule = rule_build(project=project, created_at=now, updated_at=now, **values)
        rule.save()
        audit_record(
            actor=None,
            action="quality_rule.created",
            target=rule,
            after=snapshot(rule, RULE_FIELDS),
        )
        created.append(rule)
    return created


def on_project_created(sender: Any, *, project_id: int, **facts: Any) -> None:
    """`labeling.events.project_created`: give the new project the default rules (if enabled)."""
    if not settings.QUORUM_DEFAULT_QUALITY_RULES:
        return
    project = Project.objects.get(pk=project_id)
    default_rules_create(project=project)
