"""The incentive formula, without a database: tiers, ties at thresholds, the cap, the budget."""

from payments.incentive_rules import (
    BudgetPolicy,
    Figures,
    Ranked,
    RewardKind,
    Rules,
    Tier,
    award,
    budget_apply,
    ppm,
    rank_key,
    rules_errors,
)


def figures(
    final_tasks=0,
    active_seconds=0,
    gold_low=None,
    review_pass=None,
    agreement=None,
    earnings_minor=0,
):
    return Figures(
        final_tasks=final_tasks,
        active_seconds=active_seconds,
        gold_low_ppm=gold_low,
        review_pass_ppm=review_pass,
        agreement_ppm=agreement,
        earnings_minor=earnings_minor,
    )


TWO_TIERS = Rules(
    kind=RewardKind.BONUS,
    tiers=(
        Tier(reward=1_000, min_final_tasks=100),
        Tier(reward=5_000, min_final_tasks=500, min_gold_low_ppm=950_000),
    ),
)


def test_a_figure_equal_to_its_threshold_meets_it():
    result = award(TWO_TIERS, figures(final_tasks=500, gold_low=950_000))

    assert result.tier == 2 and result.capped_minor == 5_000
    assert all(check.met for check in result.checks)


def test_one_below_the_threshold_falls_to_the_lower_tier():
    assert award(TWO_TIERS, figures(final_tasks=500, gold_low=949_999)).tier == 1
    assert award(TWO_TIERS, figures(final_tasks=99, gold_low=999_999)).tier is None


def test_a_missing_measure_never_meets_a_threshold_on_it():
    result = award(TWO_TIERS, figures(final_tasks=900, gold_low=None))

    assert result.tier == 1
    assert award(TWO_TIERS, figures(final_tasks=99)).capped_minor == 0


def test_a_share_equal_to_the_threshold_ties_whatever_its_last_float_bit():
    share = (2_850_000 / 1_000_000) / 3  # agreement as quality defines it: 0.95 up to a bit

    assert ppm(share) == 950_000
    assert ppm(19 / 20) == 950_000
    assert ppm(None) is None


def test_a_multiplier_is_a_share_of_the_period_earnings_rounded_down():
    rules = Rules(kind=RewardKind.MULTIPLIER, tiers=(Tier(reward=100_000, min_final_tasks=1),))

    assert award(rules, figures(final_tasks=1, earnings_minor=12_349)).capped_minor == 1_234


def test_the_cap_limits_each_person():
    rules = Rules(
        kind=RewardKind.BONUS, tiers=(Tier(reward=5_000, min_final_tasks=1),), cap_minor=3_000
    )

    result = award(rules, figures(final_tasks=1))

    assert (result.computed_minor, result.capped_minor) == (5_000, 3_000)


def test_a_budget_reached_scales_every_award_down_and_never_exceeds_it():
    rules = Rules(
        kind=RewardKind.BONUS,
        tiers=(Tier(reward=1, min_final_tasks=1),),
        budget_minor=1_000,
        budget_policy=BudgetPolicy.SCALE,
    )
    awards = [Ranked(1, 700, (0, 0, 1)), Ranked(2, 400, (0, 0, 2)), Ranked(3, 401, (0, 0, 3))]

    paid = budget_apply(rules, awards)

    assert paid == {1: 466, 2: 266, 3: 267}
    assert sum(paid.values()) <= 1_000


def test_a_budget_not_reached_pays_in_full():
    rules = Rules(
        kind=RewardKind.BONUS, tiers=(Tier(reward=1, min_final_tasks=1),), budget_minor=2_000
    )

    assert budget_apply(rules, [Ranked(1, 700, (0, 0, 1)), Ranked(2, 400, (0, 0, 2))]) == {
        1: 700,
        2: 400,
    }


def test_a_budget_reached_with_stop_pays_in_rank_order_and_the_crossing_award_in_part():
    rules = Rules(
        kind=RewardKind.BONUS,
        tiers=(Tier(reward=1, min_final_tasks=1),),
        budget_minor=1_000,
        budget_policy=BudgetPolicy.STOP,
    )
    awards = [
        Ranked(7, 600, rank_key(tier=1, final_tasks=50, user_id=7)),
        Ranked(3, 600, rank_key(tier=2, final_tasks=10, user_id=3)),
        Ranked(5, 600, rank_key(tier=1, final_tasks=50, user_id=5)),
    ]

    paid = budget_apply(rules, awards)

    assert paid == {3: 600, 5: 400, 7: 0}


def test_rules_errors_name_the_field_of_each_mistake():
    errors = rules_errors(
        kind="bonus",
        tiers=[{"reward": 1.5, "min_final_tasks": 10}, {"reward": 10}],
        cap_minor=0,
        budget_minor=None,
        budget_policy="never",
    )

    assert set(errors) == {"tiers.0.reward", "tiers.1", "cap_minor", "budget_policy"}


def test_a_share_threshold_above_one_is_refused():
    errors = rules_errors(
        kind="multiplier",
        tiers=[{"reward": 100_000, "min_review_pass_ppm": 1_000_001}],
        cap_minor=None,
        budget_minor=None,
        budget_policy="scale",
    )

    assert list(errors) == ["tiers.0.min_review_pass_ppm"]
