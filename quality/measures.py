"""Quality-rule metrics and conditions: pure functions over plain lists of scored items, no database.

Each item is one thing a person did or that was judged of them, newest or not, with its time and
a number: a gold score (0..1), a review verdict (1 pass, 0 fail), an agreement with the final
result (0..1), an annotation's active seconds, a lease's outcome (1 skipped, 0 submitted), or a
submission (1). A window keeps the newest N items or those of the last D days; a metric turns the
window into a `Measure` (its value, how many items it saw, and which); a condition compares the
value with a threshold once the sample is large enough.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kit.intervals import wilson_interval
from kit.spam import chance_corrected_accuracy

GOLD_ACCURACY = "gold_accuracy"
REVIEW_PASS_RATE = "review_pass_rate"  # noqa: S105  (a metric name, not a secret)
AGREEMENT = "agreement"
FAST_ANSWER_RATE = "fast_answer_rate"
SKIP_STREAK = "skip_streak"
SUBMISSIONS_24H = "submissions_24h"
# The consensus model's scores (project rules only): computed by `quality.services.evaluation`
# with what the model knows (the person's confusion matrix, the number of classes).
SPAMMER_SCORE = "spammer_score"
CONSENSUS_AGREEMENT = "consensus_agreement"
GOLD_ACCURACY_UPPER = "gold_accuracy_upper"
METRICS = (
    GOLD_ACCURACY,
    REVIEW_PASS_RATE,
    AGREEMENT,
    FAST_ANSWER_RATE,
    SKIP_STREAK,
    SUBMISSIONS_24H,
    SPAMMER_SCORE,
    CONSENSUS_AGREEMENT,
    GOLD_ACCURACY_UPPER,
)

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}

# Submissions are always counted over the last 24 hours, whatever the rule's window says.
SUBMISSIONS_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class Item:
    """One scored thing: `ref` names it (an annotation, review or lease id), `at` is when."""

    ref: int
    at: datetime
    value: float


@dataclass(frozen=True)
class Window:
    """The newest `items` items, or those since `span` before now (exactly one is set)."""

    items: int | None = None
    span: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.items is None) == (self.span is None):
            raise ValueError("A window is either a number of items or a span of time.")
        if self.items is not None and self.items < 1:
            raise ValueError("A window holds at least one item.")

    @classmethod
    def of(cls, kind: str, size: int) -> Window:
        """Build a window from a rule's `window_kind` ("items" or "days") and `window_size`."""
        if kind == "items":
            return cls(items=size)
        if kind == "days":
            return cls(span=timedelta(days=size))
        raise ValueError(f"Unknown window kind {kind!r}.")


@dataclass(frozen=True)
class Measure:
    """A metric's value over a window (None when the window is empty) and the items it used."""

    value: float | None
    sample: int
    refs: tuple[int, ...]


def window_apply(items: Iterable[Item], window: Window, *, now: datetime) -> list[Item]:
    """Return the items inside `window`, newest first (ties: the higher ref first)."""
    newest_first = sorted(items, key=lambda item: (item.at, item.ref), reverse=True)
    if window.span is None:
        return newest_first[: window.items]
    since = now - window.span
    return [item for item in newest_first if since <= item.at <= now]


def _mean(items: Sequence[Item]) -> Measure:
    refs = tuple(item.ref for item in items)
    if not items:
        return Measure(value=None, sample=0, refs=refs)
    return Measure(
        value=sum(item.value for item in items) / len(items), sample=len(items), refs=refs
    )


def gold_accuracy(items: Sequence[Item]) -> Measure:
    """The mean gold score (each 0..1)."""
    return _mean(items)


def review_pass_rate(items: Sequence[Item]) -> Measure:
    """The share of reviews that passed the work (items are 1 for approve, 0 otherwise)."""
    return _mean([Item(item.ref, item.at, 1.0 if item.value >= 1 else 0.0) for item in items])


def agreement_rate(items: Sequence[Item]) -> Measure:
    """The mean agreement with the final result (each 0..1)."""
    return _mean(items)


