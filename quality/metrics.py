"""Quality figures of a project or one of its import batches: agreement, and how each person does.

Selectors only: each loads plain rows with a fixed number of queries, whatever the number of people
or tasks, and hands them to the pure functions of `kit.agreement`; nothing here writes.

What is capped and what is exact: the agreement coefficients (Fleiss, Krippendorff, Cohen) and each
person's agreement with the final results are computed in Python over the newest
`ANNOTATION_ROWS_MAX` annotations of the scope, and a report says when that cap left older ones out.
Counts, active time, mean stored scores (agreement, gold) and review figures are aggregated by the
database over everything.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform

from kit.agreement import (
    agreement_with_reference,
    cohen_kappa,
    counts_table,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from labeling.models import (
    Annotation,
    AnnotationStatus,
    GoldAnswer,
    GoldScore,
    ImportJob,
    Lease,
    LeaseState,
    Pipeline,
    Project,
    Review,
    SlotKind,
    TaskStatus,
    TaskType,
    Verdict,
    WorkerConfusion,
)

ANNOTATION_ROWS_MAX = 200_000
# Cohen's kappa of two people on fewer common items says little; such pairs are left out.
PAIR_MIN_ITEMS = 10
TOP_PAIRS = 10
GOLD_ROWS_MAX = 200
CONFUSIONS_MAX = 200
# Work that counts in a vote: not rejected or discounted (and never a reviewer's correction).
COUNTED = frozenset({AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED})

ALPHA_LABEL = "Krippendorff's alpha (nominal)"
MEAN_AGREEMENT_LABEL = "Mean agreement with the final result"


@dataclass(frozen=True)
class PairKappa:
    first: int
    second: int
    kappa: float
    items: int


@dataclass(frozen=True)
class AgreementReport:
    """Inter-annotator agreement of a project (batch_id None) or one import batch.

    A coefficient that cannot be computed is None and its note says why ("n/a: ...").
    `alpha_label` says what `alpha` is: Krippendorff's alpha for single labels, else the mean
    per-annotation agreement score with the final result.
    """

    batch_id: int | None
    task_type: str
    annotations: int
    tasks: int
    is_capped: bool
    rows_max: int
    fleiss_kappa: float | None
    fleiss_raters: int | None
    fleiss_tasks: int
    fleiss_note: str
    alpha: float | None
    alpha_label: str
    alpha_note: str
    pairwise_kappa: float | None
    pairs_count: int
    pairwise_note: str
    pairs: list[PairKappa]


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


@dataclass(frozen=True)
class QualityReport:
    agreement: AgreementReport
    people: PeopleReport


@dataclass(frozen=True)
class GoldRow:
    task_id: int
    external_id: str | None
    result: Any
    explanation: str
    is_retired: bool
    version: int
    updated_at: datetime
    scores: int
    mean_score: float | None


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
class _Rows:
    """The newest annotations of a scope, as plain tuples (see `_rows_load` for the fields)."""

    rows: list[tuple[Any, ...]]
    is_capped: bool


def _in_scope(queryset: QuerySet[Any], batch_id: int | None, task: str = "task") -> QuerySet[Any]:
    if batch_id is None:
        return queryset
    return queryset.filter(**{f"{task}__import_job_id": batch_id})


def _rows_load(project: Project, batch_id: int | None, rows_max: int) -> _Rows:
    """Load (task, author, status, is_gold, task status, agreement, label, final label, is_tie)
    newest first, one query; the labels are read by the database, for single-label projects only."""
    annotations = _in_scope(
        Annotation.objects.filter(project_id=project.pk, corrects__isnull=True).exclude(
            status=AnnotationStatus.DISCOUNTED
        ),
        batch_id,
    )
    fields = ["task_id", "author_id", "status", "task__is_gold", "task__status", "agreement"]
    if project.task_type == TaskType.SINGLE_LABEL:
        annotations = annotations.annotate(
            label_given=KeyTextTransform("label", "result"),
            label_final=KeyTextTransform("label", "task__result"),
        )
        # A tie's final label is JSON null, which some databases read as the text "null": the
        # task's is_tie says it instead.
        fields += ["label_given", "label_final", "task__is_tie"]
    rows = list(annotations.order_by("-submitted_at", "-pk").values_list(*fields)[: rows_max + 1])
    is_capped = len(rows) > rows_max
    return _Rows(rows=rows[:rows_max], is_capped=is_capped)


def _counted_by_task(
    project: Project, loaded: _Rows
) -> tuple[dict[int, dict[int, Hashable]], list[float]]:
    """Each non-gold task's counted labels by author (newest revision), and their agreement scores.

    For a task type other than single-label the "label" is True: only who labeled what matters.
    """
    single = project.task_type == TaskType.SINGLE_LABEL
    by_task: dict[int, dict[int, Hashable]] = defaultdict(dict)
    scores: list[float] = []
    for row in loaded.rows:
        task_id, author_id, status, is_gold, _, agreement = row[:6]
        if is_gold or status not in COUNTED or author_id in by_task.get(task_id, {}):
            continue
        label = row[6] if single else True
        if label is None:
            continue
        by_task[task_id][author_id] = label
        if agreement is not None:
            scores.append(float(agreement))
    return by_task, scores


def _fleiss(
    single: bool, by_task: dict[int, dict[int, Hashable]]
) -> tuple[float | None, int | None, int, str]:
    if not single:
        return None, None, 0, "n/a: Fleiss' kappa applies to single-label classification."
    sizes = Counter(len(labels) for labels in by_task.values() if len(labels) >= 2)
    if not sizes:
        return None, None, 0, "n/a: no task has two or more annotations yet."
    # The most common number of annotations per task (ties: the larger number).
    raters, tasks = max(sizes.items(), key=lambda size: (size[1], size[0]))
    table, _ = counts_table(
        [list(labels.values()) for labels in by_task.values() if len(labels) == raters]
    )
    left_out = len(by_task) - tasks
    note = f"Over {tasks} task{'s' if tasks != 1 else ''} with {raters} annotations each"
    if left_out:
        note += (
            f"; {left_out} task{'s' if left_out != 1 else ''} with another number of "
            "annotations left out"
        )
    return fleiss_kappa(table), raters, tasks, note + "."


def _alpha(
    single: bool, by_task: dict[int, dict[int, Hashable]], scores: Sequence[float]
) -> tuple[float | None, str, str]:
    if not single:
        if not scores:
            return None, MEAN_AGREEMENT_LABEL, "n/a: no final task has scored annotations yet."
        return (
            sum(scores) / len(scores),
            MEAN_AGREEMENT_LABEL,
            f"Krippendorff's alpha needs single labels; this is the mean agreement score (0..1) "
            f"of {len(scores)} annotations with their task's final result instead.",
        )
    units = [list(labels.values()) for labels in by_task.values()]
    pairable = sum(1 for unit in units if len(unit) >= 2)
    if not pairable:
        return None, ALPHA_LABEL, "n/a: no task has two or more annotations yet."
    return (
        krippendorff_alpha_nominal(units),
        ALPHA_LABEL,
        f"Over {pairable} task{'s' if pairable != 1 else ''} with two or more annotations "
        "(any number each: missing annotations are allowed).",
    )


def _pairs(
    by_task: dict[int, dict[int, Hashable]], min_items: int
) -> tuple[float | None, int, list[PairKappa]]:
    """Cohen's kappa of every pair of people with at least `min_items` tasks in common.

    Walks each task's labelers once, so the cost follows the labels, not the square of the people.
    """
    common: dict[tuple[int, int], tuple[list[Hashable], list[Hashable]]] = defaultdict(
        lambda: ([], [])
    )
    for labels in by_task.values():
        for first, second in itertools.combinations(sorted(labels), 2):
            mine, theirs = common[(first, second)]
            mine.append(labels[first])
            theirs.append(labels[second])
    pairs = [
        PairKappa(first, second, cohen_kappa(mine, theirs), len(mine))
        for (first, second), (mine, theirs) in common.items()
        if len(mine) >= max(min_items, 1)
    ]
    if not pairs:
        return None, 0, []
    mean = sum(pair.kappa for pair in pairs) / len(pairs)
    top = sorted(pairs, key=lambda pair: (-pair.items, pair.first, pair.second))[:TOP_PAIRS]
    return mean, len(pairs), top


def _agreement(
    project: Project, loaded: _Rows, *, batch_id: int | None, rows_max: int, min_pair_items: int
) -> AgreementReport:
    single = project.task_type == TaskType.SINGLE_LABEL
    by_task, scores = _counted_by_task(project, loaded)
    fleiss, raters, fleiss_tasks, fleiss_note = _fleiss(single, by_task)
    alpha, alpha_label, alpha_note = _alpha(single, by_task, scores)
    if single:
        pairwise, pairs_count, pairs = _pairs(by_task, min_pair_items)
        pairwise_note = (
            f"Mean over {pairs_count} pair{'s' if pairs_count != 1 else ''} of people with at "
            f"least {min_pair_items} tasks in common."
            if pairs_count
            else f"n/a: no two people have {min_pair_items} tasks in common yet."
        )
    else:
        pairwise, pairs_count, pairs = None, 0, []
        pairwise_note = "n/a: Cohen's kappa applies to single-label classification."
    return AgreementReport(
        batch_id=batch_id,
        task_type=project.task_type,
        annotations=sum(len(labels) for labels in by_task.values()),
        tasks=len(by_task),
        is_capped=loaded.is_capped,
        rows_max=rows_max,
        fleiss_kappa=fleiss,
        fleiss_raters=raters,
        fleiss_tasks=fleiss_tasks,
        fleiss_note=fleiss_note,
        alpha=alpha,
        alpha_label=alpha_label,
        alpha_note=alpha_note,
        pairwise_kappa=pairwise,
        pairs_count=pairs_count,
        pairwise_note=pairwise_note,
        pairs=pairs,
    )


def _with_reference(project: Project, loaded: _Rows) -> dict[int, tuple[float, float, int]]:
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


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _people(
    project: Project, loaded: _Rows, *, batch_id: int | None, rows_max: int
) -> PeopleReport:
    """Per-person figures: five grouped queries (labels, gold, reviews received and given, skips)."""
    labels = {
        row["author_id"]: row
        for row in _in_scope(
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
        for row in _in_scope(GoldScore.objects.filter(project_id=project.pk), batch_id)
        .values("user_id")
        .annotate(n=Count("id"), mean=Avg("value"))
        .order_by()
    }
    received = {
        row["author_id"]: row
        for row in _in_scope(
            Review.objects.filter(project_id=project.pk, author__isnull=False), batch_id
        )
        .values("author_id")
        .annotate(n=Count("id"), approved=Count("id", filter=Q(verdict=Verdict.APPROVE)))
        .order_by()
    }
    given = {
        row["reviewer_id"]: row
        for row in _in_scope(Review.objects.filter(project_id=project.pk), batch_id)
        .values("reviewer_id")
        .annotate(
            n=Count("id"),
            audited=Count("id", filter=Q(upheld__isnull=False)),
            upheld=Count("id", filter=Q(upheld=True)),
        )
        .order_by()
    }
    skips = dict(
        _in_scope(
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
                review_pass_rate=_ratio(judged.get("approved", 0), judged.get("n", 0)),
                skips=skips.get(user_id, 0),
                reviews_given=judging.get("n", 0),
                reviews_audited=judging.get("audited", 0),
                reviews_upheld=judging.get("upheld", 0),
                reviewer_accuracy=_ratio(judging.get("upheld", 0), judging.get("audited", 0)),
            )
        )
    return PeopleReport(
        batch_id=batch_id, is_capped=loaded.is_capped, rows_max=rows_max, people=people
    )


def agreement_report(
    *,
    project: Project,
    batch_id: int | None = None,
    rows_max: int = ANNOTATION_ROWS_MAX,
    min_pair_items: int = PAIR_MIN_ITEMS,
) -> AgreementReport:
    """Agreement of the project, or of one of its import batches (one query)."""
    loaded = _rows_load(project, batch_id, rows_max)
    return _agreement(
        project, loaded, batch_id=batch_id, rows_max=rows_max, min_pair_items=min_pair_items
    )


def people_report(
    *, project: Project, batch_id: int | None = None, rows_max: int = ANNOTATION_ROWS_MAX
) -> PeopleReport:
    """Per-person figures of the project or one import batch (six queries)."""
    loaded = (
        _rows_load(project, batch_id, rows_max)
        if project.task_type == TaskType.SINGLE_LABEL
        else _Rows(rows=[], is_capped=False)
    )
    return _people(project, loaded, batch_id=batch_id, rows_max=rows_max)


def project_quality(
    *,
    project: Project,
    batch_id: int | None = None,
    rows_max: int = ANNOTATION_ROWS_MAX,
    min_pair_items: int = PAIR_MIN_ITEMS,
) -> QualityReport:
    """Agreement and per-person figures together, from one load of the annotations (six queries)."""
    loaded = _rows_load(project, batch_id, rows_max)
    return QualityReport(
        agreement=_agreement(
            project, loaded, batch_id=batch_id, rows_max=rows_max, min_pair_items=min_pair_items
        ),
        people=_people(project, loaded, batch_id=batch_id, rows_max=rows_max),
    )


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


def batch_of(*, project: Project, batch_id: int) -> ImportJob | None:
    """The import batch `batch_id` of `project`, or None."""
    return ImportJob.objects.filter(project_id=project.pk, pk=batch_id).first()


def confusions_apply(project: Project) -> bool:
    """Whether per-person confusion estimates mean anything here: single-label consensus."""
    return project.pipeline == Pipeline.CONSENSUS and project.task_type == TaskType.SINGLE_LABEL


def confusions_of(project: Project) -> QuerySet[WorkerConfusion]:
    """The project's confusion estimates, most labels first."""
    return WorkerConfusion.objects.filter(project_id=project.pk).order_by("-labels_seen", "user_id")


