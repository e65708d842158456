"""The incentive formula: plain data in, plain data out, no database (tested without one).

A program version holds tiers. A tier is a set of thresholds (final tasks, active minutes, gold
accuracy's 95% lower bound, review pass rate, agreement with consensus; each optional) and a
reward: a fixed bonus in minor units, or a multiplier in parts per million of the person's
earnings of the period (100,000 ppm = +10%). A person gets the reward of the best tier whose every
threshold they meet (a threshold is met at equality; a missing measure, e.g. no gold scored,
never meets a threshold on it). The reward is then capped per person; the sum over people is held
to the period's budget by one of two documented, deterministic policies:

- `scale`: every award becomes floor(award * budget / total), so the total never exceeds the
  budget (the few minor units lost to rounding down stay with the platform);
- `stop`: awards are paid in rank order (best tier first, then more final tasks, then the lower
  user id) until the budget is spent; the award that crosses it is paid in part, later ones get 0.

Quality measures come from quality's definitions as shares (0..1); they are compared here in
whole parts per million (`ppm`, rounded half to even once), so a share equal to a threshold is a
tie and meets it, whatever the float's last bit. Money is integers only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PPM = 1_000_000
# A bonus above this many minor units, or a multiplier above +1000%, is a typing mistake.
MAX_BONUS_MINOR = 10**12
MAX_MULTIPLIER_PPM = 10 * PPM
MAX_TIERS = 20


class RewardKind(StrEnum):
    BONUS = "bonus"  # a fixed amount, in minor units of the program's currency
    MULTIPLIER = "multiplier"  # ppm of the person's earnings of the period, in scope


class BudgetPolicy(StrEnum):
    SCALE = "scale"
    STOP = "stop"


# The measures a tier may set a threshold on: (name, label, kind of value).
THRESHOLDS: tuple[tuple[str, str, str], ...] = (
    ("min_final_tasks", "final tasks", "count"),
    ("min_active_minutes", "active minutes", "count"),
    ("min_gold_low_ppm", "gold accuracy (95% lower bound)", "share"),
    ("min_review_pass_ppm", "review pass rate", "share"),
    ("min_agreement_ppm", "agreement with consensus", "share"),
)
THRESHOLD_NAMES = tuple(name for name, _, _ in THRESHOLDS)


@dataclass(frozen=True)
class Tier:
    """One step of a program: thresholds (None: not required) and its reward."""

    reward: int
    min_final_tasks: int | None = None
    min_active_minutes: int | None = None
    min_gold_low_ppm: int | None = None
    min_review_pass_ppm: int | None = None
    min_agreement_ppm: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {"reward": self.reward, **{name: getattr(self, name) for name in THRESHOLD_NAMES}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tier:
        return cls(reward=data["reward"], **{name: data.get(name) for name in THRESHOLD_NAMES})


@dataclass(frozen=True)
class Rules:
    """What one program version pays."""

    kind: RewardKind
    tiers: tuple[Tier, ...]
    cap_minor: int | None = None
    budget_minor: int | None = None
    budget_policy: BudgetPolicy = BudgetPolicy.SCALE


@dataclass(frozen=True)
class Figures:
    """What a person did in the period, in the program's scope: the figures a tier is read
    against. Shares are ppm (see `ppm`); None where the measure is undefined."""

    final_tasks: int
    active_seconds: int
    gold_low_ppm: int | None
    review_pass_ppm: int | None
    agreement_ppm: int | None
    earnings_minor: int

    def value_of(self, threshold: str) -> int | None:
        return {
            "min_final_tasks": self.final_tasks,
            "min_active_minutes": self.active_seconds // 60,
            "min_gold_low_ppm": self.gold_low_ppm,
            "min_review_pass_ppm": self.review_pass_ppm,
            "min_agreement_ppm": self.agreement_ppm,
        }[threshold]


@dataclass(frozen=True)
class Check:
    """One threshold of the tier awarded (or of the first tier, when none is met) and the
    person's figure against it."""

    threshold: str
    required: int
    actual: int | None
    met: bool


@dataclass(frozen=True)
class Award:
    """A person's reward before the budget: the tier met (1-based, None: none), the amount the
    tier gives, and that amount after the per-person cap."""

    tier: int | None
    computed_minor: int
    capped_minor: int
    checks: tuple[Check, ...]


def ppm(share: float | None) -> int | None:
    """A share (0..1) as whole parts per million, rounded half to even; None stays None."""
    return None if share is None else round(share * PPM)


def tier_checks(tier: Tier, figures: Figures) -> tuple[Check, ...]:
    """Each threshold `tier` sets, with the person's figure against it."""
    found = []
    for name in THRESHOLD_NAMES:
        required = getattr(tier, name)
        if required is None:
            continue
        actual = figures.value_of(name)
        found.append(Check(name, required, actual, actual is not None and actual >= required))
    return tuple(found)


def tier_reward_minor(rules: Rules, tier: Tier, figures: Figures) -> int:
    """What `tier` gives: its bonus, or its multiplier of the period's earnings rounded down."""
    if rules.kind == RewardKind.BONUS:
        return tier.reward
    return max(0, figures.earnings_minor) * tier.reward // PPM


