"""quality's handlers of labeling's work events."""

import pytest

from labeling.events import SCORED_BY_GOLD, work_scored_send
from quality.models import RuleAction
from tests.labeling.factories import make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    spam_rule,
    status_of,
)
from workforce.models import StandingDecision

pytestmark = pytest.mark.django_db


def test_a_work_scored_event_evaluates_the_rules_once_the_transaction_commits(
    manager, project, django_capture_on_commit_callbacks
):
    spammer = make_worker()
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        work_scored_send(
            user_id=spammer.pk,
            project_id=project.pk,
            task_id=0,
            annotation_id=0,
            source=SCORED_BY_GOLD,
            value=0.0,
        )
    assert RuleAction.objects.count() == 0
    for callback in callbacks:
        callback()

    assert RuleAction.objects.get().user == spammer
    assert status_of(spammer) == "suspended"


def test_a_gold_score_decides_the_probation_of_its_author_once_committed(
    project, django_capture_on_commit_callbacks
):
    newcomer = make_worker(status="probation")
    gold_record(project, newcomer, [1.0] * 50)

    with django_capture_on_commit_callbacks(execute=True):
        work_scored_send(
            user_id=newcomer.pk,
            project_id=project.pk,
            task_id=0,
            annotation_id=0,
            source=SCORED_BY_GOLD,
            value=1.0,
        )

    assert status_of(newcomer) == "active"
    assert StandingDecision.objects.get(user=newcomer).evidence["n"] == 50


def test_an_agreement_score_does_not_decide_probation(project, django_capture_on_commit_callbacks):
    newcomer = make_worker(status="probation")
    gold_record(project, newcomer, [1.0] * 50)

    with django_capture_on_commit_callbacks(execute=True):
        work_scored_send(
            user_id=newcomer.pk,
            project_id=project.pk,
            task_id=0,
            annotation_id=0,
            source="agreement",
            value=1.0,
        )

    assert status_of(newcomer) == "probation"
