"""Submissions and skips: how a person finishes a leased task.

A submission stores the person's annotation and lets the pipeline decide what follows
(`labeling.services.completion`). As for claims (`labeling.services.claim`) there are two
writers of one operation. The transactional writer handles every kind of work and every
outcome, on every database. On PostgreSQL an ordinary annotation (an annotate lease that is
live, of a project whose schema has not changed since the claim, that `plain_submission` says
needs no pipeline step, and whose completion no webhook must announce) is one statement
(`_SUBMIT_STATEMENT`), which checks all that itself under the lease's lock and writes nothing
when one fails; the transactional writer then decides and words the outcome.

Lock order, as everywhere: lease, then task (`FOR NO KEY UPDATE`: the key-share locks that a
claim's inserts take on the task do not wait for it), then slot, then project (last: it is every
submit's hot spot).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import User
from core.errors import Conflict, ValidationFailed
from core.statements import (
    DEADLOCK_DETECTED,
    json_value,
    named_placeholders,
    statement_run_prepared,
)
from kit.label_schema import LabelSchema
from labeling.errors import LeaseExpired
from labeling.events import work_final, work_final_send, work_submitted, work_submitted_send
from labeling.models import (
    Annotation,
    Lease,
    LeaseState,
    Project,
    SlotKind,
    Task,
    TaskStatus,
)
from labeling.models.projects import tally_shard
from labeling.services.completion import (
    initial_annotation_status,
    plain_submission,
    task_after_submission,
)
from labeling.services.gold import gold_feedback
from labeling.services.leases import (
    active_increment,
    lease_end,
    lease_ensure_live,
    lease_expire_if_due,
    lease_hand_in,
    lease_is_rework,
    lease_lock,
    leases_reserved_start,
)
from labeling.services.results import (
    ClaimedCheck,
    claimed_checks,
    result_clean,
    task_result_clean,
)
from labeling.services.review import rework_give_up
from labeling.services.statements import statements_enabled
from labeling.services.tallies import TALLY_INSERT, TALLY_UPSERT, project_tally_add
from labeling.services.task_state import task_final_announce


@dataclass(frozen=True)
class Submission:
    """A submission as the annotator's tools see it; `feedback` after a gold task in training mode."""

    annotation_id: int
    task_status: str
    feedback: dict[str, Any] | None = None


def lease_submit(
    *, lease_id: int, user: User, result: Any, now: datetime | None = None
) -> Annotation:
    """Store the person's annotation for their leased task and let the pipeline decide what follows.

    Raises LeaseExpired (the task went back to the queue; nothing is saved), LeaseNotActive,
    Conflict for a review lease (reviews take a verdict), or ValidationFailed naming the bad part
    of the result. On a gold task the annotation carries its `gold_score` when it returns.
    """
    now = now or timezone.now()
    stored = _submit_statement(lease_id=lease_id, user=user, result=result, now=now)
    if stored is not None:
        return stored.annotation()
    return _submit_locked(lease_id=lease_id, user=user, result=result, now=now)


def lease_submit_outcome(*, lease_id: int, user: User, result: Any) -> Submission:
    """`lease_submit` for callers that need no models (the API): the ordinary submission builds
    none; after a gold task it carries the training-mode feedback."""
    now = timezone.now()
    stored = _submit_statement(lease_id=lease_id, user=user, result=result, now=now)
    if stored is not None:
        return Submission(annotation_id=stored.annotation_id, task_status=stored.task_status)
    annotation = _submit_locked(lease_id=lease_id, user=user, result=result, now=now)
    if not annotation.task.is_gold:
        return Submission(annotation_id=annotation.pk, task_status=annotation.task.status)
    project = Project.objects.get(pk=annotation.project_id)
    return Submission(
        annotation_id=annotation.pk,
        task_status=annotation.task.status,
        feedback=gold_feedback(annotation=annotation, project=project),
    )


# --- The transactional writer ------------------------------------------------------------------