def award(rules: Rules, figures: Figures) -> Award:
    """The best tier the figures meet (the highest amount; ties to the earlier tier), capped."""
    best: tuple[int, int, tuple[Check, ...]] | None = None
    for index, tier in enumerate(rules.tiers, start=1):
        checks = tier_checks(tier, figures)
        if not all(check.met for check in checks):
            continue
        amount = tier_reward_minor(rules, tier, figures)
        if best is None or amount > best[1]:
            best = (index, amount, checks)
    if best is None:
        first = tier_checks(rules.tiers[0], figures) if rules.tiers else ()
        return Award(tier=None, computed_minor=0, capped_minor=0, checks=first)
    index, amount, checks = best
    capped = amount if rules.cap_minor is None else min(amount, rules.cap_minor)
    return Award(tier=index, computed_minor=amount, capped_minor=capped, checks=checks)


def rank_key(*, tier: int | None, final_tasks: int, user_id: int) -> tuple[int, int, int]:
    """The order in which `stop` pays: the best tier first (the later tier of a program is the
    higher one by convention; here simply the larger index), more final tasks, lower user id."""
    return (-(tier or 0), -final_tasks, user_id)


def budget_scaled(capped_minor: int, *, budget_minor: int, total_minor: int) -> int:
    """`scale`: an award held to the budget when the total of awards exceeds it (rounded down)."""
    if total_minor <= budget_minor:
        return capped_minor
    return capped_minor * budget_minor // total_minor


def budget_stopped(capped_minor: int, *, budget_minor: int, spent_before_minor: int) -> int:
    """`stop`: what is left of the budget for this award, paid in rank order."""
    return max(0, min(capped_minor, budget_minor - spent_before_minor))


@dataclass(frozen=True)
class Ranked:
    """An award to hold to the budget: who, how much, and its place in the `stop` order."""

    user_id: int
    capped_minor: int
    rank: tuple[int, int, int]


def budget_apply(rules: Rules, awards: Iterable[Ranked]) -> dict[int, int]:
    """Each person's final amount after the budget (the whole period at once; period close
    applies the same two functions batch by batch over stored lines)."""
    items = list(awards)
    if rules.budget_minor is None:
        return {item.user_id: item.capped_minor for item in items}
    if rules.budget_policy == BudgetPolicy.SCALE:
        total = sum(item.capped_minor for item in items)
        return {
            item.user_id: budget_scaled(
                item.capped_minor, budget_minor=rules.budget_minor, total_minor=total
            )
            for item in items
        }
    paid: dict[int, int] = {}
    spent = 0
    for item in sorted(items, key=lambda i: i.rank):
        amount = budget_stopped(
            item.capped_minor, budget_minor=rules.budget_minor, spent_before_minor=spent
        )
        paid[item.user_id] = amount
        spent += amount
    return paid


def _int_within(value: object, low: int, high: int) -> bool:
    """Whether `value` is an int (never a bool or a float) with low <= value <= high."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def rules_errors(
    *,
    kind: str,
    tiers: Sequence[dict[str, Any]],
    cap_minor: object,
    budget_minor: object,
    budget_policy: str,
) -> dict[str, list[str]]:
    """Every mistake in a version's rules, by field (`tiers.<i>.<field>` for a tier's)."""
    errors: dict[str, list[str]] = {}

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if kind not in RewardKind.__members__.values():
        bad("kind", f"Use one of {', '.join(RewardKind)}.")
    if budget_policy not in BudgetPolicy.__members__.values():
        bad("budget_policy", f"Use one of {', '.join(BudgetPolicy)}.")
    for field, value in (("cap_minor", cap_minor), ("budget_minor", budget_minor)):
        if value is not None and not _int_within(value, 1, MAX_BONUS_MINOR):
            bad(field, "Empty, or a whole number of minor units above zero.")
    if not tiers:
        bad("tiers", "A version has at least one tier.")
    if len(tiers) > MAX_TIERS:
        bad("tiers", f"At most {MAX_TIERS} tiers.")
    for index, tier in enumerate(tiers):
        reward = tier.get("reward")
        limit = MAX_MULTIPLIER_PPM if kind == RewardKind.MULTIPLIER else MAX_BONUS_MINOR
        if not _int_within(reward, 1, limit):
            unit = "parts per million" if kind == RewardKind.MULTIPLIER else "minor units"
            bad(f"tiers.{index}.reward", f"A whole number of {unit} above zero, at most {limit}.")
        set_any = False
        for name, _, value_kind in THRESHOLDS:
            value = tier.get(name)
            if value is None:
                continue
            set_any = True
            top = PPM if value_kind == "share" else 10**9
            if not _int_within(value, 0, top):
                bad(f"tiers.{index}.{name}", f"Empty, or a whole number from 0 to {top}.")
        unknown = set(tier) - {"reward", *THRESHOLD_NAMES}
        if unknown:
            bad(f"tiers.{index}", f"Unknown fields: {', '.join(sorted(unknown))}.")
        if not set_any:
            bad(f"tiers.{index}", "Set at least one threshold (a tier for everyone is a raise).")
    return errors


def rules_of(
    *,
    kind: str,
    tiers: Sequence[dict[str, Any]],
    cap_minor: int | None,
    budget_minor: int | None,
    budget_policy: str,
) -> Rules:
    """Rules from stored (already validated) values."""
    return Rules(
        kind=RewardKind(kind),
        tiers=tuple(Tier.from_dict(tier) for tier in tiers),
        cap_minor=cap_minor,
        budget_minor=budget_minor,
        budget_policy=BudgetPolicy(budget_policy),
    )
