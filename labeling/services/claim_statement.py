"""The one-statement claim (PostgreSQL): `claim_context` and `candidate_slots` composed into one
data-modifying statement (see `labeling.services.claim`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import (
    BooleanField,
)
from django.db.models.expressions import RawSQL

from accounts.models import User
from core.statements import json_value, statement_run_prepared
from kit.label_schema import LabelSchema
from labeling.models import (
    SlotKind,
    SlotState,
)
from labeling.policy import WorkScope, work_scope
from labeling.services.claim_conditions import CLAIM_CONDITIONS, candidate_slots, claim_context
from labeling.services.claimed import LeasedTask
from labeling.services.results import ClaimedCheck, claimed_checks

# --- The one-statement writer (PostgreSQL) --------------------------------------------------------


# `ctx` is `claim_context`; `pick` is `candidate_slots` for open annotate slots, gated by `go`.
# `st` locks the person's state; `seen` is the same row as this statement's snapshot saw it.
# When another claim of theirs committed while this one waited for the lock, the two differ
# (`raced`): nothing is written and the claim runs again with a fresh snapshot, so the lease
# limit counts that claim's lease.
_CLAIM_STATEMENT = """
WITH ctx AS ({context}),
st AS (
    SELECT id, xmin::text AS v FROM labeling_workerprojectstate
    WHERE user_id = %s AND project_id = %s FOR UPDATE
),
seen AS (
    SELECT xmin::text AS v FROM labeling_workerprojectstate WHERE user_id = %s AND project_id = %s
),
go AS (
    SELECT ctx.*,
           (SELECT v FROM st) IS DISTINCT FROM (SELECT v FROM seen) AS raced,
           ({conditions}) AND (SELECT v FROM st) = (SELECT v FROM seen) AS go
    FROM ctx
),
pick AS ({pick} FOR UPDATE OF labeling_workslot SKIP LOCKED),
slot AS (
    UPDATE labeling_workslot s
    SET state = 'leased',
        lease_expires_at = %s::timestamptz + make_interval(secs => (SELECT lease_seconds FROM go))
    FROM pick WHERE s.id = pick.id
    RETURNING s.id, s.task_id, s.lease_expires_at
),
participation AS (
    INSERT INTO labeling_taskparticipation (task_id, user_id, created_at)
    SELECT task_id, %s, %s FROM slot
),
counted AS (
    UPDATE labeling_workerprojectstate SET tasks_claimed = tasks_claimed + 1, updated_at = %s
    WHERE id = (SELECT id FROM st) AND EXISTS (SELECT 1 FROM slot)
),
lease AS (
    INSERT INTO labeling_lease (
        slot_id, task_id, project_id, user_id, state, claimed_at, expires_at, last_seen_at,
        active_seconds, ended_at, skip_reason
    )
    SELECT id, task_id, %s, %s, 'active', %s, lease_expires_at, %s, 0, NULL, '' FROM slot
    RETURNING id, slot_id, task_id, expires_at
)
SELECT go.*, lease.id AS lease_id, lease.slot_id, lease.task_id, lease.expires_at,
       t.data AS task_data, t.pre_annotation, iv.body_html AS instructions_html
FROM go
LEFT JOIN lease ON true
LEFT JOIN labeling_task t ON t.id = lease.task_id
LEFT JOIN labeling_instructionversion iv
    ON lease.id IS NOT NULL AND iv.project_id = go.id AND iv.version = go.instructions_version
