"""Gold scoring: compare an annotator's answer with the expected result; pure functions, no database.

Answers and expected results are in the formats of `kit.label_schema` for their task type. Each scorer
returns a `Score`: `value` (0..1) is the headline used for accuracy, `detail` holds the parts it was
computed from. Counting conventions shared by all scorers:
- An empty answer against an empty expected result is a perfect score: value, precision, recall
  and F1 are 1.0.
- A precision or recall with nothing to divide by (nothing given, or nothing expected, but not both)
  counts as 0.0, so such a score is never better than 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.aggregation import iou
from kit.label_schema import BBOX, MULTI_LABEL, NER, SINGLE_LABEL, TASK_TYPES

Result = dict[str, Any]

DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Score:
    value: float
    detail: dict[str, float] = field(default_factory=dict)


def _prf(matched: int, given: int, expected: int) -> dict[str, float]:
    if given == 0 and expected == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "matched": 0.0}
    precision = matched / given if given else 0.0
    recall = matched / expected if expected else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * matched / (given + expected),
        "matched": float(matched),
    }


def _greedy_matches(candidates: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    # Greedy by the highest score first (ties by position, for a stable answer): each side is used
    # once. Not an optimal assignment, but with few items of one label it rarely differs from one.
    used_given: set[int] = set()
    used_expected: set[int] = set()
    matches = []
    for candidate in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        _, i, j = candidate
        if i not in used_given and j not in used_expected:
            used_given.add(i)
            used_expected.add(j)
            matches.append(candidate)
    return matches


def score_single(answer: Result, expected: Result) -> Score:
    """Score a single-label answer: 1.0 for the expected label, else 0.0."""
    value = 1.0 if answer["label"] == expected["label"] else 0.0
    return Score(value, {"matched": value})


def score_multi(answer: Result, expected: Result) -> Score:
    """Score a multi-label answer by the F1 of the chosen label set against the expected one."""
    given, wanted = set(answer["labels"]), set(expected["labels"])
    detail = _prf(len(given & wanted), len(given), len(wanted))
    return Score(detail["f1"], detail)


def score_spans(answer: Result, expected: Result) -> Score:
    """Score NER spans by exact-match F1 (the value); detail adds overlap F1.

    Exact: same start, end and label. Overlap: same label and intersecting character ranges, each
    given span matched to at most one expected span, greedily by the largest overlap in characters.
    `precision`, `recall` and `matched` in detail are those of the exact match.
    """
    given: Sequence[Result] = answer["spans"]
    wanted: Sequence[Result] = expected["spans"]

    def key(span: Result) -> tuple[int, int, str]:
        return (span["start"], span["end"], span["label"])

    exact_matched = sum((Counter(map(key, given)) & Counter(map(key, wanted))).values())
    exact = _prf(exact_matched, len(given), len(wanted))
    candidates = [
        (float(overlap), i, j)
        for i, g in enumerate(given)
        for j, w in enumerate(wanted)
        if g["label"] == w["label"]
        and (overlap := min(g["end"], w["end"]) - max(g["start"], w["start"])) > 0
    ]
    overlap = _prf(len(_greedy_matches(candidates)), len(given), len(wanted))
    detail = {
        "exact_f1": exact["f1"],
        "overlap_f1": overlap["f1"],
        "precision": exact["precision"],
        "recall": exact["recall"],
        "matched": exact["matched"],
        "overlap_matched": overlap["matched"],
    }
    return Score(exact["f1"], detail)


def score_boxes(
    answer: Result, expected: Result, *, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> Score:
    """Score boxes by F1 over one-to-one same-label matches with IoU >= `iou_threshold`.

    Matching is greedy by the highest IoU first, each box used at most once. Detail adds `mean_iou`
    over the matches (0.0 with no match, 1.0 when both sides are empty).
    """
    given: Sequence[Result] = answer["boxes"]
    wanted: Sequence[Result] = expected["boxes"]
    candidates = [
        (overlap, i, j)
        for i, g in enumerate(given)
        for j, w in enumerate(wanted)
        if g["label"] == w["label"] and (overlap := iou(g, w)) >= iou_threshold
    ]
    matches = _greedy_matches(candidates)
    detail = _prf(len(matches), len(given), len(wanted))
    if matches:
        detail["mean_iou"] = sum(m[0] for m in matches) / len(matches)
    else:
        detail["mean_iou"] = 1.0 if not given and not wanted else 0.0
    return Score(detail["f1"], detail)


SCORERS: dict[str, Callable[[Result, Result], Score]] = {
    SINGLE_LABEL: score_single,
    MULTI_LABEL: score_multi,
    NER: score_spans,
}


def score(
    task_type: str,
    answer: Result,
    expected: Result,
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> Score:
    """Score an answer against the expected result for its task type.

    `iou_threshold` applies to bbox only. Raises ValueError for an unknown task type.
    """
    if task_type == BBOX:
        return score_boxes(answer, expected, iou_threshold=iou_threshold)
    scorer = SCORERS.get(task_type)
    if scorer is None:
        raise ValueError(f"Unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}.")
    return scorer(answer, expected)
