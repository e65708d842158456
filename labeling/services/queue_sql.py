"""The work queue's ordinary claim and submit on PostgreSQL, one database round trip each.

Annotators claim and submit hundreds of times an hour, so the common case runs as one call to a
PL/pgSQL function (migration 0008) instead of a dozen ORM statements: the same locks in the same
order, the same rows written. Anything out of the ordinary makes the function answer `fallback`
before it changes anything, and the caller runs the Python path of `labeling.services.queue`,
which stays the one place that decides and words every other outcome:

- claim: a project that is not active, a person who is not eligible, restricted or already at
  their lease limit, a gold task due (decided with the caller's draw; the Python path serves it),
  or no open slot (expired leases are reclaimed and "why no work" is explained by the Python path);
- submit: a lease that is not live, review, rework and gold work, a consensus task reaching its
  overlap (aggregation), projects with review levels, and a completion that webhooks announce.

`QUORUM_QUEUE_SQL = False` turns the functions off (the equivalence tests run both ways).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection

from accounts.models import User
from core.errors import ValidationFailed
from kit.label_schema import LabelSchema
from labeling.models import Annotation, Lease, LeaseState, Project, SlotKind, Task
from workforce.models import WORKING_STATUSES

_CLAIM = "SELECT * FROM quorum_claim_annotate_v1(%s, %s, %s, %s, %s, %s)"
_SUBMIT = "SELECT * FROM quorum_submit_annotate_v1(%s, %s, %s, %s::jsonb, %s)"
# What submit must know before it validates: is the lease live, and the schema and the task data.
_SUBMIT_CONTEXT = """
SELECT l.state, l.expires_at, l.task_id, l.project_id, s.kind,
       p.task_type, p.labels, p.max_labels, p.allow_overlapping_spans, p.updated_at, t.data
FROM labeling_lease l
JOIN labeling_workslot s ON s.id = l.slot_id
JOIN labeling_project p ON p.id = l.project_id
JOIN labeling_task t ON t.id = l.task_id
WHERE l.id = %s AND l.user_id = %s
"""


@dataclass(frozen=True)
class LeasedTask:
    """A new lease as the annotator sees it: the lease, the task and the project's work view.

    Plain values rather than model instances: building models cost more than the claim itself.
    """

    lease_id: int
    slot_id: int
    task_id: int
    project_id: int
    user_id: int
    claimed_at: datetime
    expires_at: datetime
    data: dict[str, Any]
    pre_annotation: dict[str, Any] | None
    project_name: str
    task_type: str
    labels: list[dict[str, Any]]
    max_labels: int | None
    allow_overlapping_spans: bool
    lease_seconds: int
    instructions_version: int
    schema_stamp: datetime  # the project's updated_at when the claim read its schema
    instructions_html: str | None = None  # of `instructions_version`, when the claim read it

    @classmethod
    def of_lease(cls, lease: Lease) -> LeasedTask:
        """The same view of a lease held as models (with its task and project loaded)."""
        project = lease.project
        return cls(
            lease_id=lease.pk,
            slot_id=lease.slot_id,
            task_id=lease.task.pk,
            project_id=project.pk,
            user_id=lease.user_id,
            claimed_at=lease.claimed_at,
            expires_at=lease.expires_at,
            data=lease.task.data,
            pre_annotation=lease.task.pre_annotation,
            project_name=project.name,
            task_type=project.task_type,
            labels=project.labels,
            max_labels=project.max_labels,
            allow_overlapping_spans=project.allow_overlapping_spans,
            lease_seconds=project.lease_seconds,
            instructions_version=project.instructions_version,
            schema_stamp=project.updated_at,
        )

    def as_lease(self, project: Project) -> Lease:
        """The model view of this new lease, for callers that want models."""
        lease = Lease(
            pk=self.lease_id,
            slot_id=self.slot_id,
            task_id=self.task_id,
            project_id=self.project_id,
            user_id=self.user_id,
            state=LeaseState.ACTIVE,
            claimed_at=self.claimed_at,
            last_seen_at=self.claimed_at,
            expires_at=self.expires_at,
            active_seconds=0,
        )
        lease.project = project
        lease.task = Task(
            pk=self.task_id,
            project_id=self.project_id,
            data=self.data,
            pre_annotation=self.pre_annotation,
        )
        return lease


@dataclass(frozen=True)
class Submitted:
    """An annotation stored by the function, with the task's status after it."""

    annotation_id: int
    lease_id: int
    task_id: int
    project_id: int
    author_id: int
    result: dict[str, Any]
    status: str
    active_seconds: int
    submitted_at: datetime
    task_status: str

    def as_annotation(self) -> Annotation:
        """The model view of the stored annotation, with its task's new status."""
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


@dataclass(frozen=True)
class _Checking:
    """What a submit checks its result against, as the claim read it (see `_claimed`)."""

    user_id: int
    task_id: int
    project_id: int
    schema: LabelSchema
    data: dict[str, Any]
    schema_stamp: datetime


class _Claimed:
    """The schema and task data of recent claims of this process, for their submits.

    A submit usually comes to the process that served its claim (the client keeps its connection):
    then it needs no query before its one function call. The function still checks the lease, and
    refuses (the Python path then checks again) if the project changed since. Bounded: the oldest
    entries go first, and tasks with large data are not kept.
    """

    MAX_ENTRIES = 2_000
    MAX_DATA_CHARS = 8_000

    def __init__(self) -> None:
        self._entries: OrderedDict[int, _Checking] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, lease_id: int, checking: _Checking, data_chars: int) -> None:
        if data_chars > self.MAX_DATA_CHARS:
            return
        with self._lock:
            self._entries[lease_id] = checking
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def take(self, lease_id: int) -> _Checking | None:
        with self._lock:
            return self._entries.pop(lease_id, None)


