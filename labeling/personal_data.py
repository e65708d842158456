"""labeling's section of a person's data: their work history (quality actions and appeals: quality).

Labels stay after an erasure: what a person labelled is the customer's data, and the labels,
reviews and scores keep pointing at the (then pseudonymous) user id. Free text the person wrote
about themselves (skip remarks) is erased.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import Avg, Count, Max, Min, Sum

from accounts.models import User
from accounts.personal_data import (
    REDACTED,
    Erasure,
    PersonalDataSection,
    personal_data_section_register,
)
from labeling.models import (
    Annotation,
    CustomerMember,
    ExportJob,
    GoldScore,
    ImportJob,
    Lease,
    Review,
    TaskParticipation,
    WorkerConfusion,
    WorkerProjectState,
)

_CHUNK = 1000


def _annotations(user: User) -> Iterator[Mapping[str, Any]]:
    rows = (
        Annotation.objects.filter(author_id=user.pk)
        .order_by("submitted_at", "pk")
        .values(
            "id",
            "task_id",
            "project_id",
            "revision",
            "corrects_id",
            "status",
            "result",
            "instructions_version",
            "active_seconds",
            "submitted_at",
            "agreement",
        )
    )
    yield from rows.iterator(chunk_size=_CHUNK)


def _reviews_received(user: User) -> Iterator[Mapping[str, Any]]:
    # The reviewer appears by user id only; the correction's content is the reviewer's work.
    rows = (
        Review.objects.filter(author_id=user.pk)
        .order_by("created_at", "pk")
        .values(
            "id",
            "task_id",
            "annotation_id",
            "level",
            "verdict",
            "reason",
            "comment",
            "correction_score",
            "reviewer_id",
            "created_at",
        )
    )
    yield from rows.iterator(chunk_size=_CHUNK)


def _reviews_given(user: User) -> Iterator[Mapping[str, Any]]:
    rows = (
        Review.objects.filter(reviewer_id=user.pk)
        .order_by("created_at", "pk")
        .values(
            "id",
            "task_id",
            "annotation_id",
            "author_id",
            "level",
            "verdict",
            "reason",
            "comment",
            "correction_id",
            "upheld",
            "active_seconds",
            "created_at",
        )
    )
    yield from rows.iterator(chunk_size=_CHUNK)


def _skips(user: User) -> Iterator[Mapping[str, Any]]:
    rows = (
        Lease.objects.filter(user_id=user.pk, state="skipped")
        .order_by("claimed_at", "pk")
        .values("task_id", "project_id", "claimed_at", "ended_at", "skip_reason")
    )
    yield from rows.iterator(chunk_size=_CHUNK)


def _export(user: User) -> Mapping[str, Any]:
    membership = CustomerMember.objects.filter(user=user).select_related("customer").first()
    leases = (
        Lease.objects.filter(user_id=user.pk)
        .values("project_id", "state")
        .annotate(count=Count("id"), active_seconds=Sum("active_seconds"))
        .order_by("project_id", "state")
    )
    participation = (
        TaskParticipation.objects.filter(user_id=user.pk)
        .values("task__project_id")
        .annotate(tasks=Count("id"))
        .order_by("task__project_id")
    )
    # Gold results per project, not per task: a list of which tasks were gold would tell others
    # which tasks to be careful with (gold tasks are the same for everyone in a project).
    gold = (
        GoldScore.objects.filter(user_id=user.pk)
        .values("project_id")
        .annotate(
            scored=Count("id"),
            mean_score=Avg("value"),
            first_scored_at=Min("scored_at"),
            last_scored_at=Max("scored_at"),
        )
        .order_by("project_id")
    )
    return {
        "customer_membership": None
        if membership is None
        else {
            "customer_id": membership.customer_id,
            "customer": membership.customer.name,
            "joined_at": membership.joined_at,
        },
        "annotations": _annotations(user),
        "reviews_of_your_work": _reviews_received(user),
        "reviews_you_gave": _reviews_given(user),
        "leases_by_project": [
            {
                "project_id": row["project_id"],
                "state": row["state"],
                "count": row["count"],
                "active_seconds": row["active_seconds"] or 0,
            }
            for row in leases
        ],
        "skips": _skips(user),
        "tasks_touched_by_project": [
            {"project_id": row["task__project_id"], "tasks": row["tasks"]} for row in participation
        ],
        "gold_accuracy_by_project": list(gold),
        "project_states": list(
            WorkerProjectState.objects.filter(user_id=user.pk)
            .order_by("project_id")
            .values(
                "project_id",
                "tasks_claimed",
                "gold_rate_override",
                "is_suspended",
                "suspended_until",
                "needs_retraining",
                "updated_at",
            )
        ),
        "worker_estimates": list(
            WorkerConfusion.objects.filter(user_id=user.pk)
            .order_by("project_id")
            .values("project_id", "classes", "matrix", "accuracy", "labels_seen", "updated_at")
        ),
        "imports_started": list(
            ImportJob.objects.filter(created_by_id=user.pk)
            .order_by("created_at", "pk")
            .values("id", "project_id", "source_kind", "status", "created_at")
        ),
        "exports_started": list(
            ExportJob.objects.filter(created_by_id=user.pk)
            .order_by("created_at", "pk")
            .values("id", "project_id", "file_format", "status", "created_at")
        ),
    }


def _erase(erasure: Erasure) -> None:
    """Erase the person's own remarks and notes about them; keep labels, reviews and scores."""
    user_id = erasure.user.pk
    erasure.count(
        "work",
        "skip_remarks_erased",
        Lease.objects.filter(user_id=user_id)
        .exclude(skip_reason__in=["", REDACTED])
        .update(skip_reason=REDACTED),
    )
    # The person no longer acts for the customer; what they did stays in the audit trail.
    deleted, _ = CustomerMember.objects.filter(user_id=user_id).delete()
    erasure.count("work", "customer_memberships_ended", deleted)


def register() -> None:
    """Register labeling's section (called from `LabelingConfig.ready`)."""
    personal_data_section_register(
        PersonalDataSection(
            name="work",
            title="Your work: labels, reviews, skips, gold accuracy",
            export=_export,
            erase=_erase,
            erase_order=300,
        )
    )
