"""quality's handlers of labeling's work events (connected in `QualityConfig.ready`).

A handler runs inside the transaction that announced the event; what takes time is queued for
after the commit, so a rolled-back submission judges nobody.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from labeling.events import SCORED_BY_GOLD, SCORED_BY_REVIEW
from quality.jobs import probation_evaluate_person, rules_evaluate_person

# The scores probation is decided on: gold answers and review verdicts of the person's work.
PROBATION_SOURCES = frozenset({SCORED_BY_GOLD, SCORED_BY_REVIEW})


def on_work_scored(sender: Any, *, user_id: int, project_id: int, **facts: Any) -> None:
    """`labeling.events.work_scored`: once the transaction commits, evaluate the author's rules,
    then (for a gold score or a review verdict) their probation."""
    transaction.on_commit(partial(rules_evaluate_person.delay, user_id, project_id))
    if facts.get("source") in PROBATION_SOURCES:
        transaction.on_commit(partial(probation_evaluate_person.delay, user_id, project_id))