"""


# Compiling the conditions into SQL costs more CPU than the statement itself, so it is done once
# per shape (the person's policy scope, and whether the claim is a prefetch) with stand-in values
# for what changes from claim to claim; each claim puts its own values in their places.
_USER = 9_100_000_000_000_000_001
_PROJECT = 9_100_000_000_000_000_002
_NOW = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
_DRAW = 0.918273645546372
_STAND_INS = {"user": _USER, "project": _PROJECT, "now": _NOW, "draw": _DRAW}
_ARGUMENTS = {
    "user": "bigint",
    "project": "bigint",
    "now": "timestamptz",
    "draw": "double precision",
}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str | None, Any], ...]  # (stand-in name or None, value)


_compiled: dict[tuple[WorkScope, bool], _Compiled | None] = {}


def claim_statements_forget() -> None:
    """Drop the compiled statements (after the conditions' code changed, e.g. in a test)."""
    _compiled.clear()


def _stand_in(value: Any) -> str | None:
    for name, stand_in in _STAND_INS.items():
        if type(value) is type(stand_in) and value == stand_in:
            return name
    return None


def _compile(scope: WorkScope, prefetch: bool) -> _Compiled | None:
    """The claim statement of a shape, with stand-ins; None when the scope reaches nothing."""
    context = claim_context(
        user_id=_USER,
        scope=scope,
        project_id=_PROJECT,
        now=_NOW,
        prefetch=prefetch,
        draw=_DRAW,
        kind=SlotKind.ANNOTATE,
    )
    try:
        context_sql, context_params = context.query.sql_with_params()
    except EmptyResultSet:
        return None  # the policy gives this scope no project at all
    pick = (
        candidate_slots(
            project_id=_PROJECT,
            user_id=_USER,
            state=SlotState.OPEN,
            now=_NOW,
            kind=SlotKind.ANNOTATE,
            max_level=0,
        )
        .filter(RawSQL("(SELECT go FROM go)", (), output_field=BooleanField()))
        .values_list("id", "task_id")[:1]
    )
    pick_sql, pick_params = pick.query.sql_with_params()
    sql = _CLAIM_STATEMENT.format(
        context=context_sql,
        conditions=" AND ".join(f"ctx.{name}" for name in CLAIM_CONDITIONS),
        pick=pick_sql,
    )
    params = [
        *context_params,
        *(_USER, _PROJECT, _USER, _PROJECT),  # st, seen
        *pick_params,
        _NOW,  # slot
        *(_USER, _NOW),  # participation
        _NOW,  # counted
        *(_PROJECT, _USER, _NOW, _NOW),  # lease
    ]
    compiled = _Compiled(sql, tuple((_stand_in(value), value) for value in params))
    used = {name for name, _ in compiled.params if name is not None}
    if used != set(_STAND_INS):  # a stand-in was transformed on its way into SQL: never guess
        raise AssertionError(
            f"claim statement: stand-ins not found as given: {set(_STAND_INS) - used}"
        )
    return compiled


def claim_statement(
    *, user: User, project_id: int, now: datetime, prefetch: bool, draw: float
) -> dict[str, Any] | None:
    """Run the one-statement claim; its row (None: the policy hides the project)."""
    key = (work_scope(user, SlotKind.ANNOTATE), prefetch)
    if key not in _compiled:
        _compiled[key] = _compile(*key)
    compiled = _compiled[key]
    if compiled is None:
        return None
    return statement_run_prepared(
        compiled.sql,
        compiled.params,
        arguments=_ARGUMENTS,
        values={"user": user.pk, "project": project_id, "now": now, "draw": draw},
        commit_waits_for_flush=settings.QUORUM_CLAIM_SYNCHRONOUS_COMMIT,
    )


def leased_of(row: dict[str, Any], *, user: User, now: datetime) -> LeasedTask:
    """The new lease of a claim statement's row; its submit's checks are remembered."""
    raw_data = row["task_data"]
    leased = LeasedTask(
        lease_id=row["lease_id"],
        slot_id=row["slot_id"],
        task_id=row["task_id"],
        project_id=row["id"],
        user_id=user.pk,
        claimed_at=now,
        expires_at=row["expires_at"],
        data=json_value(raw_data),
        pre_annotation=json_value(row["pre_annotation"]),
        project_name=row["name"],
        task_type=row["task_type"],
        labels=json_value(row["labels"]),
        max_labels=row["max_labels"],
        allow_overlapping_spans=row["allow_overlapping_spans"],
        lease_seconds=row["lease_seconds"],
        instructions_version=row["instructions_version"],
        schema_stamp=row["updated_at"],
        instructions_html=row["instructions_html"],
    )
    claimed_checks.keep(
        leased.lease_id,
        ClaimedCheck(
            user_id=user.pk,
            task_id=leased.task_id,
            project_id=leased.project_id,
            schema=LabelSchema.of(
                task_type=leased.task_type,
                labels=leased.labels,
                max_labels=leased.max_labels,
                allow_overlapping_spans=leased.allow_overlapping_spans,
            ),
            data=leased.data,
            schema_stamp=leased.schema_stamp,
            pipeline=row["pipeline"],
            review_levels=json_value(row["review_levels"]),
            overlap=row["overlap"],
        ),
        data_chars=len(raw_data) if isinstance(raw_data, str) else 0,
    )
    return leased
