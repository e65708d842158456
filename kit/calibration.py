"""Calibration of a confidence: does "90% sure" come true 90% of the time? Pure functions.

`reliability` sorts predictions into equal-width bins of confidence and, per bin, compares the mean
confidence with the share that was right; `expected_calibration_error` (ECE) is the mean gap,
weighted by how many predictions each bin holds. A perfectly calibrated confidence has ECE 0; a
vote share presented as a probability is typically far from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """Predictions whose confidence lies in [low, high): how many, their mean confidence and how
    many of them were right (`accuracy`: the share; None for an empty bin)."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def _checked(confidences: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    confidence = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    if confidence.ndim != 1 or confidence.shape != right.shape:
        raise ValueError("confidences and correct must be one-dimensional and of equal length")
    if confidence.size and (
        np.isnan(confidence).any() or confidence.min() < 0 or confidence.max() > 1
    ):
        raise ValueError("confidences must lie between 0 and 1")
    return confidence, right


def reliability(
    confidences: ArrayLike, correct: ArrayLike, *, bins: int = DEFAULT_BINS
) -> list[ReliabilityBin]:
    """Return the reliability diagram's `bins` equal-width bins over [0, 1] (1.0 in the last).

    `correct[i]` says whether the prediction made with `confidences[i]` was right. Raises
    ValueError for confidences outside [0, 1], arrays of different lengths, or bins < 1.
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    confidence, right = _checked(confidences, correct)
    which = np.minimum((confidence * bins).astype(np.intp), bins - 1)
    counts = np.bincount(which, minlength=bins)
    confidence_sums = np.bincount(which, weights=confidence, minlength=bins)
    right_sums = np.bincount(which, weights=right.astype(np.float64), minlength=bins)
    return [
        ReliabilityBin(
            low=b / bins,
            high=(b + 1) / bins,
            count=int(counts[b]),
            mean_confidence=float(confidence_sums[b] / counts[b]) if counts[b] else None,
            accuracy=float(right_sums[b] / counts[b]) if counts[b] else None,
        )
        for b in range(bins)
    ]


def expected_calibration_error(
    confidences: ArrayLike, correct: ArrayLike, *, bins: int = DEFAULT_BINS
) -> float:
    """Return the ECE: sum over bins of (bin count / total) x |mean confidence - accuracy|.

    0.0 for no predictions. Same arguments and errors as `reliability`.
    """
    table = reliability(confidences, correct, bins=bins)
    total = sum(b.count for b in table)
    if not total:
        return 0.0
    return float(
        sum(
            b.count / total * abs(b.mean_confidence - b.accuracy)
            for b in table
            if b.mean_confidence is not None and b.accuracy is not None
        )
    )


def bins_as_rows(table: Sequence[ReliabilityBin]) -> list[dict[str, float | int | None]]:
    """The bins as plain dicts (for JSON answers and templates)."""
    return [
        {
            "low": b.low,
            "high": b.high,
            "count": b.count,
            "mean_confidence": b.mean_confidence,
            "accuracy": b.accuracy,
        }
        for b in table
    ]
