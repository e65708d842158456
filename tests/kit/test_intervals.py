"""Wilson's score interval: the one interval method for shares."""

import pytest

from kit.intervals import wilson_interval


def test_wilson_interval_matches_the_published_value_for_81_of_263():
    # Newcombe (1998), example: 81/263 gives 0.2553 to 0.3662.
    interval = wilson_interval(81, 263)

    assert interval is not None
    assert interval.low == pytest.approx(0.2553, abs=1e-4)
    assert interval.high == pytest.approx(0.3662, abs=1e-4)


def test_wilson_interval_of_all_successes_stays_below_one_and_is_not_empty():
    interval = wilson_interval(10, 10)

    assert interval is not None
    assert interval.high == pytest.approx(1.0)
    assert 0.65 < interval.low < 0.75


def test_wilson_interval_of_no_items_is_none():
    assert wilson_interval(0, 0) is None


def test_wilson_interval_rejects_more_successes_than_items():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
