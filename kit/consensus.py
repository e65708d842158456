"""Consensus beyond majority vote: pure functions over plain data, no Django, no database.

- `weighted_vote`: one task, each person's vote weighted by their accuracy.
- `dawid_skene`: every task of a project at once, estimating each person's confusion matrix (row =
  true class, column = label given), the crowd's average matrix and the class priors by EM, each
  person's matrix shrunk towards the crowd's (see "Priors" below); `dawid_skene_estimates` does the
  mapping from keys and label names to indices, `dawid_skene_labels` keeps its older answer.
- `task_posterior` and `overlap_decision`: dynamic overlap, asking for another label only while a
  task is uncertain, given the confusion matrices of the last Dawid-Skene run.
- `token_vote` (spans) and `box_clusters` (boxes): weighted consensus for NER and bounding boxes.
- `simulate_population`: annotators with known confusion matrices, for tests and benchmarks.

Classification labels are strings outside and class indices (positions in `classes`) inside.

Priors. With little data, maximum likelihood makes people look perfect: one person who labelled
three tasks "agrees with the consensus" on all three. So the estimates are posterior means under a
two-level prior: the crowd's average matrix has a Dirichlet prior of `CROWD_PSEUDO_LABELS` labels
per row at `DEFAULT_ACCURACY` (right that often, wrong uniformly), and each person's matrix starts
from `WORKER_PSEUDO_LABELS` labels per row drawn from the crowd's matrix. Someone with little
history therefore counts as an average member of this crowd; someone with hundreds of labels as
what their labels say. Class priors get `CLASS_PSEUDO_COUNT` per class. Every posterior the
product computes (batch, per submission, dynamic overlap) uses the same estimates and priors.
"""

from __future__ import annotations

import bisect
import enum
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kit.aggregation import iou

Result = dict[str, Any]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

P = TypeVar("P", bound=Hashable)
T = TypeVar("T", bound=Hashable)

# The classification consensus methods a project can choose.
METHODS = ("majority", "weighted", "dawid_skene")
DEFAULT_ACCURACY = 0.7
# Accuracies are kept this far inside (1/K, 1) so that a vote's log-odds weight stays finite: a
# person at or below chance gets no say, a "perfect" one does not silence everybody else.
ACCURACY_EPS = 1e-3
# The priors of the estimates (see the module's docstring): pseudo-labels per row of the crowd's
# matrix (at DEFAULT_ACCURACY) and of each person's (at the crowd's matrix), pseudo-count per class.
CROWD_PSEUDO_LABELS = 10.0
WORKER_PSEUDO_LABELS = 4.0
CLASS_PSEUDO_COUNT = 1.0
# Posteriors this close at the top are a tie (softmax of equal scores can differ in the last bits).
TIE_TOLERANCE = 1e-9
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Posterior:
    """The probability of each class for one task; `label` is None when tied at the top."""

    label: str | None
    confidence: float
    probabilities: dict[str, float]
    is_tie: bool


class Decision(enum.StrEnum):
    """What a task needs next under dynamic overlap."""

    FINAL = "final"
    MORE = "more"
    REVIEW = "review"


@dataclass(frozen=True)
class DawidSkeneResult:
    """Posteriors (tasks x K), confusions (workers x true x given, rows sum to 1), priors (K) and
    the crowd's average confusion matrix (K x K, what a person without history is taken to be)."""

    posteriors: FloatArray
    confusions: FloatArray
    priors: FloatArray
    iterations: int
    converged: bool
    log_likelihood: float
    crowd: FloatArray


# --- Single tasks -----------------------------------------------------------------------------


def posterior_from_probabilities(probabilities: ArrayLike, classes: Sequence[str]) -> Posterior:
    """Make a Posterior from one row of class probabilities in the order of `classes`."""
    row = np.asarray(probabilities, dtype=np.float64)
    if row.shape != (len(classes),):
        raise ValueError(f"expected {len(classes)} probabilities, got shape {row.shape}")
    top = int(np.argmax(row))
    confidence = float(row[top])
    is_tie = int(np.count_nonzero(row >= confidence - TIE_TOLERANCE)) > 1
    return Posterior(
        label=None if is_tie else classes[top],
        confidence=confidence,
        probabilities={name: float(p) for name, p in zip(classes, row, strict=True)},
        is_tie=is_tie,
    )