def _submit_locked(*, lease_id: int, user: User, result: Any, now: datetime) -> Annotation:
    """Every kind of work and every outcome of a submission, on every database."""
    try:
        with transaction.atomic():
            lease = lease_lock(lease_id, user, with_project=True)
            project = lease.project
            lease_ensure_live(lease, now)
            kind = lease.slot.kind
            if kind == SlotKind.REVIEW:
                raise Conflict(
                    "This is a review task: give a verdict through the review endpoint.",
                    code="review_lease",
                    extra={"verdict_url": f"/api/v1/leases/{lease.pk}/verdict/"},
                )
            task = Task.objects.select_for_update(no_key=True).get(pk=lease.task_id)
            clean = task_result_clean(project, task, result)
            active = lease.active_seconds + active_increment(lease, project, now)
            revision = 1
            if kind == SlotKind.REWORK:
                latest = Annotation.objects.filter(task_id=task.pk, author_id=user.pk).aggregate(
                    latest=Max("revision")
                )["latest"]
                revision = (latest or 0) + 1
            annotation = Annotation.objects.create(
                task=task,
                project_id=project.pk,
                author_id=user.pk,
                lease=lease,
                revision=revision,
                result=clean,
                status=initial_annotation_status(project, kind),
                instructions_version=project.instructions_version or None,
                active_seconds=active,
                submitted_at=now,
            )
            lease_hand_in(lease, now=now, active_seconds=active)
            work_submitted_send(
                user_id=user.pk,
                project_id=project.pk,
                task_id=task.pk,
                annotation_id=annotation.pk,
                kind=kind,
                active_seconds=active,
                submitted_at=now,
            )
            task.annotations_count += 1
            changes = task_after_submission(
                task=task, project=project, annotation=annotation, now=now, kind=kind
            )
            if task.status == TaskStatus.COMPLETED:
                changes = None  # already final (the row is locked): it is completed exactly once
            # One UPDATE counts the annotation and, when the pipeline says so, moves the task on.
            Task.objects.filter(pk=task.pk).update(
                annotations_count=F("annotations_count") + 1, **(changes or {})
            )
            for name, value in (changes or {}).items():
                setattr(task, name, value)
            completed = bool(changes) and task.status == TaskStatus.COMPLETED
            leases_reserved_start(lease, now)
            project_tally_add(
                project_id=project.pk, user_id=user.pk, annotations=1, completed=int(completed)
            )
            if completed:
                task_final_announce(task=task, project=project)
            annotation.task = task
            return annotation
    except LeaseExpired:
        lease_expire_if_due(lease_id, user, now)
        raise


# --- The one-statement writer (PostgreSQL) -------------------------------------------------------

# What a submit checks its result against, when the claim was served by another process.
_CHECK_READ = """
SELECT l.state, l.expires_at, l.task_id, l.project_id, s.kind,
       p.task_type, p.labels, p.max_labels, p.allow_overlapping_spans, p.updated_at,
       p.pipeline, p.review_levels, p.overlap, t.data
FROM labeling_lease l
JOIN labeling_workslot s ON s.id = l.slot_id
JOIN labeling_project p ON p.id = l.project_id
JOIN labeling_task t ON t.id = l.task_id
WHERE l.id = %s AND l.user_id = %s
"""

