"""The tie-rule demo data: a tie goes to review, an agreed task is final; a second run adds nothing."""

import pytest

from demo.calibrated_quality import TIES_PROJECT, demo_ties_seed
from labeling.models import Project, TaskStatus
from tests.labeling.factories import make_customer, make_worker

pytestmark = pytest.mark.django_db


def test_demo_ties_seed_sends_the_tie_to_review_and_finishes_the_agreed_task():
    customer = make_customer()
    people = {email: make_worker() for email in ("noor@demo.quorum", "lucia@demo.quorum")}

    created = demo_ties_seed(customer=customer, people=people)

    project = Project.objects.get(name=TIES_PROJECT)
    assert len(created) == 1
    assert project.tie_rule == "review"
    statuses = sorted(project.tasks.values_list("status", flat=True))
    assert statuses == sorted([TaskStatus.COMPLETED, TaskStatus.IN_REVIEW])
    assert demo_ties_seed(customer=customer, people=people) == []