def _softmax(scores: FloatArray) -> FloatArray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    result: FloatArray = shifted / shifted.sum(axis=-1, keepdims=True)
    return result


def _class_index(classes: Sequence[str]) -> dict[str, int]:
    index = {name: i for i, name in enumerate(classes)}
    if len(index) != len(classes) or len(index) < 2:
        raise ValueError("classes must be at least two distinct names")
    return index


def _label_index(index: Mapping[str, int], label: str) -> int:
    try:
        return index[label]
    except KeyError:
        raise ValueError(f"{label!r} is not one of the classes {list(index)}") from None


def vote_weight(accuracy: float, n_classes: int) -> float:
    """Return the log-odds weight of a vote by a person of this accuracy among `n_classes` classes.

    The accuracy is clipped to [1/K + eps, 1 - eps]: at chance or below a vote weighs about nothing.
    """
    acc = min(max(accuracy, 1 / n_classes + ACCURACY_EPS), 1 - ACCURACY_EPS)
    return math.log(acc * (n_classes - 1) / (1 - acc))


def weighted_vote(
    labels: Sequence[tuple[P, str]],
    weights: Mapping[P, float],
    classes: Sequence[str],
    *,
    default_accuracy: float = DEFAULT_ACCURACY,
    priors: ArrayLike | None = None,
) -> Posterior:
    """Vote on one task with each person's vote weighted by log(acc (K-1) / (1 - acc)).

    `weights` maps a person to their accuracy (0..1); people not in it get `default_accuracy`.
    The posterior is the softmax of the summed weights plus the log class `priors` (uniform when
    None): the exact posterior when each person is right with their accuracy and otherwise picks a
    wrong class uniformly. No labels give the priors. A label outside `classes` raises ValueError.
    """
    index = _class_index(classes)
    k = len(classes)
    scores = _log_priors(priors, k)
    for person, label in labels:
        scores[_label_index(index, label)] += vote_weight(weights.get(person, default_accuracy), k)
    return posterior_from_probabilities(_softmax(scores), classes)


def _log_priors(priors: ArrayLike | None, k: int) -> FloatArray:
    if priors is None:
        return np.zeros(k)
    scores: FloatArray = np.log(np.maximum(np.asarray(priors, dtype=np.float64), 1e-300))
    if scores.shape != (k,):
        raise ValueError(f"priors must have {k} entries, got shape {scores.shape}")
    return scores


def symmetric_confusion(accuracy: float, n_classes: int) -> FloatArray:
    """Return the K x K confusion matrix of someone right with `accuracy`, wrong uniformly."""
    off = (1 - accuracy) / (n_classes - 1)
    matrix = np.full((n_classes, n_classes), off)
    np.fill_diagonal(matrix, accuracy)
    return matrix


def task_posterior(
    labels: Sequence[tuple[P, str]],
    confusions: Mapping[P, FloatArray | None],
    priors: ArrayLike,
    classes: Sequence[str],
    *,
    default_accuracy: float = DEFAULT_ACCURACY,
    default_confusion: ArrayLike | None = None,
) -> Posterior:
    """Return one task's posterior given its labels and the people's current confusion matrices.

    A confusion matrix is K x K in the order of `classes` (row = true class, column = label given),
    as `dawid_skene` estimates them; a person missing from `confusions` or mapped to None gets
    `default_confusion` (the crowd's matrix of the last estimate, `DawidSkeneResult.crowd`), or
    `symmetric_confusion(default_accuracy)` when there is none. `priors` are the class priors (K).
    """
    index = _class_index(classes)
    k = len(classes)
    scores = _log_priors(priors, k)
    default = (
        symmetric_confusion(default_accuracy, k)
        if default_confusion is None
        else np.asarray(default_confusion, dtype=np.float64)
    )
    if default.shape != (k, k):
        raise ValueError(f"the default confusion matrix is not {k} x {k}")
    for person, label in labels:
        matrix = confusions.get(person)
        if matrix is None:
            matrix = default
        elif matrix.shape != (k, k):
            raise ValueError(f"the confusion matrix of {person!r} is not {k} x {k}")
        scores = scores + np.log(np.maximum(matrix[:, _label_index(index, label)], 1e-300))
    return posterior_from_probabilities(_softmax(scores), classes)