# `go` holds when the lease is the caller's, live and of annotate work, the project's schema is
# the one the result was checked against, and `plain_submission`'s rule (given as `final_at` and
# `steps_at`) needs no pipeline step; else nothing is written.
#
# Its reads of leases are written so that PostgreSQL can serve them by one index only, whatever
# its statistics say: the statement is prepared once per connection, and a plan made while the
# table's statistics are missing or stale (a fresh database until autovacuum reaches
# `labeling_lease`, or a server without autovacuum) is kept for the connection's life. With the
# plain conditions such a plan read the lease through the index of every lease its person ever
# had, and the person's other live leases (`reserved`) through the index of every lease of the
# project: bench/queue.py at 16 annotators, 1.2 ms of PostgreSQL time per submit instead of 0.4.
# So `l` finds the lease by its key alone, whose it is being one of the conditions (`mine`: a call
# naming someone else's lease locks that row for this statement's transaction and writes
# nothing), and `reserved` compares (person, project) as a row, which only the index of live
# leases by (person, project) matches whole. tests/labeling/services/test_queue_statements.py
# checks the plans, with and without statistics.
_SUBMIT_STATEMENT = """
WITH l AS (
    SELECT l.id, l.user_id, l.slot_id, l.task_id, l.project_id, l.state, l.expires_at,
           l.last_seen_at, l.active_seconds, s.kind
    FROM labeling_lease l JOIN labeling_workslot s ON s.id = l.slot_id
    WHERE l.id = %(lease)s
    FOR UPDATE OF l
),
p AS (
    SELECT id, idle_cap_seconds, instructions_version, customer_id, updated_at
    FROM labeling_project WHERE id = (SELECT project_id FROM l)
),
t AS (
    SELECT id, status, annotations_count FROM labeling_task
    WHERE id = (SELECT task_id FROM l) FOR NO KEY UPDATE
),
d AS (
    SELECT l.user_id = %(user)s AS mine,
           l.state = 'active' AND l.expires_at > %(now)s AS live,
           l.kind = 'annotate' AS annotate,
           p.updated_at = %(stamp)s AS same_schema,
           (t.status <> 'completed' AND t.annotations_count + 1 >= %(final_at)s) IS TRUE
               AS completes,
           (t.annotations_count + 1 >= %(steps_at)s) IS TRUE AS steps,
           EXISTS (
               SELECT 1 FROM labeling_webhookendpoint w
               WHERE w.customer_id = p.customer_id AND w.is_active
           ) AS hooks,
           l.active_seconds + floor(LEAST(
               GREATEST(extract(epoch FROM (%(now)s - l.last_seen_at)), 0), p.idle_cap_seconds
           ))::integer AS active_seconds,
           NULLIF(p.instructions_version, 0) AS instructions_version,
           t.status AS task_status
    FROM l, p, t
),
go AS (
    SELECT d.*,
           mine AND live AND annotate AND same_schema AND NOT steps AND NOT (completes AND hooks)
               AS go
    FROM d
),
annotation AS (
    INSERT INTO labeling_annotation (
        task_id, project_id, author_id, lease_id, revision, corrects_id, result, status,
        instructions_version, active_seconds, submitted_at, agreement
    )
    SELECT l.task_id, l.project_id, %(user)s, l.id, 1, NULL, %(result)s::jsonb, %(status)s,
           go.instructions_version, go.active_seconds, %(now)s, NULL
    FROM l, go WHERE go.go
    RETURNING id
),
lease_done AS (
    UPDATE labeling_lease
    SET state = 'submitted', ended_at = %(now)s, active_seconds = go.active_seconds,
        last_seen_at = %(now)s
    FROM go WHERE labeling_lease.id = %(lease)s AND go.go
),
slot_done AS (
    UPDATE labeling_workslot SET state = 'done', lease_expires_at = NULL
    FROM go WHERE labeling_workslot.id = (SELECT slot_id FROM l) AND go.go
),
task_counted AS (
    UPDATE labeling_task
    SET annotations_count = annotations_count + 1,
        status = CASE WHEN go.completes THEN 'completed' ELSE labeling_task.status END,
        completed_at = CASE WHEN go.completes THEN %(now)s ELSE completed_at END,
        result = CASE WHEN go.completes THEN %(final)s::jsonb ELSE result END,
        agreement = CASE WHEN go.completes THEN NULL ELSE agreement END,
        is_tie = CASE WHEN go.completes THEN false ELSE is_tie END,
        confidence = CASE WHEN go.completes THEN NULL ELSE confidence END
    FROM go WHERE labeling_task.id = (SELECT task_id FROM l) AND go.go
),
reserved AS (
    UPDATE labeling_lease SET last_seen_at = %(now)s
    FROM go
    WHERE (labeling_lease.user_id, labeling_lease.project_id) >= (%(user)s, (SELECT project_id FROM l))
      AND (labeling_lease.user_id, labeling_lease.project_id) <= (%(user)s, (SELECT project_id FROM l))
      AND labeling_lease.state = 'active' AND labeling_lease.id <> %(lease)s AND go.go
),
{counters}
SELECT go.*, annotation.id AS annotation_id, (SELECT task_id FROM l) AS task_id,
       (SELECT project_id FROM l) AS project_id
FROM go LEFT JOIN annotation ON true
"""