def fast_answer_rate(items: Sequence[Item], *, seconds: float) -> Measure:
    """The share of answers given in fewer than `seconds` active seconds (items hold the seconds)."""
    return _mean([Item(item.ref, item.at, 1.0 if item.value < seconds else 0.0) for item in items])


def skip_streak(items: Sequence[Item]) -> Measure:
    """How many of the newest items in a row are skips (items newest first; 1 skipped, 0 not).

    The sample is every item seen; `refs` are the skips of the streak.
    """
    streak: list[int] = []
    for item in items:
        if item.value < 1:
            break
        streak.append(item.ref)
    return Measure(value=float(len(streak)), sample=len(items), refs=tuple(streak))


def submission_count(items: Sequence[Item]) -> Measure:
    """How many submissions there are; each counts as a sample."""
    return Measure(
        value=float(len(items)), sample=len(items), refs=tuple(item.ref for item in items)
    )


def gold_accuracy_upper(items: Sequence[Item], *, n_classes: int) -> Measure:
    """The upper end of the 95% Wilson interval of gold accuracy, chance-corrected and floored at
    0: (upper - 1/K) / (1 - 1/K). Below a small threshold, the person is known (not merely
    suspected) to answer gold no better than guessing."""
    refs = tuple(item.ref for item in items)
    if not items:
        return Measure(value=None, sample=0, refs=refs)
    interval = wilson_interval(sum(item.value for item in items), len(items))
    if interval is None:
        return Measure(value=None, sample=0, refs=refs)
    corrected = chance_corrected_accuracy(min(1.0, interval.high), n_classes)
    return Measure(value=max(0.0, corrected), sample=len(items), refs=refs)


def model_score(items: Sequence[Item], score: float | None) -> Measure:
    """A score the model gives the person (the spammer score), resting on `items` (their labels
    in the window): no items, or no score, and the rule does not judge."""
    refs = tuple(item.ref for item in items)
    if not items or score is None:
        return Measure(value=None, sample=len(items), refs=refs)
    return Measure(value=score, sample=len(items), refs=refs)


def measure(
    metric: str,
    items: Iterable[Item],
    *,
    window: Window,
    now: datetime,
    fast_answer_seconds: float | None = None,
    n_classes: int | None = None,
    spammer_score: float | None = None,
) -> Measure:
    """Compute `metric` over the items inside `window` (submissions: always the last 24 hours)."""
    if metric == SUBMISSIONS_24H:
        window = Window(span=SUBMISSIONS_SPAN)
    seen = window_apply(items, window, now=now)
    if metric == GOLD_ACCURACY:
        return gold_accuracy(seen)
    if metric == REVIEW_PASS_RATE:
        return review_pass_rate(seen)
    if metric in (AGREEMENT, CONSENSUS_AGREEMENT):
        return agreement_rate(seen)
    if metric == GOLD_ACCURACY_UPPER:
        if n_classes is None:
            raise ValueError("The gold accuracy bound needs the number of classes.")
        return gold_accuracy_upper(seen, n_classes=n_classes)
    if metric == SPAMMER_SCORE:
        return model_score(seen, spammer_score)
    if metric == FAST_ANSWER_RATE:
        if fast_answer_seconds is None:
            raise ValueError("The fast-answer rate needs a number of seconds.")
        return fast_answer_rate(seen, seconds=fast_answer_seconds)
    if metric == SKIP_STREAK:
        return skip_streak(seen)
    if metric == SUBMISSIONS_24H:
        return submission_count(seen)
    raise ValueError(f"Unknown metric {metric!r}.")


def condition_met(result: Measure, *, comparator: str, threshold: float, min_sample: int) -> bool:
    """Whether `result` breaks the rule: enough items, and the value compares true with `threshold`."""
    if result.value is None or result.sample < max(min_sample, 1):
        return False
    try:
        compare = COMPARATORS[comparator]
    except KeyError:
        raise ValueError(f"Unknown comparator {comparator!r}.") from None
    return compare(result.value, threshold)