def overlap_decision(
    posterior: Posterior, *, n_labels: int, min_overlap: int, max_overlap: int, threshold: float
) -> Decision:
    """Decide whether a task is final, needs another label, or goes to review.

    Final: at least `min_overlap` labels and an untied top posterior of at least `threshold`.
    More: fewer than `min_overlap` labels, or unsure with fewer than `max_overlap`. Review: unsure
    (or tied) at `max_overlap` labels or beyond.
    """
    if n_labels < min_overlap:
        return Decision.MORE
    if not posterior.is_tie and posterior.confidence >= threshold:
        return Decision.FINAL
    if n_labels < max_overlap:
        return Decision.MORE
    return Decision.REVIEW


# --- Dawid-Skene ------------------------------------------------------------------------------


def _as_index_array(values: ArrayLike, name: str, size: int) -> IntArray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a one-dimensional array of integers")
    array = array.astype(np.intp, copy=False)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise ValueError(f"{name} has values outside 0..{size - 1}")
    return array


def dawid_skene(
    task_idx: ArrayLike,
    worker_idx: ArrayLike,
    label_idx: ArrayLike,
    n_tasks: int,
    n_workers: int,
    n_classes: int,
    *,
    gold: Mapping[int, int] | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    prior_accuracy: float = DEFAULT_ACCURACY,
    crowd_strength: float = CROWD_PSEUDO_LABELS,
    worker_strength: float = WORKER_PSEUDO_LABELS,
    class_strength: float = CLASS_PSEUDO_COUNT,
) -> DawidSkeneResult:
    """Estimate task posteriors, worker confusion matrices and class priors by Dawid-Skene EM.

    Label i says worker `worker_idx[i]` gave class `label_idx[i]` to task `task_idx[i]`. EM starts
    from the majority vote (vote shares as soft labels); `gold` (task -> true class) clamps those
    tasks to one-hot posteriors in every E-step, which anchors the confusion estimates.

    Each M-step estimates the crowd's matrix from everybody's expected counts plus
    `crowd_strength` pseudo-labels per row of `symmetric_confusion(prior_accuracy)`, then each
    worker's matrix from their own counts plus `worker_strength` pseudo-labels per row of the
    crowd's matrix (hierarchical shrinkage: little history means close to the crowd's average),
    and the class priors from the posteriors plus `class_strength` per class. `smoothing` (> 0) is
    added to every confusion count, so nobody's matrix has zeros even with no prior at all. Stops
    when the log-likelihood changes by less than `tol` relative, or after `max_iter` rounds.
    Tasks without labels get the priors; workers without labels get the crowd's matrix.
    """
    if n_classes < 2:
        raise ValueError("Dawid-Skene needs at least two classes")
    if smoothing <= 0:
        raise ValueError("smoothing must be positive")
    if min(crowd_strength, worker_strength, class_strength) < 0:
        raise ValueError("prior strengths must not be negative")
    if not 0 < prior_accuracy < 1:
        raise ValueError("prior_accuracy must be between 0 and 1")
    k = n_classes
    tasks = _as_index_array(task_idx, "task_idx", n_tasks)
    workers = _as_index_array(worker_idx, "worker_idx", n_workers)
    given = _as_index_array(label_idx, "label_idx", k)
    if not tasks.size == workers.size == given.size:
        raise ValueError("task_idx, worker_idx and label_idx must have the same length")
    gold_tasks = _as_index_array(list((gold or {}).keys()), "gold tasks", n_tasks)
    gold_classes = _as_index_array(list((gold or {}).values()), "gold classes", k)

    # Flat positions, computed once: label i and true class c touch confusions[w_i, c, l_i]
    # (confusion_at[i * K + c]) and the task score scores[t_i, c] (score_at[i * K + c]).
    classes_range = np.arange(k, dtype=np.intp)
    confusion_at = ((workers * (k * k) + given)[:, None] + classes_range * k).ravel()
    score_at = (tasks[:, None] * k + classes_range).ravel()

    votes = np.bincount(tasks * k + given, minlength=n_tasks * k).reshape(n_tasks, k)
    per_task = votes.sum(axis=1, keepdims=True)
    posteriors: FloatArray = np.divide(
        votes, per_task, out=np.full((n_tasks, k), 1 / k), where=per_task > 0
    )
    posteriors[gold_tasks] = np.eye(k)[gold_classes]

    confusions: FloatArray = np.empty((n_workers, k, k))
    priors: FloatArray = np.full(k, 1 / k)
    crowd_prior = crowd_strength * symmetric_confusion(prior_accuracy, k)
    crowd: FloatArray = symmetric_confusion(prior_accuracy, k)
    log_likelihood = -math.inf
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # M-step: expected counts of (worker, true class, given label); the crowd's matrix from
        # all of them and its prior; each worker's from theirs and the crowd's; plus smoothing.
        counts = np.bincount(
            confusion_at,
            weights=np.take(posteriors, tasks, axis=0).ravel(),
            minlength=n_workers * k * k,
        ).reshape(n_workers, k, k)
        crowd = counts.sum(axis=0) + crowd_prior + smoothing
        crowd /= crowd.sum(axis=1, keepdims=True)
        confusions = counts + (worker_strength * crowd + smoothing)
        confusions /= confusions.sum(axis=2, keepdims=True)
        priors = (posteriors.sum(axis=0) + class_strength + smoothing) / (
            n_tasks + k * (class_strength + smoothing)
        )

        # E-step in log space: log prior + the sum over the task's labels of log confusion.
        scores = np.bincount(
            score_at,
            weights=np.log(confusions).ravel()[confusion_at],
            minlength=n_tasks * k,
        ).reshape(n_tasks, k)
        scores += np.log(priors)
        top = scores.max(axis=1, keepdims=True)
        np.exp(scores - top, out=scores)
        totals = scores.sum(axis=1, keepdims=True)
        posteriors = scores / totals
        posteriors[gold_tasks] = np.eye(k)[gold_classes]

        previous, log_likelihood = log_likelihood, float((top + np.log(totals)).sum())
        if abs(log_likelihood - previous) <= tol * max(1.0, abs(log_likelihood)):
            converged = True
            break
    return DawidSkeneResult(
        posteriors=posteriors,
        confusions=confusions,
        priors=priors,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
        crowd=crowd,
    )


