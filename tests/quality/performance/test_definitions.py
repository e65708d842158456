"""The measures' definitions, without the database."""

import pytest

from quality.performance.definitions import (
    BY_NAME,
    MEASURE_NAMES,
    TIME_BUCKET_EDGES,
    Costs,
    Counters,
    histogram_of,
    histogram_quantile,
    measures_of,
    time_bucket,
)


def test_a_time_falls_in_the_bucket_whose_lower_edge_it_reaches():
    assert time_bucket(0) == 0
    assert time_bucket(4) == 0
    assert time_bucket(5) == 1
    assert time_bucket(3599) == len(TIME_BUCKET_EDGES) - 2
    assert time_bucket(99_999) == len(TIME_BUCKET_EDGES) - 1


def test_quantiles_read_linearly_inside_the_bucket_holding_the_rank():
    counts = histogram_of([3, 7, 12, 40])

    assert histogram_quantile(counts, 0.5) == pytest.approx(10.0)  # rank 2: top of [5, 10)
    assert histogram_quantile(counts, 0.9) == pytest.approx(39.0)  # rank 3.6: 30 + 15 * 0.6


def test_a_quantile_in_the_open_last_bucket_is_its_lower_edge():
    assert histogram_quantile(histogram_of([4000, 5000]), 0.9) == 3600.0


def test_no_time_has_no_quantile():
    assert histogram_quantile(histogram_of([]), 0.5) is None


def test_counters_add_field_by_field_and_bucket_by_bucket():
    a = Counters(submissions=2, time_histogram=tuple(histogram_of([1, 6])))
    b = Counters(submissions=1, skips=3, time_histogram=tuple(histogram_of([2])))

    total = a + b

    assert total.submissions == 3
    assert total.skips == 3
    assert total.time_histogram[:2] == (2, 1)


def test_rates_are_none_without_a_denominator_never_zero():
    measures = measures_of(Counters())

    assert measures["review_pass_rate"] is None
    assert measures["gold_accuracy"] is None
    assert measures["submissions_per_active_hour"] is None
    assert measures["submissions"] == 0


def test_money_measures_need_costs_and_round_half_up_in_integers():
    counters = Counters(final_tasks=3, active_seconds=7200)

    without = measures_of(counters)
    priced = measures_of(counters, Costs(currency="USD", cost_minor=100, earnings_minor=1001))

    assert without["cost_per_final_task_minor"] is None
    assert priced["cost_per_final_task_minor"] == 33  # 33.33 down
    assert priced["earnings_per_active_hour_minor"] == 501  # 500.5 up
    assert isinstance(priced["earnings_per_active_hour_minor"], int)


def test_every_measure_is_named_once_with_a_unit_direction_and_formula():
    assert len(set(MEASURE_NAMES)) == len(MEASURE_NAMES)
    for name in MEASURE_NAMES:
        definition = BY_NAME[name]
        assert definition.unit and definition.formula and definition.direction


def test_the_user_documentation_defines_every_measure():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "measures.md").read_text()

    missing = [name for name in MEASURE_NAMES if f"`{name}`" not in text]
    assert not missing
    assert ", ".join(str(edge) for edge in TIME_BUCKET_EDGES) in text
