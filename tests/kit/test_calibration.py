"""Calibration: the ECE and reliability bins by hand, then the product's consensus functions measured
on a simulated crowd with known truth (fixed seeds: statistical tests, not timings)."""

import numpy as np
import pytest

from kit.calibration import bins_as_rows, expected_calibration_error, reliability
from kit.consensus import (
    Decision,
    dawid_skene,
    overlap_decision,
    simulate_population,
    task_posterior,
)

# --- The measure -------------------------------------------------------------------------------


def test_reliability_puts_each_prediction_in_its_bin_with_one_in_the_last():
    table = reliability([0.05, 0.95, 1.0, 0.92], [True, False, True, True], bins=10)

    assert [b.count for b in table] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    assert table[9].mean_confidence == pytest.approx((0.95 + 1.0 + 0.92) / 3)
    assert table[9].accuracy == pytest.approx(2 / 3)
    assert table[1].mean_confidence is None and table[1].accuracy is None


def test_ece_weights_each_bins_gap_by_its_share_of_predictions():
    # Bin [0.6, 0.8): confidence 0.7 twice, one right (gap 0.2); bin [0.8, 1]: 0.9 twice, both
    # right (gap 0.1). ECE = 2/4 * 0.2 + 2/4 * 0.1.
    ece = expected_calibration_error([0.7, 0.7, 0.9, 0.9], [True, False, True, True], bins=5)

    assert ece == pytest.approx(0.15)


def test_a_calibrated_confidence_has_an_ece_near_zero_and_a_vote_share_does_not():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 50_000)
    right = rng.random(50_000) < confidence

    assert expected_calibration_error(confidence, right) < 0.01
    assert expected_calibration_error(np.minimum(confidence + 0.2, 1.0), right) > 0.1


def test_the_ece_of_nothing_is_zero_and_bad_input_is_refused():
    assert expected_calibration_error([], []) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        expected_calibration_error([1.2], [True])
    with pytest.raises(ValueError, match="equal length"):
        reliability([0.5, 0.6], [True])
    with pytest.raises(ValueError, match="bins"):
        reliability([0.5], [True], bins=0)


def test_bins_as_rows_gives_plain_values():
    rows = bins_as_rows(reliability([0.25], [True], bins=2))

    assert rows == [
        {"low": 0.0, "high": 0.5, "count": 1, "mean_confidence": 0.25, "accuracy": 1.0},
        {"low": 0.5, "high": 1.0, "count": 0, "mean_confidence": None, "accuracy": None},
    ]


# --- The product's consensus functions on a realistic crowd ------------------------------------

K = 4
CLASSES = [f"c{i}" for i in range(K)]
CLASS_PRIORS = [0.5, 0.25, 0.15, 0.1]
SHARES = {"honest": 0.75, "weak": 0.10, "spammer": 0.15}
PEOPLE = 100
HISTORY = 4_000  # tasks labelled at overlap 5 before: what the estimates are fitted on
MEASURED = 5_000


@pytest.fixture(scope="module")
def crowd():
    """A crowd with heavy-tailed activity, 10% weak and 15% spammers, skewed classes; its labels
    at overlap 5 on the history and seven labels per measured task, each drawn once."""
    population = simulate_population(
        HISTORY + MEASURED, PEOPLE, K, shares=SHARES, seed=5, class_priors=CLASS_PRIORS
    )
    rng = np.random.default_rng(6)
    activity = rng.pareto(1.2, PEOPLE) + 1
    activity /= activity.sum()
    people = np.array(
        [rng.choice(PEOPLE, size=7, replace=False, p=activity) for _ in range(HISTORY + MEASURED)]
    )
    tasks = np.repeat(np.arange(HISTORY + MEASURED), 7)
    labels = population.label(rng, tasks, people.ravel()).reshape(-1, 7)
    return population, people, labels


def history_estimate(crowd):
    _, people, labels = crowd
    tasks = np.repeat(np.arange(HISTORY), 5)
    return dawid_skene(
        tasks, people[:HISTORY, :5].ravel(), labels[:HISTORY, :5].ravel(), HISTORY, PEOPLE, K
    )


def test_dawid_skene_posteriors_are_calibrated_within_one_point(crowd):
    population, people, labels = crowd
    n = HISTORY + MEASURED
    tasks = np.repeat(np.arange(n), 5)

    result = dawid_skene(tasks, people[:, :5].ravel(), labels[:, :5].ravel(), n, PEOPLE, K)

    confidence = result.posteriors.max(axis=1)
    right = result.posteriors.argmax(axis=1) == population.truth
    assert expected_calibration_error(confidence, right) <= 0.01


def dynamic_overlap(crowd, estimate, threshold):
    """Ask for labels one at a time as the product does at each submission; return the labels
    used, the stored confidences and whether each final label is right (fixed-5 alongside)."""
    population, people, labels = crowd
    confusions = dict(enumerate(estimate.confusions))
    used, confidence, right, fixed_right = 0, [], [], []
    for task in range(HISTORY, HISTORY + MEASURED):
        answers = [(int(people[task, j]), CLASSES[labels[task, j]]) for j in range(7)]
        truth = CLASSES[population.truth[task]]
        fixed = task_posterior(
            answers[:5], confusions, estimate.priors, CLASSES, default_confusion=estimate.crowd
        )
        fixed_right.append(fixed.label == truth)
        for n in range(2, 8):
            posterior = task_posterior(
                answers[:n], confusions, estimate.priors, CLASSES, default_confusion=estimate.crowd
            )
            decision = overlap_decision(
                posterior, n_labels=n, min_overlap=2, max_overlap=7, threshold=threshold
            )
            if decision != Decision.MORE:
                break
        used += n
        confidence.append(posterior.confidence)
        right.append(posterior.label == truth)
    return used / MEASURED, np.array(confidence), np.array(right), np.array(fixed_right)


def test_dynamic_overlap_is_calibrated_and_saves_labels_without_losing_accuracy(crowd):
    estimate = history_estimate(crowd)

    per_task, confidence, right, fixed_right = dynamic_overlap(crowd, estimate, threshold=0.97)

    # The stored confidence means what it says, fixed-5 Dawid-Skene with the same estimates too.
    assert expected_calibration_error(confidence, right) <= 0.01
    # The goal of issue 16: at least 30% fewer labels than 5, accuracy at most 0.5 points lower.
    assert per_task <= 0.7 * 5
    assert right.mean() >= fixed_right.mean() - 0.005
