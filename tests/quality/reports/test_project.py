"""The Quality page's figures: agreement and people from one load, in a fixed number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.services.claim import slot_claim_next
from labeling.services.submit import lease_submit
from quality.reports.project import project_quality
from tests.labeling.factories import add_tasks, make_worker
from tests.quality.factories import seed_consensus

pytestmark = pytest.mark.django_db


def test_the_number_of_queries_does_not_grow_with_people_or_tasks():
    small = seed_consensus()
    with CaptureQueriesContext(connection) as few:
        project_quality(project=small.project)
    large = seed_consensus()
    add_tasks(large.project, 3)
    for _ in range(3):
        worker = make_worker()
        for _ in range(3):
            lease = slot_claim_next(project=large.project, user=worker).lease
            lease_submit(lease_id=lease.pk, user=worker, result={"label": "cat"})

    with CaptureQueriesContext(connection) as many:
        report = project_quality(project=large.project)

    assert len(report.people.people) == 6
    assert len(many) == len(few) == 6
