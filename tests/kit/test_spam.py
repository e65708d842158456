"""Spammer scores from confusion matrices, and the default spam rule on a simulated crowd."""

import numpy as np
import pytest

from kit.consensus import dawid_skene, simulate_population
from kit.spam import (
    chance_corrected_accuracy,
    informativeness,
    spammer_score,
    spammers_flagged,
)


def test_a_spammer_whose_label_ignores_the_truth_scores_one():
    uniform = np.full((3, 3), 1 / 3)
    always_first = [[1, 0, 0], [1, 0, 0], [1, 0, 0]]

    assert spammer_score(uniform) == pytest.approx(1.0)
    assert spammer_score(always_first) == pytest.approx(1.0)


def test_a_perfect_annotator_scores_zero_and_a_weaker_one_in_between():
    perfect = np.eye(3)
    decent = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]

    assert spammer_score(perfect) == pytest.approx(0.0)
    assert informativeness(decent) == pytest.approx(0.7)


def test_class_priors_weight_the_pairs_of_rows():
    # Rows 0 and 1 are told apart, row 2 looks like row 0: only the rare class is confused.
    matrix = [[1, 0, 0], [0, 1, 0], [1, 0, 0]]

    confused_class_rare = informativeness(matrix, [0.49, 0.49, 0.02])
    confused_classes_common = informativeness(matrix, [0.49, 0.02, 0.49])

    assert confused_class_rare == pytest.approx(0.2499 / 0.2597, abs=1e-3)
    assert confused_classes_common == pytest.approx(0.0196 / 0.2597, abs=1e-3)


def test_bad_matrices_and_priors_are_refused():
    with pytest.raises(ValueError, match="square"):
        informativeness([[1.0, 0.0]])
    with pytest.raises(ValueError, match="summing to 1"):
        informativeness([[0.5, 0.1], [0.5, 0.5]])
    with pytest.raises(ValueError, match="priors"):
        informativeness(np.eye(2), [0.2, 0.2])


def test_chance_corrected_accuracy():
    assert chance_corrected_accuracy(0.25, 4) == pytest.approx(0.0)
    assert chance_corrected_accuracy(1.0, 4) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        chance_corrected_accuracy(1.2, 4)


def test_the_rule_needs_enough_labels():
    flagged = spammers_flagged([0.9, 0.9, 0.1], [50, 5, 50])

    assert flagged.tolist() == [True, False, False]


K = 4
PEOPLE = 100
TASKS = 4_000


@pytest.fixture(scope="module")
def crowd_fit():
    """The crowd of test_calibration (heavy-tailed activity, 10% weak, 15% spammers, skewed
    classes) at overlap 5, fitted by Dawid-Skene; fixed seeds."""
    population = simulate_population(
        TASKS,
        PEOPLE,
        K,
        shares={"honest": 0.75, "weak": 0.10, "spammer": 0.15},
        seed=5,
        class_priors=[0.5, 0.25, 0.15, 0.1],
    )
    rng = np.random.default_rng(6)
    activity = rng.pareto(1.2, PEOPLE) + 1
    activity /= activity.sum()
    people = np.array([rng.choice(PEOPLE, size=5, replace=False, p=activity) for _ in range(TASKS)])
    tasks = np.repeat(np.arange(TASKS), 5)
    labels = population.label(rng, tasks, people.ravel())
    fitted = dawid_skene(tasks, people.ravel(), labels, TASKS, PEOPLE, K)
    counts = np.bincount(people.ravel(), minlength=PEOPLE)
    return population, fitted, counts


def test_the_default_spam_rule_flags_spammers_with_at_least_95_percent_precision(crowd_fit):
    population, fitted, counts = crowd_fit
    scores = np.array([spammer_score(fitted.confusions[p], fitted.priors) for p in range(PEOPLE)])

    flagged = spammers_flagged(scores, counts)

    spammer = np.array([kind == "spammer" for kind in population.kinds])
    true_positives = int((flagged & spammer).sum())
    precision = true_positives / max(int(flagged.sum()), 1)
    recall = true_positives / int(spammer.sum())
    assert precision >= 0.95
    assert recall >= 0.8
    weak = np.array([kind == "weak" for kind in population.kinds])
    assert not (flagged & weak).any()  # weak but honest people are not spammers