_claimed = _Claimed()


def queue_sql_enabled() -> bool:
    return connection.vendor == "postgresql" and bool(settings.QUORUM_QUEUE_SQL)


# A claim and a submit on the same task can each hold a row the other needs (a consensus or
# depth-first queue puts several people on one task at once); PostgreSQL then aborts one of them
# with deadlock_detected. Outside a transaction of the caller's, the aborted call changed
# nothing, so running it again is safe; inside one, the caller's transaction is lost: re-raise.
_DEADLOCK_ATTEMPTS = 3
_DEADLOCK_DETECTED = "40P01"


def _call(cursor: Any, sql: str, params: list[Any]) -> Any:
    """Execute one queue function and return its row, again after a deadlock when that is safe."""
    for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        except OperationalError as exc:
            deadlock = getattr(exc.__cause__, "sqlstate", None) == _DEADLOCK_DETECTED
            if not deadlock or connection.in_atomic_block or attempt == _DEADLOCK_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _json(value: Any) -> Any:
    """jsonb arrives as text through Django's connection (JSONField decodes it itself)."""
    return json.loads(value) if isinstance(value, str) else value


def claim_annotate_sql(
    *, project_id: int, user: User, now: datetime, prefetch: bool, draw: float
) -> LeasedTask | None:
    """Lease the best open annotate slot in one call; None when the Python path must decide.

    `draw` decides the gold mix as `gold_due` does; when gold is due the Python path serves it.
    """
    if not queue_sql_enabled():
        return None
    with connection.cursor() as cursor:
        row = _call(
            cursor, _CLAIM, [project_id, user.pk, now, prefetch, list(WORKING_STATUSES), draw]
        )
    if row is None or row[0] != "leased":
        return None
    (
        _,
        lease_id,
        slot_id,
        task_id,
        expires_at,
        data,
        pre_annotation,
        name,
        task_type,
        labels,
        max_labels,
        allow_overlapping_spans,
        lease_seconds,
        instructions_version,
        schema_stamp,
        instructions_html,
    ) = row
    leased = LeasedTask(
        lease_id=lease_id,
        slot_id=slot_id,
        task_id=task_id,
        project_id=project_id,
        user_id=user.pk,
        claimed_at=now,
        expires_at=expires_at,
        data=_json(data),
        pre_annotation=_json(pre_annotation),
        project_name=name,
        task_type=task_type,
        labels=_json(labels),
        max_labels=max_labels,
        allow_overlapping_spans=allow_overlapping_spans,
        lease_seconds=lease_seconds,
        instructions_version=instructions_version,
        schema_stamp=schema_stamp,
        instructions_html=instructions_html,
    )
    _claimed.keep(
        leased.lease_id,
        _Checking(
            user_id=user.pk,
            task_id=task_id,
            project_id=project_id,
            schema=LabelSchema.of(
                task_type=task_type,
                labels=leased.labels,
                max_labels=max_labels,
                allow_overlapping_spans=allow_overlapping_spans,
            ),
            data=leased.data,
            schema_stamp=schema_stamp,
        ),
        data_chars=len(data) if isinstance(data, str) else 0,
    )
    return leased


def _checking_read(cursor: Any, lease_id: int, user: User, now: datetime) -> _Checking | None:
    """Read what the submit checks against; None unless the lease is the caller's, live and of
    annotate work (the Python path then refuses it in its own words, or handles the kind)."""
    cursor.execute(_SUBMIT_CONTEXT, [lease_id, user.pk])
    row = cursor.fetchone()
    if row is None:
        return None
    state, expires_at, task_id, project_id, kind, task_type, labels, max_labels, overlapping = row[
        :9
    ]
    stamp, data = row[9:]
    if state != LeaseState.ACTIVE or expires_at <= now or kind != SlotKind.ANNOTATE:
        return None
    return _Checking(
        user_id=user.pk,
        task_id=task_id,
        project_id=project_id,
        schema=LabelSchema.of(
            task_type=task_type,
            labels=_json(labels),
            max_labels=max_labels,
            allow_overlapping_spans=overlapping,
        ),
        data=_json(data),
        schema_stamp=stamp,
    )


def submit_annotate_sql(
    *, lease_id: int, user: User, result: Any, now: datetime
) -> Submitted | None:
    """Validate and store an ordinary annotation in one call; None when the Python path must.

    Raises ValidationFailed (nothing stored) exactly as the Python path does.
    """
    from labeling.services.queue import result_validated

    if not queue_sql_enabled():
        return None
    with connection.cursor() as cursor:
        checking = _claimed.take(lease_id)
        remembered = checking is not None and checking.user_id == user.pk
        if checking is None or not remembered:
            checking = _checking_read(cursor, lease_id, user, now)
            if checking is None:
                return None
        try:
            clean = result_validated(checking.schema, checking.data, result)
        except ValidationFailed:
            if not remembered:
                raise
            # Judge by what holds now: a lease no longer live is refused for that (by the Python
            # path), and a project whose labels changed since the claim by its new labels.
            checking = _checking_read(cursor, lease_id, user, now)
            if checking is None:
                return None
            clean = result_validated(checking.schema, checking.data, result)
        row = _call(
            cursor, _SUBMIT, [lease_id, user.pk, now, json.dumps(clean), checking.schema_stamp]
        )
    if row is None or row[0] != "submitted":
        return None
    _, annotation_id, task_status, status, active_seconds = row
    return Submitted(
        annotation_id=annotation_id,
        lease_id=lease_id,
        task_id=checking.task_id,
        project_id=checking.project_id,
        author_id=user.pk,
        result=clean,
        status=status,
        active_seconds=active_seconds,
        submitted_at=now,
        task_status=task_status,
    )