@dataclass(frozen=True)
class Estimates:
    """`dawid_skene` keyed by names: each task's Posterior, each person's confusion matrix as
    {true class: {given label: probability}}, the class priors {class: probability} and the
    crowd's average matrix (same shape as a person's)."""

    posteriors: dict[Any, Posterior]
    confusions: dict[Any, dict[str, dict[str, float]]]
    priors: dict[str, float]
    crowd: dict[str, dict[str, float]]
    iterations: int


def _nested(matrix: FloatArray, classes: Sequence[str]) -> dict[str, dict[str, float]]:
    return {
        true: dict(zip(classes, map(float, matrix[row]), strict=True))
        for row, true in enumerate(classes)
    }


def dawid_skene_estimates(
    rows: Sequence[tuple[T, P, str]],
    classes: Sequence[str],
    *,
    gold: Mapping[T, str] | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> Estimates:
    """Run `dawid_skene` (with its default priors) on (task, person, label) rows keyed by anything
    hashable. Gold tasks without labels are ignored; a label outside `classes` raises ValueError."""
    index = _class_index(classes)
    task_keys: dict[T, int] = {}
    person_keys: dict[P, int] = {}
    tasks = np.empty(len(rows), dtype=np.intp)
    workers = np.empty(len(rows), dtype=np.intp)
    given = np.empty(len(rows), dtype=np.intp)
    for i, (task, person, label) in enumerate(rows):
        tasks[i] = task_keys.setdefault(task, len(task_keys))
        workers[i] = person_keys.setdefault(person, len(person_keys))
        given[i] = _label_index(index, label)
    gold_idx = {
        task_keys[task]: _label_index(index, label)
        for task, label in (gold or {}).items()
        if task in task_keys
    }
    result = dawid_skene(
        tasks,
        workers,
        given,
        len(task_keys),
        len(person_keys),
        len(classes),
        gold=gold_idx,
        max_iter=max_iter,
        tol=tol,
        smoothing=smoothing,
    )
    return Estimates(
        posteriors={
            task: posterior_from_probabilities(result.posteriors[i], classes)
            for task, i in task_keys.items()
        },
        confusions={
            person: _nested(result.confusions[w], classes) for person, w in person_keys.items()
        },
        priors=dict(zip(classes, map(float, result.priors), strict=True)),
        crowd=_nested(result.crowd, classes),
        iterations=result.iterations,
    )


def dawid_skene_labels(
    rows: Sequence[tuple[T, P, str]],
    classes: Sequence[str],
    *,
    gold: Mapping[T, str] | None = None,
    max_iter: int = 50,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> tuple[dict[T, Posterior], dict[P, dict[str, dict[str, float]]]]:
    """Run `dawid_skene_estimates`; return only each task's Posterior and each person's matrix."""
    estimates = dawid_skene_estimates(
        rows, classes, gold=gold, max_iter=max_iter, tol=tol, smoothing=smoothing
    )
    return estimates.posteriors, estimates.confusions


# --- Spans and boxes --------------------------------------------------------------------------


def _result_weights(results: Sequence[Result], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(results)
    if len(weights) != len(results) or any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError("give one non-negative weight per result, not all zero")
    return [float(w) for w in weights]


def token_vote(
    text: str, results: Sequence[Result], *, weights: Sequence[float] | None = None
) -> tuple[Result, float]:
    """Vote on each token's label across annotators' spans; return {"spans": [...]} and confidence.

    Tokens are runs of word characters and single punctuation marks. For each annotator a token
    takes the label of their first span overlapping it, or none. Each token gets the label of the
    largest weight (a tie goes to "no label" if it is among the tied, else the first name);
    consecutive tokens with the same label merge into one span from the first token's start to
    the last token's end, so two adjacent entities of one label come out as one span. Confidence
    is the mean, over tokens anybody labeled, of the winning weight share (1.0 if none; 0.0 for no
    results).
    """
    if not results:
        return {"spans": []}, 0.0
    shares = _result_weights(results, weights)
    total = sum(shares)
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    starts = [start for start, _ in tokens]
    ends = [end for _, end in tokens]
    votes: list[dict[str, float]] = [{} for _ in tokens]
    for result, weight in zip(results, shares, strict=True):
        taken: set[int] = set()
        for span in sorted(result["spans"], key=lambda s: (s["start"], s["end"])):
            # Tokens overlapping [start, end): those ending after start and starting before end.
            for t in range(bisect.bisect_right(ends, span["start"]), len(tokens)):
                if starts[t] >= span["end"]:
                    break
                if t not in taken:
                    taken.add(t)
                    votes[t][span["label"]] = votes[t].get(span["label"], 0.0) + weight
    winners: list[str | None] = []
    token_shares: list[float] = []
    for vote in votes:
        if not vote:
            winners.append(None)
            continue
        outside = total - sum(vote.values())
        best = max(max(vote.values()), outside)
        tied = sorted(label for label, w in vote.items() if w >= best - TIE_TOLERANCE)
        winner = None if outside >= best - TIE_TOLERANCE else tied[0]
        winners.append(winner)
        token_shares.append(best / total)
    spans: list[Result] = []
    for t, label in enumerate(winners):
        if label is None:
            continue
        if spans and winners[t - 1] == label:
            spans[-1]["end"] = ends[t]
        else:
            spans.append({"start": starts[t], "end": ends[t], "label": label})
    confidence = sum(token_shares) / len(token_shares) if token_shares else 1.0
    return {"spans": spans}, confidence


@dataclass
class _Cluster:
    label: str
    members: list[tuple[Result, float]]

    def centre(self) -> Result:
        """The weighted mean box (by corners); a cluster of zero-weight boxes gets the plain mean."""
        weights = [w for _, w in self.members]
        if not any(weights):
            weights = [1.0] * len(self.members)
        total = sum(weights)

        def mean(value: Callable[[Result], float]) -> float:
            return (
                sum(value(b) * w for (b, _), w in zip(self.members, weights, strict=True)) / total
            )

        x0, y0 = mean(lambda b: b["x"]), mean(lambda b: b["y"])
        x1, y1 = mean(lambda b: b["x"] + b["w"]), mean(lambda b: b["y"] + b["h"])
        return {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "label": self.label}


def box_clusters(
    results: Sequence[Result],
    *,
    iou_threshold: float = 0.5,
    weights: Sequence[float] | None = None,
    min_share: float = 0.5,
) -> tuple[Result, float]:
    """Cluster same-label boxes across annotators by IoU; return {"boxes": [...]} and confidence.

    Annotators are taken in order; each one's boxes join the clusters whose current mean box they
    overlap most (IoU >= `iou_threshold`, best pairs first, one box per annotator per cluster) or
    start new ones. A cluster is kept when its annotators' weight share exceeds `min_share`, as its
    weighted mean box with corners rounded to whole pixels. Confidence is the mean share of the
    kept clusters; with none kept, the weight share of annotators who drew no box (1.0 when nobody
    drew one; 0.0 for no results).
    """
    if not results:
        return {"boxes": []}, 0.0
    shares = _result_weights(results, weights)
    total = sum(shares)
    clusters: list[_Cluster] = []
    for result, weight in zip(results, shares, strict=True):
        centres = [cluster.centre() for cluster in clusters]
        pairs = sorted(
            (
                (score, b, c)
                for b, box in enumerate(result["boxes"])
                for c, centre in enumerate(centres)
                if centre["label"] == box["label"] and (score := iou(centre, box)) >= iou_threshold
            ),
            key=lambda pair: (-pair[0], pair[1], pair[2]),
        )
        used_boxes: set[int] = set()
        used_clusters: set[int] = set()
        for _, b, c in pairs:
            if b not in used_boxes and c not in used_clusters:
                used_boxes.add(b)
                used_clusters.add(c)
                clusters[c].members.append((result["boxes"][b], weight))
        for b, box in enumerate(result["boxes"]):
            if b not in used_boxes:
                clusters.append(_Cluster(box["label"], [(box, weight)]))
    kept: list[Result] = []
    kept_shares: list[float] = []
    for cluster in clusters:
        share = sum(w for _, w in cluster.members) / total
        if share > min_share:
            centre = cluster.centre()
            x0, y0 = round(centre["x"]), round(centre["y"])
            x1, y1 = round(centre["x"] + centre["w"]), round(centre["y"] + centre["h"])
            kept.append({"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "label": cluster.label})
            kept_shares.append(share)
    kept.sort(key=lambda b: (b["y"], b["x"], b["label"]))
    if kept_shares:
        return {"boxes": kept}, sum(kept_shares) / len(kept_shares)
    empty = sum(w for result, w in zip(results, shares, strict=True) if not result["boxes"])
    return {"boxes": []}, empty / total


# --- Simulation -------------------------------------------------------------------------------

KINDS = ("honest", "weak", "spammer")
DEFAULT_SHARES: Mapping[str, float] = {"honest": 0.6, "weak": 0.25, "spammer": 0.15}


@dataclass(frozen=True)
class Population:
    """Simulated tasks and annotators: true classes, confusion matrices and each worker's kind."""

    truth: IntArray
    confusions: FloatArray
    kinds: tuple[str, ...]

    @property
    def n_tasks(self) -> int:
        return int(self.truth.size)

    @property
    def n_workers(self) -> int:
        return int(self.confusions.shape[0])

    def label(
        self, rng: np.random.Generator, task_idx: ArrayLike, worker_idx: ArrayLike
    ) -> IntArray:
        """Draw the label each worker gives each task (arrays of equal length)."""
        tasks = np.asarray(task_idx, dtype=np.intp)
        workers = np.asarray(worker_idx, dtype=np.intp)
        cumulative = np.cumsum(self.confusions[workers, self.truth[tasks]], axis=-1)
        drawn = (rng.random(tasks.shape)[..., None] >= cumulative).sum(axis=-1)
        result: IntArray = np.minimum(drawn, self.confusions.shape[1] - 1).astype(np.intp)
        return result

    def assign(self, rng: np.random.Generator, per_task: int) -> IntArray:
        """Draw `per_task` distinct workers for every task, in random order (tasks x per_task).

        Nearly uniform over sets of workers: sorted draws from 0..W-n plus 0..n-1 are distinct.
        """
        if not 0 < per_task <= self.n_workers:
            raise ValueError(f"cannot draw {per_task} distinct workers of {self.n_workers}")
        draws = rng.integers(0, self.n_workers - per_task + 1, size=(self.n_tasks, per_task))
        distinct = np.sort(draws, axis=1) + np.arange(per_task)
        result: IntArray = rng.permuted(distinct, axis=1).astype(np.intp)
        return result


def simulate_population(
    n_tasks: int,
    n_workers: int,
    n_classes: int,
    *,
    shares: Mapping[str, float] = DEFAULT_SHARES,
    seed: int = 0,
    class_priors: ArrayLike | None = None,
) -> Population:
    """Simulate true classes (uniform, or drawn with `class_priors`) and workers of the kinds in
    `shares` (summing to 1).

    Honest workers are right 85-95% of the time, weak ones 50-70%, their errors spread unevenly
    over the other classes; half of the spammers always give one class, half answer uniformly.
    The same seed gives the same population.
    """
    unknown = set(shares) - set(KINDS)
    if unknown or not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"shares are of {KINDS} and sum to 1")
    weights = None if class_priors is None else np.asarray(class_priors, dtype=np.float64)
    if weights is not None and (
        weights.shape != (n_classes,)
        or weights.min() < 0
        or not math.isclose(weights.sum(), 1.0, abs_tol=1e-9)
    ):
        raise ValueError(f"class_priors are {n_classes} non-negative numbers summing to 1")
    rng = np.random.default_rng(seed)
    k = n_classes
    counts = [round(shares.get(kind, 0.0) * n_workers) for kind in KINDS]
    counts[0] = n_workers - sum(counts[1:])
    kinds = np.repeat(np.array(KINDS), counts)
    rng.shuffle(kinds)
    confusions = np.empty((n_workers, k, k))
    spammers = 0
    for w, kind in enumerate(kinds):
        if kind == "spammer":
            if spammers % 2 == 0:
                confusions[w] = 0.0
                confusions[w, :, rng.integers(k)] = 1.0
            else:
                confusions[w] = 1 / k
            spammers += 1
            continue
        low, high = (0.85, 0.95) if kind == "honest" else (0.5, 0.7)
        accuracy = rng.uniform(low, high, size=k)
        errors = rng.dirichlet(np.full(k - 1, 2.0), size=k) * (1 - accuracy)[:, None]
        for row in range(k):
            confusions[w, row] = np.insert(errors[row], row, accuracy[row])
    truth = (
        rng.integers(0, k, size=n_tasks)
        if weights is None
        else rng.choice(k, size=n_tasks, p=weights)
    ).astype(np.intp)
    return Population(truth=truth, confusions=confusions, kinds=tuple(str(x) for x in kinds))
