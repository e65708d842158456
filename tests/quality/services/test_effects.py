"""What actions hold together, and what giving an effect back leaves alone."""

import pytest

from quality.services.actions import rule_action_lift
from quality.services.evaluation import rules_evaluate
from tests.labeling.factories import make_worker
from tests.quality.factories import GOLD_SPAM, gold_record, managed, spam_rule, state_of, status_of
from workforce.models import AnnotatorProfile
from workforce.services import annotator_status_set

pytestmark = pytest.mark.django_db


def test_while_two_actions_hold_a_gold_rate_the_higher_stays_until_both_end(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager, project=project, action="raise_gold_rate", gold_rate=0.5)
    spam_rule(manager, project=project, action="raise_gold_rate", gold_rate=0.8)
    gold_record(project, spammer, GOLD_SPAM)
    low, high = rules_evaluate(user=spammer, project=project)
    assert state_of(spammer, project).gold_rate_override == 0.8

    rule_action_lift(action=high, manager=manager)
    assert state_of(spammer, project).gold_rate_override == 0.5
    rule_action_lift(action=low, manager=manager)
    assert state_of(spammer, project).gold_rate_override is None


def test_a_reversal_leaves_alone_what_a_manager_changed_meanwhile(manager, project):
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)
    profile = AnnotatorProfile.objects.get(user=spammer)
    annotator_status_set(profile=profile, status="offboarded", actor=manager)

    rule_action_lift(action=action, manager=manager)

    assert status_of(spammer) == "offboarded"
