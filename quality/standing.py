"""Probation and tier verdicts from a person's measured record: pure functions, no database.

Accuracy here is over every scored item of a person's work: a gold score (0..1) or a review
verdict of their work (1 approve, 0 correct or reject). Every bound is the 95% Wilson interval of
`kit.intervals`, the one interval method Quorum shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from kit.intervals import wilson_interval
from quality.measures import Item

PASS = "pass"  # noqa: S105  (an outcome name, not a secret)
RETRAIN = "retrain"
PROMOTE = "promote"
DEMOTE = "demote"
HOLD = "hold"


@dataclass(frozen=True)
class Share:
    """`successes` out of `n` (successes may be fractional), its share and its 95% interval."""

    n: int
    successes: float
    accuracy: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, successes: float, n: int) -> Share:
        interval = wilson_interval(successes, n)
        if interval is None:
            return cls(n=0, successes=0.0, accuracy=None, low=None, high=None)
        return cls(
            n=n,
            successes=successes,
            accuracy=successes / n,
            low=interval.low,
            high=interval.high,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def share_of_items(items: Sequence[Item]) -> Share:
    """The share of `items` that were right (each item's value is its score in 0..1)."""
    return Share.of(sum(item.value for item in items), len(items))


@dataclass(frozen=True)
class ProbationThresholds:
    min_items: int
    pass_lower: float
    floor_upper: float


def probation_outcome(share: Share, thresholds: ProbationThresholds) -> str | None:
    """PASS when there are enough items and the lower bound is above the pass threshold; RETRAIN
    when the upper bound is below the floor (however few items: the interval is then wide
    already); otherwise None (keep measuring)."""
    if share.low is None or share.high is None:
        return None
    if share.n >= thresholds.min_items and share.low > thresholds.pass_lower:
        return PASS
    if share.high < thresholds.floor_upper:
        return RETRAIN
    return None


@dataclass(frozen=True)
class TierThresholds:
    promote_lower: float
    demote_upper: float
    min_volume: int
    upheld_lower: float
    upheld_demote_upper: float


@dataclass(frozen=True)
class TierRecord:
    """A person's measured record over the tier window."""

    accuracy: Share  # gold scores and review verdicts of their work together
    gold: Share
    reviews: Share  # review pass rate of their work
    volume: int  # annotations they handed in
    upheld: Share  # their own reviews a higher level upheld (reviewers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.as_dict(),
            "gold": self.gold.as_dict(),
            "review_pass_rate": self.reviews.as_dict(),
            "volume": self.volume,
            "upheld": self.upheld.as_dict(),
        }


def promotion_met(record: TierRecord, t: TierThresholds, *, is_reviewer: bool) -> bool:
    """Lower bound of accuracy at least the promote threshold, enough volume, and for reviewers a
    lower bound of their upheld share at least its threshold."""
    if record.accuracy.low is None or record.accuracy.low < t.promote_lower:
        return False
    if record.volume < t.min_volume:
        return False
    if is_reviewer:
        return record.upheld.low is not None and record.upheld.low >= t.upheld_lower
    return True


def demotion_met(record: TierRecord, t: TierThresholds, *, is_reviewer: bool) -> bool:
    """Upper bound of accuracy below the demote threshold, or for reviewers the upper bound of
    their upheld share below its demote threshold."""
    if record.accuracy.high is not None and record.accuracy.high < t.demote_upper:
        return True
    return (
        is_reviewer
        and record.upheld.high is not None
        and record.upheld.high < t.upheld_demote_upper
    )


def tier_signal(
    record: TierRecord,
    t: TierThresholds,
    *,
    is_reviewer: bool,
    can_promote: bool,
    can_demote: bool,
) -> str:
    """This computation's verdict: DEMOTE, PROMOTE or HOLD (the thresholds are far apart, so both
    cannot hold at once)."""
    if can_demote and demotion_met(record, t, is_reviewer=is_reviewer):
        return DEMOTE
    if can_promote and promotion_met(record, t, is_reviewer=is_reviewer):
        return PROMOTE
    return HOLD


def tier_change_due(signal: str, previous: str | None) -> bool:
    """Hysteresis: a move is proposed only when last week's computation said the same."""
    return signal != HOLD and previous == signal
