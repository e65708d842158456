"""Where things happen to a person today, they are told: suspension by a rule, retraining,
an appeal's decision, work sent back for rework."""

from __future__ import annotations

import pytest

from accounts.models import Role
from quality.services.actions import appeal_decide, rule_action_appeal
from quality.services.evaluation import rules_evaluate
from tests.factories import make_user
from tests.labeling.factories import (
    ALWAYS,
    add_tasks,
    annotate,
    make_project,
    make_worker,
    review,
    two_level_project,
)
from tests.quality.factories import GOLD_SPAM, gold_record, make_manager, managed, spam_rule
from workforce.models import Notification

pytestmark = pytest.mark.django_db


def kinds_of(person) -> list[str]:
    return list(
        Notification.objects.filter(user=person).order_by("id").values_list("kind", flat=True)
    )


def test_a_rule_that_suspends_tells_the_person_and_so_does_the_appeal_decision():
    manager = make_manager()
    project = make_project(gold_warmup=0)
    spammer = make_worker()
    managed(manager, spammer)
    spam_rule(manager)
    gold_record(project, spammer, GOLD_SPAM)
    [action] = rules_evaluate(user=spammer, project=project)

    appeal = rule_action_appeal(action=action, user=spammer, reason="My cat was sick.")
    appeal_decide(appeal=appeal, manager=manager, uphold=True, note="Fair enough.")

    assert kinds_of(spammer)[-3:] == ["suspended", "account_activated", "appeal_decided"]
    decided = Notification.objects.filter(user=spammer, kind="appeal_decided").get()
    assert (decided.title, decided.body) == ("Your appeal was upheld", "Fair enough.")


def test_a_rule_that_requires_retraining_tells_the_person():
    manager = make_manager()
    project = make_project(gold_warmup=0)
    person = make_worker()
    spam_rule(manager, project=project, action="require_retraining")
    gold_record(project, person, GOLD_SPAM)

    rules_evaluate(user=person, project=project)

    assert kinds_of(person) == ["account_activated", "training_required"]


def test_work_sent_back_for_rework_tells_its_author():
    project = two_level_project(review_levels=[{"rates": ALWAYS}])
    author = make_worker()
    add_tasks(project, 1)
    annotate(project, author, "dog")

    review(project, make_user(Role.REVIEWER, level=1), "reject", reason="wrong_label")

    told = Notification.objects.filter(user=author, kind="rework_returned").get()
    assert project.name in told.title
    assert told.url == "/work/history/#h-rework"