def gold_set(*, project: Project, limit: int = GOLD_ROWS_MAX) -> tuple[list[GoldRow], int]:
    """The project's gold tasks (newest first, at most `limit`) with their scores; and how many
    there are in all. Three queries at most."""
    answers = list(
        GoldAnswer.objects.filter(task__project_id=project.pk)
        .order_by("-task_id")
        .values_list(
            "task_id",
            "task__external_id",
            "result",
            "explanation",
            "is_retired",
            "version",
            "updated_at",
        )[: limit + 1]
    )
    total = (
        len(answers)
        if len(answers) <= limit
        else GoldAnswer.objects.filter(task__project_id=project.pk).count()
    )
    answers = answers[:limit]
    scores = {
        row["task_id"]: (row["n"], row["mean"])
        for row in GoldScore.objects.filter(task_id__in=[a[0] for a in answers])
        .values("task_id")
        .annotate(n=Count("id"), mean=Avg("value"))
        .order_by()
    }
    rows = [
        GoldRow(
            task_id=task_id,
            external_id=external_id,
            result=result,
            explanation=explanation,
            is_retired=is_retired,
            version=version,
            updated_at=updated_at,
            scores=scores.get(task_id, (0, None))[0],
            mean_score=scores.get(task_id, (0, None))[1],
        )
        for task_id, external_id, result, explanation, is_retired, version, updated_at in answers
    ]
    return rows, total
