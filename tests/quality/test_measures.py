"""Quality-rule metrics and conditions: pure functions, no database."""

from datetime import UTC, datetime, timedelta

import pytest

from quality.measures import (
    AGREEMENT,
    FAST_ANSWER_RATE,
    GOLD_ACCURACY,
    REVIEW_PASS_RATE,
    SKIP_STREAK,
    SUBMISSIONS_24H,
    Item,
    Measure,
    Window,
    agreement_rate,
    condition_met,
    fast_answer_rate,
    gold_accuracy,
    measure,
    review_pass_rate,
    skip_streak,
    submission_count,
    window_apply,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def items(*values, step=timedelta(hours=1)):
    """Items newest first: the first value is an hour old, the next two hours, and so on."""
    return [Item(ref=i + 1, at=NOW - step * (i + 1), value=v) for i, v in enumerate(values)]


def test_a_window_of_items_keeps_the_newest_n():
    given = list(reversed(items(1, 2, 3, 4)))

    kept = window_apply(given, Window(items=2), now=NOW)

    assert [item.ref for item in kept] == [1, 2]


def test_a_window_of_days_keeps_what_happened_since():
    given = items(1, 2, 3, step=timedelta(days=1))

    kept = window_apply(given, Window.of("days", 2), now=NOW)

    assert [item.ref for item in kept] == [1, 2]


def test_a_window_leaves_out_what_happens_after_now():
    given = [Item(ref=99, at=NOW + timedelta(minutes=1), value=1), *items(0)]

    kept = window_apply(given, Window.of("days", 1), now=NOW)

    assert [item.ref for item in kept] == [1]


def test_a_window_is_either_items_or_a_span():
    with pytest.raises(ValueError):
        Window()
    with pytest.raises(ValueError):
        Window(items=3, span=timedelta(days=1))
    with pytest.raises(ValueError):
        Window(items=0)
    with pytest.raises(ValueError):
        Window.of("weeks", 1)


def test_gold_accuracy_is_the_mean_score():
    result = gold_accuracy(items(1.0, 0.5, 0.0, 0.5))

    assert result == Measure(value=0.5, sample=4, refs=(1, 2, 3, 4))


def test_an_empty_window_has_no_value():
    assert gold_accuracy([]) == Measure(value=None, sample=0, refs=())


def test_review_pass_rate_counts_approvals():
    result = review_pass_rate(items(1, 0, 1, 1))

    assert (result.value, result.sample) == (0.75, 4)


def test_agreement_is_the_mean_agreement():
    result = agreement_rate(items(0.9, 0.7))

    assert result.value == pytest.approx(0.8)


def test_fast_answer_rate_counts_answers_below_the_seconds():
    result = fast_answer_rate(items(1, 2, 3, 10), seconds=3)

    assert (result.value, result.sample) == (0.5, 4)


def test_skip_streak_counts_the_newest_skips_in_a_row():
    result = skip_streak(items(1, 1, 1, 0, 1))

    assert (result.value, result.sample, result.refs) == (3.0, 5, (1, 2, 3))


def test_skip_streak_is_zero_when_the_newest_was_answered():
    assert skip_streak(items(0, 1, 1)).value == 0.0


def test_submission_count_counts_every_item():
    assert submission_count(items(1, 1, 1)).value == 3.0


def test_measure_windows_before_computing():
    given = items(0.0, 0.0, 1.0, 1.0)

    result = measure(GOLD_ACCURACY, given, window=Window(items=2), now=NOW)

    assert (result.value, result.sample, result.refs) == (0.0, 2, (1, 2))


def test_submissions_are_always_counted_over_24_hours():
    given = items(*([1] * 30))  # one an hour, for 30 hours

    result = measure(SUBMISSIONS_24H, given, window=Window(items=5), now=NOW)

    assert result.value == 24.0


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        (REVIEW_PASS_RATE, (1, 0), 0.5),
        (AGREEMENT, (0.5, 1.0), 0.75),
        (FAST_ANSWER_RATE, (1, 9), 0.5),
        (SKIP_STREAK, (1, 0), 1.0),
    ],
)
def test_measure_dispatches_to_each_metric(metric, values, expected):
    result = measure(
        metric, items(*values), window=Window(items=10), now=NOW, fast_answer_seconds=3
    )

    assert result.value == expected


def test_measure_refuses_a_fast_answer_rate_without_seconds_and_unknown_metrics():
    with pytest.raises(ValueError):
        measure(FAST_ANSWER_RATE, items(1), window=Window(items=1), now=NOW)
    with pytest.raises(ValueError):
        measure("earnings_24h", items(1), window=Window(items=1), now=NOW)


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("lt", 0.5, True),
        ("lt", 0.6, False),
        ("lte", 0.6, True),
        ("gt", 0.6, False),
        ("gt", 0.7, True),
        ("gte", 0.6, True),
        ("gte", 0.59, False),
    ],
)
def test_conditions_compare_with_the_threshold(comparator, value, expected):
    result = Measure(value=value, sample=10, refs=())

    assert condition_met(result, comparator=comparator, threshold=0.6, min_sample=10) is expected


def test_below_the_minimum_sample_a_condition_never_holds():
    result = Measure(value=0.0, sample=9, refs=())

    assert condition_met(result, comparator="lt", threshold=0.6, min_sample=10) is False


def test_an_empty_measure_never_holds_even_without_a_minimum():
    result = Measure(value=None, sample=0, refs=())

    assert condition_met(result, comparator="lt", threshold=1, min_sample=0) is False


def test_an_unknown_comparator_is_refused():
    with pytest.raises(ValueError):
        condition_met(Measure(1.0, 1, ()), comparator="eq", threshold=1, min_sample=1)


def test_the_gold_upper_bound_is_chance_corrected_and_floored():
    from quality.measures import Item, gold_accuracy_upper, model_score

    at = datetime(2026, 1, 1, tzinfo=UTC)
    wrong = [Item(ref=i, at=at, value=0.0) for i in range(100)]
    result = gold_accuracy_upper(wrong, n_classes=4)
    assert result.value == 0.0 and result.sample == 100
    assert gold_accuracy_upper([], n_classes=4).value is None
    assert model_score(wrong[:3], None).value is None
    assert model_score(wrong[:3], 0.8).value == 0.8 and model_score(wrong[:3], 0.8).sample == 3
