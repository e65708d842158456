"""quality's handlers of labeling's work events (connected in `QualityConfig.ready`).

A handler runs inside the transaction that announced the event; what takes time is queued for
after the commit, so a rolled-back submission judges nobody.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from quality.jobs import rules_evaluate_person


def on_work_scored(sender: Any, *, user_id: int, project_id: int, **facts: Any) -> None:
    """`labeling.events.work_scored`: evaluate the author's rules once the transaction commits."""
    transaction.on_commit(partial(rules_evaluate_person.delay, user_id, project_id))
