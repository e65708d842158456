"""A claim's result: the lease with what the annotator sees, as models or as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labeling.models import (
    Lease,
    LeaseState,
    Project,
    Task,
)


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
class Claim:
    lease: Lease
    resumed: bool  # True when the person already held this lease (a repeated claim is harmless)


@dataclass(frozen=True)
class ClaimOutcome:
    """A claim as the annotator's tools see it: the lease with its task and project, in plain values."""

    leased: LeasedTask
    state: str = LeaseState.ACTIVE
    active_seconds: int = 0
    resumed: bool = False

    @classmethod
    def of_claim(cls, claim: Claim) -> ClaimOutcome:
        lease = claim.lease
        return cls(
            leased=LeasedTask.of_lease(lease),
            state=lease.state,
            active_seconds=lease.active_seconds,
            resumed=claim.resumed,
        )
