"""Spammer scores from a person's confusion matrix. Pure functions.

A spammer's label does not depend on the true class: every row of their confusion matrix is the
same (always one class, or uniform at random). An honest person's rows differ, each peaking at
its own class. `informativeness` is the mean total-variation distance between pairs of rows,
weighted by how common the two classes are (0: identical rows, a spammer; 1: distinct one-hot
rows, a perfect annotator); `spammer_score` is 1 minus it (in the spirit of Raykar & Yu's spammer
score, with a distance that stays in [0, 1] for any number of classes).

Use it on the estimates Dawid-Skene gives (`kit.consensus.dawid_skene`): those are shrunk towards
the crowd, so people with few labels score like an average member of the crowd, never like a
spammer; a rule should still ask for a minimum number of labels.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

# The default spam rule: a spammer score above 0.65 over at least 20 labels. On the simulated
# crowd of tests/kit/test_spam.py (honest people score at most 0.22, weak ones at most 0.53,
# spammers at least 0.69) it flags spammers only.
DEFAULT_SPAM_SCORE_THRESHOLD = 0.65
DEFAULT_SPAM_MIN_LABELS = 20


def _checked(confusion: ArrayLike, priors: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.asarray(confusion, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError("confusion must be a square matrix of at least two classes")
    if np.isnan(matrix).any() or matrix.min() < 0 or not np.allclose(matrix.sum(axis=1), 1.0):
        raise ValueError("each row of confusion must be probabilities summing to 1")
    k = matrix.shape[0]
    weights = np.full(k, 1 / k) if priors is None else np.asarray(priors, dtype=np.float64)
    if weights.shape != (k,) or weights.min() < 0 or not np.isclose(weights.sum(), 1.0):
        raise ValueError(f"priors must be {k} non-negative numbers summing to 1")
    return matrix, weights


def informativeness(confusion: ArrayLike, priors: ArrayLike | None = None) -> float:
    """Return how much a person's label says about the true class, in [0, 1].

    `confusion[t][g]`: the probability of giving g when the truth is t; `priors`: how common each
    class is (uniform when None). Raises ValueError for a matrix that is not square with
    probability rows, or priors of the wrong size or not summing to 1.
    """
    matrix, weights = _checked(confusion, priors)
    total = weight_sum = 0.0
    for a, b in itertools.combinations(range(matrix.shape[0]), 2):
        weight = float(weights[a] * weights[b])
        total += weight * 0.5 * float(np.abs(matrix[a] - matrix[b]).sum())
        weight_sum += weight
    if weight_sum == 0:
        return 0.0  # a single class with all the weight: nothing to tell apart
    return total / weight_sum


def spammer_score(confusion: ArrayLike, priors: ArrayLike | None = None) -> float:
    """Return 1 - `informativeness`: 1 for a spammer, 0 for a perfect annotator."""
    return 1.0 - informativeness(confusion, priors)


def chance_corrected_accuracy(accuracy: float, n_classes: int) -> float:
    """Return (accuracy - 1/K) / (1 - 1/K): 0 for guessing uniformly, 1 for always right."""
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    if not 0 <= accuracy <= 1:
        raise ValueError("accuracy must lie between 0 and 1")
    chance = 1 / n_classes
    return (accuracy - chance) / (1 - chance)


def spammers_flagged(
    scores: ArrayLike,
    label_counts: ArrayLike,
    *,
    threshold: float = DEFAULT_SPAM_SCORE_THRESHOLD,
    min_labels: int = DEFAULT_SPAM_MIN_LABELS,
) -> np.ndarray:
    """Return, per person, whether the default spam rule flags them: a spammer score above
    `threshold` with at least `min_labels` labels."""
    score = np.asarray(scores, dtype=np.float64)
    counts = np.asarray(label_counts)
    if score.shape != counts.shape:
        raise ValueError("scores and label_counts must have the same shape")
    flagged: np.ndarray = (score > threshold) & (counts >= min_labels)
    return flagged
