"""Every performance measure, defined once: its name, formula, unit and direction, computed from
summable counters (plain data, no database).

A person's hour of work in a project is a `Counters` (what the rollups store); a day, a week, a
team or a project is the sum of such counters (`Counters.__add__`), and every measure is a
function of a sum, so the same formula serves a person, a team, a project and a customer, over
any period. Pages, the API, exports and later decisions all read these definitions.

Cost per final task and earnings per active hour need money, which `payments` owns and
`quality` may not import: a caller that has the figures passes them as `Costs` (payments does,
when it shows them); without them both measures are None, never zero.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from kit.intervals import wilson_interval

# --- Time per task: the fixed histogram buckets ---------------------------------------------
# Lower edges in seconds of active time; bucket i holds [EDGES[i], EDGES[i + 1]), the last one
# everything from an hour up. Fixed for ever: rollups of different hours add bucket by bucket.
# Changing them means a new histogram field and a rebuild, never an edit.
TIME_BUCKET_EDGES: tuple[int, ...] = (
    0,
    5,
    10,
    15,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1800,
    3600,
)
TIME_BUCKETS = len(TIME_BUCKET_EDGES)

# Scores (gold, agreement: 0..1) are summed as integer millionths, so sums are exact and any
# order of adding gives the same rollup.
MICROS = 1_000_000
SECONDS_PER_HOUR = 3600


def time_bucket(seconds: int) -> int:
    """The histogram bucket of `seconds` of active time (negative counts as 0)."""
    return max(0, bisect.bisect_right(TIME_BUCKET_EDGES, seconds) - 1)


def histogram_of(seconds: Sequence[int]) -> list[int]:
    """Count `seconds` into the fixed buckets."""
    counts = [0] * TIME_BUCKETS
    for value in seconds:
        counts[time_bucket(value)] += 1
    return counts


def histogram_quantile(counts: Sequence[int], q: float) -> float | None:
    """The `q`-quantile (0 < q < 1) of the times counted in `counts`, None when empty.

    The rank q * n is located in its bucket and read linearly between the bucket's edges (times
    are assumed spread evenly inside a bucket); in the open last bucket it is the bucket's lower
    edge (3600 s), a floor. Exact to within the bucket holding it.
    """
    if not 0 < q < 1:
        raise ValueError("q lies strictly between 0 and 1.")
    n = sum(counts)
    if n == 0:
        return None
    rank = q * n
    below = 0
    for i, count in enumerate(counts):
        if count and below + count >= rank:
            low = TIME_BUCKET_EDGES[i]
            if i + 1 == TIME_BUCKETS:
                return float(low)
            high = TIME_BUCKET_EDGES[i + 1]
            return low + (high - low) * (rank - below) / count
        below += count
    return float(TIME_BUCKET_EDGES[-1])  # unreachable with counts summing to n


# --- What is counted -------------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    """What one person did in one project in one hour (or any sum of such): every field adds.

    `submissions`: their own annotations handed in (reviewers' corrections are not theirs);
    `reworks`: those that redo work a reviewer rejected (revision 2 and up);
    `final_tasks`: tasks that became final with their counted work in them;
    `active_seconds`: server-measured active time of their annotation leases that ended;
    `gold_scored` and `gold_score_micros`: gold answers scored and the sum of the scores;
    `reviews_passed`/`reviews_failed`: verdicts on their work (approve / correct or reject);
    `corrections`: the failed ones where the reviewer corrected the work;
    `agreement_count` and `agreement_micros`: their work on final tasks with an agreement score,
    and the sum of those scores; `skips`, `lease_expiries`: annotation leases skipped or run out;
    `time_histogram`: their submissions counted by active seconds into TIME_BUCKET_EDGES.
    """

    submissions: int = 0
    reworks: int = 0
    final_tasks: int = 0
    active_seconds: int = 0
    gold_scored: int = 0
    gold_score_micros: int = 0
    reviews_passed: int = 0
    reviews_failed: int = 0
    corrections: int = 0
    agreement_count: int = 0
    agreement_micros: int = 0
    skips: int = 0
    lease_expiries: int = 0
    time_histogram: tuple[int, ...] = field(default=(0,) * TIME_BUCKETS)

    def __post_init__(self) -> None:
        if len(self.time_histogram) != TIME_BUCKETS:
            raise ValueError(f"The time histogram has {TIME_BUCKETS} buckets.")

    def __add__(self, other: Counters) -> Counters:
        values: dict[str, Any] = {
            name: getattr(self, name) + getattr(other, name) for name in COUNTER_FIELDS
        }
        values["time_histogram"] = tuple(
            a + b for a, b in zip(self.time_histogram, other.time_histogram, strict=True)
        )
        return Counters(**values)

    @property
    def reviews(self) -> int:
        return self.reviews_passed + self.reviews_failed

    def as_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self, name) for name in COUNTER_FIELDS}
        values["time_histogram"] = list(self.time_histogram)
        return values


COUNTER_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Counters) if f.name != "time_histogram"
)
ZERO = Counters()


def counters_sum(parts: Sequence[Counters]) -> Counters:
    total = ZERO
    for part in parts:
        total = total + part
    return total


@dataclass(frozen=True)
class Costs:
    """Money a caller that owns it (payments) attaches to a sum of counters: what the work cost
    the customer and what the people earned, in minor units of `currency`."""

    currency: str
    cost_minor: int
    earnings_minor: int


# --- The measures ----------------------------------------------------------------------------


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"
    NEUTRAL = "neutral"  # a volume: more is neither better nor worse on its own


@dataclass(frozen=True)
class Definition:
    name: str
    label: str
    unit: str
    direction: Direction
    formula: str
    compute: Callable[[Counters, Costs | None], float | int | None]


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _per_active_hour(count: int, active_seconds: int) -> float | None:
    return count * SECONDS_PER_HOUR / active_seconds if active_seconds else None


def _round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, in integers (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def cost_per_final_task_minor(costs: Costs | None, final_tasks: int) -> int | None:
    """The cost of the work over the final tasks it produced, in minor units (half up)."""
    if costs is None or final_tasks <= 0:
        return None
    return _round_half_up(costs.cost_minor, final_tasks)


def earnings_per_active_hour_minor(costs: Costs | None, active_seconds: int) -> int | None:
    """What the people earned per hour of active time, in minor units (half up)."""
    if costs is None or active_seconds <= 0:
        return None
    return _round_half_up(costs.earnings_minor * SECONDS_PER_HOUR, active_seconds)


def gold_accuracy(c: Counters) -> float | None:
    return _ratio(c.gold_score_micros / MICROS, c.gold_scored)


def gold_interval(c: Counters) -> tuple[float, float] | None:
    """The 95% Wilson interval of gold accuracy (kit.intervals), None without scores."""
    interval = wilson_interval(min(c.gold_score_micros / MICROS, c.gold_scored), c.gold_scored)
    return None if interval is None else (interval.low, interval.high)


def _def(
    name: str,
    label: str,
    unit: str,
    direction: Direction,
    formula: str,
    compute: Callable[[Counters, Costs | None], float | int | None],
) -> Definition:
    return Definition(name, label, unit, direction, formula, compute)


HIGHER, LOWER, NEUTRAL = (
    Direction.HIGHER_IS_BETTER,
    Direction.LOWER_IS_BETTER,
    Direction.NEUTRAL,
)

DEFINITIONS: tuple[Definition, ...] = (
    _def(
        "submissions",
        "Submissions",
        "annotations",
        NEUTRAL,
        "submissions",
        lambda c, _: c.submissions,
    ),
    _def(
        "final_tasks",
        "Final tasks",
        "tasks",
        NEUTRAL,
        "final_tasks",
        lambda c, _: c.final_tasks,
    ),
    _def(
        "active_hours",
        "Active time",
        "hours",
        NEUTRAL,
        "active_seconds / 3600",
        lambda c, _: c.active_seconds / SECONDS_PER_HOUR,
    ),
    _def(
        "submissions_per_active_hour",
        "Submissions per active hour",
        "annotations per hour",
        HIGHER,
        "submissions * 3600 / active_seconds",
        lambda c, _: _per_active_hour(c.submissions, c.active_seconds),
    ),
    _def(
        "final_tasks_per_active_hour",
        "Final tasks per active hour",
        "tasks per hour",
        HIGHER,
        "final_tasks * 3600 / active_seconds",
        lambda c, _: _per_active_hour(c.final_tasks, c.active_seconds),
    ),
    _def(
        "time_per_task_median",
        "Time per task (median)",
        "seconds",
        LOWER,
        "the 0.5-quantile of time_histogram",
        lambda c, _: histogram_quantile(c.time_histogram, 0.5),
    ),
    _def(
        "time_per_task_p90",
        "Time per task (90th percentile)",
        "seconds",
        LOWER,
        "the 0.9-quantile of time_histogram",
        lambda c, _: histogram_quantile(c.time_histogram, 0.9),
    ),
    _def(
        "gold_accuracy",
        "Gold accuracy",
        "share (0..1)",
        HIGHER,
        "gold_score_micros / 1e6 / gold_scored",
        lambda c, _: gold_accuracy(c),
    ),
    _def(
        "gold_accuracy_low",
        "Gold accuracy, 95% interval low",
        "share (0..1)",
        HIGHER,
        "Wilson score interval of (sum of gold scores) out of gold_scored, lower end",
        lambda c, _: (gold_interval(c) or (None, None))[0],
    ),
    _def(
        "gold_accuracy_high",
        "Gold accuracy, 95% interval high",
        "share (0..1)",
        HIGHER,
        "Wilson score interval of (sum of gold scores) out of gold_scored, upper end",
        lambda c, _: (gold_interval(c) or (None, None))[1],
    ),
    _def(
        "review_pass_rate",
        "Review pass rate",
        "share (0..1)",
        HIGHER,
        "reviews_passed / (reviews_passed + reviews_failed)",
        lambda c, _: _ratio(c.reviews_passed, c.reviews),
    ),
    _def(
        "correction_rate",
        "Correction rate",
        "share (0..1)",
        LOWER,
        "corrections / (reviews_passed + reviews_failed)",
        lambda c, _: _ratio(c.corrections, c.reviews),
    ),
    _def(
        "rework_rate",
        "Rework rate",
        "share (0..1)",
        LOWER,
        "reworks / submissions",
        lambda c, _: _ratio(c.reworks, c.submissions),
    ),
    _def(
        "agreement",
        "Agreement with consensus",
        "share (0..1)",
        HIGHER,
        "agreement_micros / 1e6 / agreement_count",
        lambda c, _: _ratio(c.agreement_micros / MICROS, c.agreement_count),
    ),
    _def("skips", "Skips", "leases", LOWER, "skips", lambda c, _: c.skips),
    _def(
        "lease_expiries",
        "Lease expiries",
        "leases",
        LOWER,
        "lease_expiries",
        lambda c, _: c.lease_expiries,
    ),
    _def(
        "cost_per_final_task_minor",
        "Cost per final task",
        "minor units of the currency",
        LOWER,
        "cost_minor / final_tasks, rounded half up (with payments' figures only)",
        lambda c, costs: cost_per_final_task_minor(costs, c.final_tasks),
    ),
    _def(
        "earnings_per_active_hour_minor",
        "Earnings per active hour",
        "minor units of the currency",
        NEUTRAL,
        "earnings_minor * 3600 / active_seconds, rounded half up (with payments' figures only)",
        lambda c, costs: earnings_per_active_hour_minor(costs, c.active_seconds),
    ),
)
BY_NAME: dict[str, Definition] = {d.name: d for d in DEFINITIONS}
MEASURE_NAMES: tuple[str, ...] = tuple(d.name for d in DEFINITIONS)


def measures_of(counters: Counters, costs: Costs | None = None) -> dict[str, float | int | None]:
    """Every measure of `counters` by name (None where it is undefined: 0/0, or no costs)."""
    return {d.name: d.compute(counters, costs) for d in DEFINITIONS}


def share(part: float, whole: float) -> float | None:
    """part / whole, None when whole is 0: how every rate here is taken (reports reuse it)."""
    return _ratio(part, whole)
