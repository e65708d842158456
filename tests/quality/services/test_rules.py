"""Writing quality rules: validation, who may write them, and the audit trail."""

import pytest

from core.errors import PermissionDenied, ValidationFailed
from core.models import AuditEvent
from quality.services.rules import rule_deactivate, rule_update
from tests.labeling.factories import make_project, make_worker
from tests.quality.factories import (
    audit_actions,
    spam_rule,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"action": "raise_gold_rate"}, "gold_rate"),
        ({"action": "raise_gold_rate", "gold_rate": 1.5}, "gold_rate"),
        ({"metric": "fast_answer_rate"}, "fast_answer_seconds"),
        ({"action": "remove_skill_level"}, "action"),
        ({"threshold": 2}, "threshold"),
        ({"window_size": 0}, "window_size"),
        ({"min_sample": 0}, "min_sample"),
        ({"metric": "earnings_24h"}, "metric"),
        ({"name": " "}, "name"),
        ({"duration_hours": 0}, "duration_hours"),
    ],
)
def test_a_rule_with_a_bad_setting_is_refused_naming_the_field(manager, changes, field):
    with pytest.raises(ValidationFailed) as refused:
        spam_rule(manager, **changes)

    assert field in refused.value.extra["fields"]


def test_only_managers_write_rules(project):
    with pytest.raises(PermissionDenied):
        spam_rule(make_worker())


def test_changing_and_deactivating_a_rule_is_audited(manager, project):
    rule = spam_rule(manager, project=project)

    rule_update(rule=rule, actor=manager, threshold=0.5)
    rule_deactivate(rule=rule, actor=manager)

    rule.refresh_from_db()
    assert (rule.threshold, rule.is_active) == (0.5, False)
    event = AuditEvent.objects.get(action="quality_rule.updated")
    assert (event.before, event.after) == ({"threshold": 0.6}, {"threshold": 0.5})
    assert {"quality_rule.created", "quality_rule.deactivated"} <= set(audit_actions())


def test_a_rule_cannot_move_to_another_project(manager, project):
    rule = spam_rule(manager, project=project)

    with pytest.raises(ValidationFailed):
        rule_update(rule=rule, actor=manager, project=make_project())
