"""Inter-annotator agreement of a project or one import batch: Fleiss' kappa, Krippendorff's alpha
and pairwise Cohen's kappa, computed by `kit.agreement` over the newest annotations of the scope.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from kit.agreement import (
    cohen_kappa,
    counts_table,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from labeling.models import (
    Project,
    TaskType,
)
from quality.reports.scope import (
    ANNOTATION_ROWS_MAX,
    COUNTED,
    AnnotationRows,
    annotation_rows_load,
)

# Cohen's kappa of two people on fewer common items says little; such pairs are left out.
PAIR_MIN_ITEMS = 10
TOP_PAIRS = 10

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


def _counted_by_task(
    project: Project, loaded: AnnotationRows
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


def agreement_of_rows(
    project: Project,
    loaded: AnnotationRows,
    *,
    batch_id: int | None,
    rows_max: int,
    min_pair_items: int,
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


def agreement_report(
    *,
    project: Project,
    batch_id: int | None = None,
    rows_max: int = ANNOTATION_ROWS_MAX,
    min_pair_items: int = PAIR_MIN_ITEMS,
) -> AgreementReport:
    """Agreement of the project, or of one of its import batches (one query)."""
    loaded = annotation_rows_load(project, batch_id, rows_max)
    return agreement_of_rows(
        project, loaded, batch_id=batch_id, rows_max=rows_max, min_pair_items=min_pair_items
    )