def _check_read(lease_id: int, user: User, now: datetime) -> ClaimedCheck | None:
    """Read what the submit checks against; None unless the lease is the caller's, live and of
    annotate work (the transactional writer then words or handles it)."""
    with connection.cursor() as cursor:
        cursor.execute(_CHECK_READ, [lease_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    state, expires_at, task_id, project_id, kind, task_type, labels, max_labels = row[:8]
    overlapping, stamp, pipeline, review_levels, overlap, data = row[8:]
    if state != LeaseState.ACTIVE or expires_at <= now or kind != SlotKind.ANNOTATE:
        return None
    return ClaimedCheck(
        user_id=user.pk,
        task_id=task_id,
        project_id=project_id,
        schema=LabelSchema.of(
            task_type=task_type,
            labels=json_value(labels),
            max_labels=max_labels,
            allow_overlapping_spans=overlapping,
        ),
        data=json_value(data),
        schema_stamp=stamp,
        pipeline=pipeline,
        review_levels=json_value(review_levels),
        overlap=overlap,
    )


@dataclass(frozen=True)
class _Stored:
    """An ordinary annotation the one-statement writer stored (a task never gold)."""

    annotation_id: int
    task_id: int
    project_id: int
    author_id: int
    lease_id: int
    result: Any
    status: str
    active_seconds: int
    submitted_at: datetime
    task_status: str

    def annotation(self) -> Annotation:
        annotation = Annotation(
            pk=self.annotation_id,
            task_id=self.task_id,
            project_id=self.project_id,
            author_id=self.author_id,
            lease_id=self.lease_id,
            revision=1,
            result=self.result,
            status=self.status,
            active_seconds=self.active_seconds,
            submitted_at=self.submitted_at,
        )
        annotation.task = Task(
            pk=self.task_id, project_id=self.project_id, status=self.task_status, is_gold=False
        )
        return annotation


def _submit_statement(*, lease_id: int, user: User, result: Any, now: datetime) -> _Stored | None:
    """Validate and store an ordinary annotation in one statement; None when the transactional
    writer must decide. Raises ValidationFailed (nothing stored) as that writer does."""
    if not statements_enabled():
        return None
    check = claimed_checks.take(lease_id)
    remembered = check is not None and check.user_id == user.pk
    if check is None or not remembered:
        check = _check_read(lease_id, user, now)
        if check is None:
            return None
    try:
        clean = result_clean(check.schema, check.data, result)
    except ValidationFailed:
        if not remembered:
            raise
        # Judge by what holds now: a lease no longer live is refused for that (by the
        # transactional writer), and a project whose labels changed since the claim by its new labels.
        check = _check_read(lease_id, user, now)
        if check is None:
            return None
        clean = result_clean(check.schema, check.data, result)
    plain = plain_submission(
        pipeline=check.pipeline, review_levels=check.review_levels, overlap=check.overlap
    )
    if plain is None:
        return None  # every submission of this project takes a pipeline step
    params = {
        "lease": lease_id,
        "user": user.pk,
        "now": now,
        "stamp": check.schema_stamp,
        "final_at": plain.final_at,
        "steps_at": plain.steps_at,
        "result": json.dumps(clean),
        "status": plain.status,
        "final": json.dumps(clean) if plain.final_result else None,
        "shard": tally_shard(user.pk),
    }
    row = _run_announced(params)
    if row is None or row["annotation_id"] is None:
        return None
    return _Stored(
        annotation_id=row["annotation_id"],
        task_id=row["task_id"],
        project_id=row["project_id"],
        author_id=user.pk,
        lease_id=lease_id,
        result=clean,
        status=plain.status,
        active_seconds=row["active_seconds"],
        submitted_at=now,
        task_status=TaskStatus.COMPLETED if row["completes"] else row["task_status"],
    )


_DEADLOCK_ATTEMPTS = 3


# The project's counts: this submission's annotation and, when it makes its task final, the
# task, added to the submitter's tally row (labeling/services/tallies.py).
_COUNTERS_CTE = f"""counters AS (
    {TALLY_INSERT}
    SELECT (SELECT project_id FROM l), %(shard)s, 1, CASE WHEN go.completes THEN 1 ELSE 0 END
    FROM go WHERE go.go
    {TALLY_UPSERT}
)"""  # noqa: S608 (constant SQL pieces only)
_SUBMIT_SQL, _SUBMIT_PARAMS = named_placeholders(
    _SUBMIT_STATEMENT.replace("{counters}", _COUNTERS_CTE)
)
_SUBMIT_ARGUMENTS = {
    "lease": "bigint",
    "user": "bigint",
    "now": "timestamptz",
    "stamp": "timestamptz",
    "final_at": "integer",
    "steps_at": "integer",
    "result": "text",
    "status": "text",
    "final": "text",
    "shard": "integer",
}


def _submit_run(params: dict[str, Any]) -> dict[str, Any] | None:
    return statement_run_prepared(
        _SUBMIT_SQL, _SUBMIT_PARAMS, arguments=_SUBMIT_ARGUMENTS, values=params
    )


def _run_announced(params: dict[str, Any]) -> dict[str, Any] | None:
    """Run the submit statement; with receivers of the work events, inside a transaction that
    also announces it (again after a deadlock, which undid everything)."""
    if not (work_submitted.has_listeners() or work_final.has_listeners()):
        return _submit_run(params)
    if connection.in_atomic_block:  # the caller's transaction: a savepoint, and no retry
        with transaction.atomic():
            return _run_and_announce(params)
    for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _run_and_announce(params)
        except OperationalError as exc:
            if (
                getattr(exc.__cause__, "sqlstate", None) != DEADLOCK_DETECTED
                or attempt == _DEADLOCK_ATTEMPTS
            ):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _run_and_announce(params: dict[str, Any]) -> dict[str, Any] | None:
    row = _submit_run(params)
    if row is None or row["annotation_id"] is None:
        return row
    work_submitted_send(
        user_id=params["user"],
        project_id=row["project_id"],
        task_id=row["task_id"],
        annotation_id=row["annotation_id"],
        kind=SlotKind.ANNOTATE,
        active_seconds=row["active_seconds"],
        submitted_at=params["now"],
        completes_task=bool(row["completes"]),
    )
    if row["completes"]:
        work_final_send(
            project_id=row["project_id"], task_id=row["task_id"], completed_at=params["now"]
        )
    return row


# --- Skips ----------------------------------------------------------------------------------------


def lease_skip(
    *, lease_id: int, user: User, reason: str = "", now: datetime | None = None
) -> Lease:
    """Give the task back and never be offered it again; the slot returns to the queue for others.

    Skipping rework gives it up: someone else gets the task (see `rework_give_up`)."""
    now = now or timezone.now()
    if len(reason) > 500:
        raise ValidationFailed(
            "reason: At most 500 characters.", fields={"reason": ["At most 500 characters."]}
        )
    try:
        with transaction.atomic():
            lease = lease_lock(lease_id, user)
            lease_ensure_live(lease, now)
            project = Project.objects.get(pk=lease.project_id)
            lease.active_seconds += active_increment(lease, project, now)
            lease.skip_reason = reason.strip()
            lease.save(update_fields=["active_seconds", "skip_reason"])
            rework = lease_is_rework(lease)
            lease_end(
                lease, state=LeaseState.SKIPPED, now=now, forget_holder=False, reopen=not rework
            )
            if rework:
                rework_give_up(lease=lease)
            leases_reserved_start(lease, now)
            return lease
    except LeaseExpired:
        lease_expire_if_due(lease_id, user, now)
        raise
