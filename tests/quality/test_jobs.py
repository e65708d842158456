"""The Celery jobs of the quality rules."""

import pytest

from tests.labeling.factories import make_worker
from tests.quality.factories import (
    GOLD_SPAM,
    gold_record,
    spam_rule,
)

pytestmark = pytest.mark.django_db


def test_the_celery_jobs_evaluate_and_sweep(manager, project):
    from quality.tasks import rules_evaluate_person
    from quality.tasks import rules_sweep as sweep_job

    spammer = make_worker()
    spam_rule(manager, action="notify")
    gold_record(project, spammer, GOLD_SPAM)

    assert rules_evaluate_person.delay(spammer.pk + 1000, project.pk).get() == 0
    assert rules_evaluate_person.delay(spammer.pk, project.pk).get() == 1
    assert sweep_job.delay().get() == 0


def test_the_probation_and_tier_jobs_run(project):
    from quality.tasks import probation_sweep, tier_candidates_compute_weekly

    newcomer = make_worker(status="probation")
    gold_record(project, newcomer, [1.0] * 50)

    assert probation_sweep.delay().get() == 1
    assert tier_candidates_compute_weekly.delay().get() == 0
