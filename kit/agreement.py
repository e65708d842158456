"""Inter-annotator agreement on nominal labels: pure functions, no database.

Cohen's kappa for two raters, Fleiss' kappa for a fixed number of raters per item, Krippendorff's alpha
for any number of raters with missing values. Labels are any hashable values compared by equality.
Where a coefficient is 0/0 because only one category was ever used, it is defined as 1.0 (the raters
could not disagree and did not), so every function returns a plain float, never nan.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

P = TypeVar("P", bound=Hashable)
K = TypeVar("K", bound=Hashable)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Return Cohen's kappa of two raters who labeled the same items, in the same order.

    When both raters gave one and the same category to every item, the expected agreement is 1 and
    kappa is 0/0; it is then 1.0 (the observed agreement is necessarily 1 too).
    Raises ValueError if the sequences differ in length or are empty.
    """
    n = len(a)
    if n != len(b):
        raise ValueError(f"The raters labeled different numbers of items ({n} and {len(b)}).")
    if n == 0:
        raise ValueError("Cohen's kappa needs at least one item.")
    agreed = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    counts_a, counts_b = Counter(a), Counter(b)
    # Scaled by n * n to stay in integers: kappa = (n * agreed - chance) / (n * n - chance).
    chance = sum(count * counts_b[label] for label, count in counts_a.items())
    if chance == n * n:
        return 1.0
    return (n * agreed - chance) / (n * n - chance)


def counts_table(
    ratings: Sequence[Sequence[Hashable | None]],
) -> tuple[npt.NDArray[np.int64], list[Hashable]]:
    """Build the items x categories count matrix from each item's list of labels (None = missing).

    Categories are in the order of first appearance; the matrix has one row per item, in order.
    """
    index: dict[Hashable, int] = {}
    rows: list[int] = []
    codes: list[int] = []
    for row, labels in enumerate(ratings):
        for label in labels:
            if label is not None:
                rows.append(row)
                codes.append(index.setdefault(label, len(index)))
    width = len(index)
    flat = np.asarray(rows, dtype=np.int64) * width + np.asarray(codes, dtype=np.int64)
    table = np.bincount(flat, minlength=len(ratings) * width).astype(np.int64)
    return table.reshape(len(ratings), width), list(index)


def fleiss_kappa(table: npt.ArrayLike) -> float:
    """Return Fleiss' kappa of an items x categories count matrix.

    Every item must be rated by the same number of raters, at least two. When all ratings fall in one
    category kappa is 0/0 and is then 1.0. Raises ValueError for a table that breaks these rules.
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0 or counts.shape[1] == 0:
        raise ValueError("Give a non-empty items x categories table of counts.")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("The table holds counts: whole numbers, not negative.")
    per_item = counts.sum(axis=1)
    raters = per_item[0]
    if np.any(per_item != raters):
        raise ValueError("Every item must be rated by the same number of raters.")
    if raters < 2:
        raise ValueError("Fleiss' kappa needs at least two raters per item.")
    items = counts.shape[0]
    agreement = ((counts * counts).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / (items * raters)
    observed = float(agreement.mean())
    expected = float((shares * shares).sum())
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable | None]]) -> float:
    """Return Krippendorff's alpha for nominal data; each unit lists the coders' values (None = missing).

    Only pairable values count: units with fewer than two values are dropped. When all pairable values
    are one category, no disagreement is possible and alpha is 1.0.
    Raises ValueError when no unit has two values.
    """
    index: dict[Hashable, int] = {}
    unit_ids: list[int] = []
    codes: list[int] = []
    for unit, values in enumerate(units):
        for value in values:
            if value is not None:
                unit_ids.append(unit)
                codes.append(index.setdefault(value, len(index)))
    unit_of = np.asarray(unit_ids, dtype=np.int64)
    code_of = np.asarray(codes, dtype=np.int64)
    values_in_unit = np.bincount(unit_of, minlength=len(units))
    pairable = values_in_unit[unit_of] >= 2
    unit_of, code_of = unit_of[pairable], code_of[pairable]
    if unit_of.size == 0:
        raise ValueError("Krippendorff's alpha needs at least one unit with two values.")
    # Counts per (unit, category) pair, without a dense units x categories matrix.
    pairs, in_pair = np.unique(unit_of * len(index) + code_of, return_counts=True)
    m_u = values_in_unit[pairs // len(index)].astype(np.float64)
    n_uc = in_pair.astype(np.float64)
    # The diagonal of the coincidence matrix, summed: sum_c o_cc.
    coinciding = float((n_uc * (n_uc - 1) / (m_u - 1)).sum())
    n_c = np.bincount(code_of, minlength=len(index)).astype(np.float64)
    n = float(unit_of.size)
    by_chance = float((n_c * (n_c - 1)).sum())
    expected = n * (n - 1) - by_chance
    if expected == 0:
        return 1.0
    return ((n - 1) * coinciding - by_chance) / expected


def _common(
    first: Mapping[K, Hashable | None], second: Mapping[K, Hashable | None]
) -> tuple[list[Hashable], list[Hashable]]:
    a: list[Hashable] = []
    b: list[Hashable] = []
    for item, label in first.items():
        other = second.get(item)
        if label is not None and other is not None:
            a.append(label)
            b.append(other)
    return a, b


def pairwise_cohen(
    ratings_by_person: Mapping[P, Mapping[K, Hashable | None]], *, min_items: int = 10
) -> dict[tuple[P, P], tuple[float, int]]:
    """Return Cohen's kappa and the number of common items for each pair of people.

    A pair appears only with at least `min_items` (and at least one) items labeled by both; a None
    label counts as not labeled. Keys are (p, q) with p before q in the mapping's order.
    """
    out: dict[tuple[P, P], tuple[float, int]] = {}
    for p, q in itertools.combinations(ratings_by_person, 2):
        a, b = _common(ratings_by_person[p], ratings_by_person[q])
        if len(a) >= max(min_items, 1):
            out[(p, q)] = (cohen_kappa(a, b), len(a))
    return out


def agreement_with_reference(
    labels: Mapping[K, Hashable | None], reference: Mapping[K, Hashable | None]
) -> tuple[float, float, int]:
    """Return (share of equal labels, Cohen's kappa, number of items) of an annotator against a reference.

    Items missing or None on either side (a tied aggregate, say) are left out. With no item in common
    the result is (0.0, 0.0, 0): check the count before trusting the numbers.
    """
    a, b = _common(labels, reference)
    if not a:
        return 0.0, 0.0, 0
    equal = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    return equal / len(a), cohen_kappa(a, b), len(a)
