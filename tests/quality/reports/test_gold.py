"""The gold set of a project with its scores (the consensus project of `seed_consensus` and the reviewed one of `seed_reviewed`, in tests/quality/factories.py)."""

import pytest

from quality.reports.gold import gold_set
from tests.quality.factories import seed_reviewed

pytestmark = pytest.mark.django_db


def test_the_gold_set_lists_answers_with_their_scores():
    seeded = seed_reviewed()

    rows, total = gold_set(project=seeded.project)

    assert total == 2
    assert [(r.task_id, r.result, r.scores, r.mean_score) for r in rows] == [
        (seeded.tasks[1], {"label": "dog"}, 1, 0.0),
        (seeded.tasks[0], {"label": "cat"}, 1, 1.0),
    ]
