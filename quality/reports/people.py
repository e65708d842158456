"""How each person does in a project or one import batch, as an annotator and as a reviewer, and
the order the people table is shown in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Avg, Count, Q

from kit.agreement import agreement_with_reference
from labeling.models import (
    Annotation,
    GoldScore,
    Lease,
    LeaseState,
    Project,
    Review,
    SlotKind,
    TaskStatus,
    TaskType,
    Verdict,
)
from quality.performance import definitions
from quality.reports.scope import (
    ANNOTATION_ROWS_MAX,
    AnnotationRows,
    annotation_rows_load,
    in_scope,
)

# Columns the people table sorts by (the query parameter) and the attribute each reads.
PEOPLE_SORTS = {
    "person": "user_id",
    "labels": "labels",
    "gold": "gold_accuracy",
    "review": "review_pass_rate",
    "agreement": "agreement_share",
    "kappa": "agreement_kappa",
    "mean_agreement": "mean_agreement",
    "active": "active_seconds_per_label",
    "skips": "skips",
}
DEFAULT_PEOPLE_SORT = "-labels"


@dataclass(frozen=True)
class PersonQuality:
    """How one person does in the scope, as an annotator and as a reviewer.

    Agreement with the aggregate (share, kappa, items) compares their newest label of each final,
    non-gold task with its final label (single-label only); `mean_agreement` is the mean of the
    stored per-annotation agreement scores (any task type).
    """

    user_id: int
    labels: int
    active_seconds_per_label: float | None
    mean_agreement: float | None
    agreement_share: float | None
    agreement_kappa: float | None
    agreement_items: int
    gold_accuracy: float | None
    gold_scores: int
    reviews_received: int
    review_pass_rate: float | None
    skips: int
    reviews_given: int
    reviews_audited: int
    reviews_upheld: int
    reviewer_accuracy: float | None

    @property
    def is_annotator(self) -> bool:
        return bool(self.labels or self.gold_scores or self.reviews_received or self.skips)

    @property
    def is_reviewer(self) -> bool:
        return self.reviews_given > 0


@dataclass(frozen=True)
class PeopleReport:
    batch_id: int | None
    is_capped: bool
    rows_max: int
    people: list[PersonQuality]


def _with_reference(
    project: Project, loaded: AnnotationRows
) -> dict[int, tuple[float, float, int]]:
    """Each person's (share equal, kappa, items) against the final labels of the loaded tasks."""
    if project.task_type != TaskType.SINGLE_LABEL:
        return {}
    reference: dict[int, str] = {}
    given: dict[int, dict[int, str | None]] = defaultdict(dict)
    for task_id, author_id, _, is_gold, task_status, _, label, final, is_tie in loaded.rows:
        if is_gold or is_tie or task_status != TaskStatus.COMPLETED or final is None:
            continue
        reference[task_id] = final
        given[author_id].setdefault(task_id, label)  # newest first: the newest revision wins
    return {
        author_id: agreement_with_reference(labels, reference)
        for author_id, labels in given.items()
    }


def people_of_rows(
    project: Project, loaded: AnnotationRows, *, batch_id: int | None, rows_max: int
) -> PeopleReport:
    """Per-person figures: five grouped queries (labels, gold, reviews received and given, skips)."""
    labels = {
        row["author_id"]: row
        for row in in_scope(
            Annotation.objects.filter(project_id=project.pk, corrects__isnull=True), batch_id
        )
        .values("author_id")
        .annotate(
            n=Count("id"),
            active=Avg("active_seconds"),
            agreement=Avg("agreement"),
        )
        .order_by()
    }
    gold = {
        row["user_id"]: row
        for row in in_scope(GoldScore.objects.filter(project_id=project.pk), batch_id)
        .values("user_id")
        .annotate(n=Count("id"), mean=Avg("value"))
        .order_by()
    }
    received = {
        row["author_id"]: row
        for row in in_scope(
            Review.objects.filter(project_id=project.pk, author__isnull=False), batch_id
        )
        .values("author_id")
        .annotate(n=Count("id"), approved=Count("id", filter=Q(verdict=Verdict.APPROVE)))
        .order_by()
    }
    given = {
        row["reviewer_id"]: row
        for row in in_scope(Review.objects.filter(project_id=project.pk), batch_id)
        .values("reviewer_id")
        .annotate(
            n=Count("id"),
            audited=Count("id", filter=Q(upheld__isnull=False)),
            upheld=Count("id", filter=Q(upheld=True)),
        )
        .order_by()
    }
    skips = dict(
        in_scope(
            Lease.objects.filter(project_id=project.pk, state=LeaseState.SKIPPED).exclude(
                slot__kind=SlotKind.REVIEW
            ),
            batch_id,
        )
        .values("user_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user_id", "n")
    )
    versus = _with_reference(project, loaded)
    people = []
    for user_id in sorted({*labels, *gold, *received, *given, *skips}):
        own, scored = labels.get(user_id, {}), gold.get(user_id, {})
        judged, judging = received.get(user_id, {}), given.get(user_id, {})
        share, kappa, items = versus.get(user_id, (0.0, 0.0, 0))
        people.append(
            PersonQuality(
                user_id=user_id,
                labels=own.get("n", 0),
                active_seconds_per_label=own.get("active"),
                mean_agreement=own.get("agreement"),
                agreement_share=share if items else None,
                agreement_kappa=kappa if items else None,
                agreement_items=items,
                gold_accuracy=scored.get("mean"),
                gold_scores=scored.get("n", 0),
                reviews_received=judged.get("n", 0),
                review_pass_rate=definitions.share(judged.get("approved", 0), judged.get("n", 0)),
                skips=skips.get(user_id, 0),
                reviews_given=judging.get("n", 0),
                reviews_audited=judging.get("audited", 0),
                reviews_upheld=judging.get("upheld", 0),
                reviewer_accuracy=definitions.share(
                    judging.get("upheld", 0), judging.get("audited", 0)
                ),
            )
        )
    return PeopleReport(
        batch_id=batch_id, is_capped=loaded.is_capped, rows_max=rows_max, people=people
    )


def people_report(
    *, project: Project, batch_id: int | None = None, rows_max: int = ANNOTATION_ROWS_MAX
) -> PeopleReport:
    """Per-person figures of the project or one import batch (six queries)."""
    loaded = (
        annotation_rows_load(project, batch_id, rows_max)
        if project.task_type == TaskType.SINGLE_LABEL
        else AnnotationRows(rows=[], is_capped=False)
    )
    return people_of_rows(project, loaded, batch_id=batch_id, rows_max=rows_max)


def people_sorted(
    people: Iterable[PersonQuality], sort: str | None
) -> tuple[list[PersonQuality], str]:
    """Sort by a PEOPLE_SORTS key ("-" first for descending); people without a value go last.

    Returns the rows and the sort applied (the default for an unknown key).
    """
    sort = sort or DEFAULT_PEOPLE_SORT
    if sort.lstrip("-") not in PEOPLE_SORTS:
        sort = DEFAULT_PEOPLE_SORT
    attribute = PEOPLE_SORTS[sort.lstrip("-")]
    rows = list(people)
    valued = [p for p in rows if getattr(p, attribute) is not None]
    missing = [p for p in rows if getattr(p, attribute) is None]
    valued.sort(key=lambda p: p.user_id)
    valued.sort(key=lambda p: getattr(p, attribute), reverse=sort.startswith("-"))
    return valued + missing, sort
