"""Consensus beyond majority vote: pure functions against hand-computed answers and simulations."""

import numpy as np
import pytest

from kit.consensus import (
    Decision,
    Population,
    Posterior,
    box_clusters,
    dawid_skene,
    dawid_skene_estimates,
    dawid_skene_labels,
    overlap_decision,
    simulate_population,
    symmetric_confusion,
    task_posterior,
    token_vote,
    weighted_vote,
)

CLASSES = ("a", "b", "c")


def labeled(population: Population, per_task: int, seed: int):
    """Let `per_task` distinct random workers label every task of the population."""
    rng = np.random.default_rng(seed)
    workers = population.assign(rng, per_task).ravel()
    tasks = np.repeat(np.arange(population.n_tasks), per_task)
    return tasks, workers, population.label(rng, tasks, workers)


def majority_accuracy(population: Population, tasks, labels, seed: int) -> float:
    """Accuracy of the majority vote, ties broken at random."""
    k = population.confusions.shape[1]
    votes = np.bincount(tasks * k + labels, minlength=population.n_tasks * k).reshape(-1, k)
    noise = np.random.default_rng(seed).random(votes.shape) / 2
    return float(((votes + noise).argmax(axis=1) == population.truth).mean())


def diagonals(confusions):
    return np.diagonal(confusions, axis1=1, axis2=2)


# --- Weighted vote -----------------------------------------------------------------------------


def test_weighted_vote_lets_a_trusted_person_outvote_two_weak_ones():
    weights = {"ann": 0.95, "bob": 0.4, "cy": 0.4}

    posterior = weighted_vote([("ann", "a"), ("bob", "b"), ("cy", "b")], weights, CLASSES)

    # Odds per vote: acc (K-1) / (1-acc) = 38 for ann, 4/3 for bob and cy.
    assert posterior.label == "a"
    assert posterior.confidence == pytest.approx(38 / (38 + 16 / 9 + 1))
    assert sum(posterior.probabilities.values()) == pytest.approx(1)
    assert not posterior.is_tie


def test_weighted_vote_gives_unknown_people_the_default_accuracy():
    posterior = weighted_vote([("dan", "b")], {}, CLASSES, default_accuracy=0.9)

    # One vote of accuracy 0.9 under a uniform prior: the posterior of its class is 0.9.
    assert posterior.label == "b"
    assert posterior.confidence == pytest.approx(0.9)


def test_weighted_vote_reports_a_tie_at_the_top_without_a_label():
    weights = {"ann": 0.8, "bob": 0.8}

    posterior = weighted_vote([("ann", "a"), ("bob", "c")], weights, CLASSES)

    assert posterior.is_tie
    assert posterior.label is None
    assert posterior.probabilities["a"] == pytest.approx(posterior.probabilities["c"])


def test_weighted_vote_rejects_a_label_outside_the_classes():
    with pytest.raises(ValueError, match="'z' is not one of the classes"):
        weighted_vote([("ann", "z")], {}, CLASSES)


# --- Dawid-Skene -------------------------------------------------------------------------------


def test_dawid_skene_recovers_the_simulated_confusion_matrices():
    population = simulate_population(3000, 30, 3, seed=1)
    tasks, workers, labels = labeled(population, 5, seed=1)

    result = dawid_skene(tasks, workers, labels, 3000, 30, 3)

    error = np.abs(diagonals(result.confusions) - diagonals(population.confusions)).mean()
    assert error < 0.05
    assert np.allclose(result.confusions.sum(axis=2), 1)
    assert np.allclose(result.posteriors.sum(axis=1), 1)


def test_dawid_skene_beats_majority_vote_when_many_are_spammers():
    shares = {"honest": 0.4, "weak": 0.2, "spammer": 0.4}
    population = simulate_population(3000, 30, 3, shares=shares, seed=2)
    tasks, workers, labels = labeled(population, 5, seed=2)

    result = dawid_skene(tasks, workers, labels, 3000, 30, 3)

    accuracy = (result.posteriors.argmax(axis=1) == population.truth).mean()
    assert accuracy > majority_accuracy(population, tasks, labels, seed=2) + 0.05


def test_dawid_skene_converges_before_the_iteration_limit():
    population = simulate_population(1000, 20, 3, seed=3)
    tasks, workers, labels = labeled(population, 3, seed=3)

    result = dawid_skene(tasks, workers, labels, 1000, 20, 3, max_iter=200)

    assert result.converged
    assert result.iterations < 200


def test_dawid_skene_keeps_gold_tasks_at_their_class():
    population = simulate_population(500, 10, 3, shares={"spammer": 1.0}, seed=4)
    tasks, workers, labels = labeled(population, 3, seed=4)
    gold = {t: int(population.truth[t]) for t in range(50)}

    result = dawid_skene(tasks, workers, labels, 500, 10, 3, gold=gold)

    assert (result.posteriors[:50] == np.eye(3)[population.truth[:50]]).all()


def swapping_majority(n_tasks: int, seed: int) -> Population:
    """8 honest workers and 12 who systematically swap classes a and b."""
    honest = symmetric_confusion(0.9, 3)
    swapper = honest[:, [1, 0, 2]]
    truth = np.random.default_rng(seed).integers(0, 3, n_tasks)
    return Population(
        truth=truth, confusions=np.array([honest] * 8 + [swapper] * 12), kinds=("x",) * 20
    )


def test_gold_tasks_rescue_dawid_skene_from_a_majority_that_swaps_two_classes():
    population = swapping_majority(3000, seed=5)
    tasks, workers, labels = labeled(population, 5, seed=5)
    gold = {t: int(population.truth[t]) for t in range(600)}

    unanchored = dawid_skene(tasks, workers, labels, 3000, 20, 3)
    anchored = dawid_skene(tasks, workers, labels, 3000, 20, 3, gold=gold)

    def accuracy(result):
        return (result.posteriors[600:].argmax(axis=1) == population.truth[600:]).mean()

    assert accuracy(unanchored) < 0.5
    assert accuracy(anchored) > 0.95
    assert np.abs(anchored.confusions - population.confusions).mean() < 0.05


def test_dawid_skene_labels_maps_keys_and_names():
    rows = [
        ("t1", "ann", "cat"),
        ("t1", "bob", "cat"),
        ("t1", "cy", "dog"),
        ("t2", "ann", "dog"),
        ("t2", "bob", "dog"),
        ("t2", "cy", "dog"),
    ]

    posteriors, confusions = dawid_skene_labels(rows, ["cat", "dog"])

    assert {task: p.label for task, p in posteriors.items()} == {"t1": "cat", "t2": "dog"}
    assert set(confusions) == {"ann", "bob", "cy"}
    assert sum(confusions["cy"]["cat"].values()) == pytest.approx(1)
    # One "dog" for a cat is one label: cy's cat row moves towards dog, but not past the crowd's
    # prior that people are mostly right.
    assert confusions["cy"]["cat"]["dog"] > confusions["ann"]["cat"]["dog"]
    assert confusions["cy"]["cat"]["cat"] > 0.5


# --- Small data: the priors of the estimates ----------------------------------------------------

# Seven tasks: ann, bob and cy label most of them (b is the commonest class), dan two, eve one.
SEVEN_TASKS = [
    ("t1", "ann", "b"), ("t1", "bob", "b"), ("t1", "cy", "b"),
    ("t2", "ann", "b"), ("t2", "bob", "b"), ("t2", "cy", "a"),
    ("t3", "ann", "a"), ("t3", "bob", "a"), ("t3", "cy", "a"),
    ("t4", "ann", "c"), ("t4", "bob", "b"), ("t4", "cy", "c"),
    ("t5", "dan", "a"), ("t5", "bob", "b"), ("t5", "cy", "b"),
    ("t6", "dan", "a"), ("t6", "ann", "a"),
    ("t7", "eve", "c"),
]  # fmt: skip


def test_a_task_whose_only_label_is_c_comes_out_c():
    estimates = dawid_skene_estimates(SEVEN_TASKS, CLASSES)

    # eve is unknown, so she counts as an average member of this crowd (right about 70% of the
    # time); c is the rarest class here, so c is likely but far from sure: about two in three.
    # Without priors eve's only label was explained away as a mistake for b (b at 0.51).
    t7 = estimates.posteriors["t7"]
    assert t7.label == "c"
    assert 0.55 < t7.confidence < 0.8


def test_votes_a_b_b_come_out_b():
    estimates = dawid_skene_estimates(SEVEN_TASKS, CLASSES)

    # dan has two labels, bob and cy five each, none of them shown to be much better than the
    # others: two votes for b beat one for a, and b is the commoner class. Sure, not certain.
    t5 = estimates.posteriors["t5"]
    assert t5.label == "b"
    assert 0.85 < t5.confidence < 0.99


def test_one_worker_labelling_three_tasks_is_trusted_as_an_average_person():
    rows = [("t1", "ann", "a"), ("t2", "ann", "b"), ("t3", "ann", "c")]

    estimates = dawid_skene_estimates(rows, CLASSES)

    # Nobody checks ann, so each label is believed as much as the prior belief in an average
    # labeller (right 70% of the time, wrong uniformly), nudged up a little by her three labels:
    # 0.72 each, not 0.96. The classes are equally common, so each task gets ann's label.
    assert {t: p.label for t, p in estimates.posteriors.items()} == {
        "t1": "a",
        "t2": "b",
        "t3": "c",
    }
    for posterior in estimates.posteriors.values():
        assert posterior.confidence == pytest.approx(0.718, abs=0.01)
    assert estimates.priors == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})


def test_one_worker_giving_one_label_is_believed_about_three_times_in_four():
    estimates = dawid_skene_estimates([("t1", "ann", "a")], CLASSES)

    # One label, no one to compare with: the prior (70% right) and a slight lean of the class
    # priors towards a (a pseudo-count of 1 per class against one soft count for a).
    assert estimates.posteriors["t1"].label == "a"
    assert 0.7 < estimates.posteriors["t1"].confidence < 0.8


def test_a_person_with_little_history_gets_close_to_the_crowds_matrix():
    population = simulate_population(600, 12, 3, seed=3)
    tasks, workers, labels = labeled(population, 4, seed=4)
    newcomer = 12
    tasks = np.append(tasks, [0, 1])
    workers = np.append(workers, [newcomer, newcomer])
    labels = np.append(labels, population.truth[[0, 1]])

    result = dawid_skene(tasks, workers, labels, 600, 13, 3)

    # Two right answers do not make a perfect labeller: the newcomer stays near the crowd.
    assert np.abs(result.confusions[newcomer] - result.crowd).max() < 0.15
    assert diagonals(result.confusions)[newcomer].max() < 0.9
    assert result.crowd.sum(axis=1) == pytest.approx(np.ones(3))


def test_people_with_long_histories_are_estimated_from_their_own_labels():
    population = simulate_population(3000, 30, 3, seed=1)
    tasks, workers, labels = labeled(population, 5, seed=2)

    result = dawid_skene(tasks, workers, labels, 3000, 30, 3)

    # ~500 labels each: the prior's 4 pseudo-labels per row hardly move anybody, spammers included.
    assert np.abs(result.confusions - population.confusions).mean() < 0.03


def test_dawid_skene_refuses_negative_prior_strengths():
    with pytest.raises(ValueError, match="prior strengths"):
        dawid_skene([0], [0], [0], 1, 1, 3, worker_strength=-1)


def test_task_posterior_gives_unknown_people_the_crowds_matrix_when_given():
    crowd = np.array([[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    priors = np.array([0.5, 0.3, 0.2])

    posterior = task_posterior([("dan", "b")], {}, priors, CLASSES, default_confusion=crowd)

    # P(b | said b) = 0.3 * 0.6 / (0.5 * 0.1 + 0.3 * 0.6 + 0.2 * 0.1) = 0.18 / 0.25
    assert posterior.label == "b"
    assert posterior.confidence == pytest.approx(0.72)


def test_weighted_vote_uses_the_class_priors():
    posterior = weighted_vote(
        [("dan", "b")], {}, CLASSES, default_accuracy=0.6, priors=[0.6, 0.2, 0.2]
    )

    # Odds for b: 0.2 * 0.6 against 0.6 * 0.2 for a (and 0.2 * 0.2 for c): a tie between a and b.
    assert posterior.is_tie
    assert posterior.probabilities["c"] == pytest.approx(0.04 / 0.28)


# --- Dynamic overlap ---------------------------------------------------------------------------


def test_task_posterior_gives_people_without_an_estimate_the_default_accuracy():
    priors = np.full(3, 1 / 3)
    known = {"ann": symmetric_confusion(0.8, 3)}

    unknown = task_posterior([("dan", "a")], {"dan": None}, priors, CLASSES, default_accuracy=0.8)

    assert unknown == task_posterior([("ann", "a")], known, priors, CLASSES)
    assert unknown.confidence == pytest.approx(0.8)


def test_task_posterior_learns_nothing_from_someone_who_always_gives_one_label():
    always_a = np.array([[1.0, 0.0, 0.0]] * 3)
    priors = np.array([0.5, 0.3, 0.2])

    posterior = task_posterior([("spam", "a")], {"spam": always_a}, priors, CLASSES)

    assert list(posterior.probabilities.values()) == pytest.approx(priors)


def test_two_confident_agreeing_labels_are_final_at_min_overlap():
    honest = {p: symmetric_confusion(0.95, 3) for p in ("ann", "bob")}
    posterior = task_posterior([("ann", "b"), ("bob", "b")], honest, np.full(3, 1 / 3), CLASSES)

    decision = overlap_decision(posterior, n_labels=2, min_overlap=2, max_overlap=5, threshold=0.95)

    assert posterior.confidence > 0.99
    assert decision == Decision.FINAL


def test_a_confident_task_below_min_overlap_asks_for_more():
    posterior = Posterior(label="a", confidence=0.99, probabilities={}, is_tie=False)

    decision = overlap_decision(posterior, n_labels=1, min_overlap=2, max_overlap=5, threshold=0.95)

    assert decision == Decision.MORE


def test_an_unsure_task_asks_for_more_below_max_overlap():
    honest = {p: symmetric_confusion(0.9, 3) for p in ("ann", "bob", "cy")}
    labels = [("ann", "a"), ("bob", "b"), ("cy", "a")]
    posterior = task_posterior(labels, honest, np.full(3, 1 / 3), CLASSES)

    decision = overlap_decision(posterior, n_labels=3, min_overlap=2, max_overlap=5, threshold=0.95)

    assert posterior.label == "a"
    assert posterior.confidence < 0.95
    assert decision == Decision.MORE


def test_an_unsure_task_at_max_overlap_goes_to_review():
    posterior = Posterior(label="a", confidence=0.8, probabilities={}, is_tie=False)

    decision = overlap_decision(posterior, n_labels=5, min_overlap=2, max_overlap=5, threshold=0.95)

    assert decision == Decision.REVIEW


def test_a_tie_is_never_final_even_above_the_threshold():
    tie = Posterior(label=None, confidence=0.5, probabilities={"a": 0.5, "b": 0.5}, is_tie=True)

    below_max = overlap_decision(tie, n_labels=3, min_overlap=2, max_overlap=5, threshold=0.5)
    at_max = overlap_decision(tie, n_labels=5, min_overlap=2, max_overlap=5, threshold=0.5)

    assert below_max == Decision.MORE
    assert at_max == Decision.REVIEW


# --- Spans -------------------------------------------------------------------------------------

TEXT = "Ada Lovelace met Charles Babbage in London."


def span(start, end, label):
    return {"start": start, "end": end, "label": label}


def test_token_vote_keeps_the_weighted_majority_of_each_token_and_merges_runs():
    results = [
        {"spans": [span(0, 12, "PER"), span(17, 32, "PER"), span(36, 42, "LOC")]},
        {"spans": [span(0, 12, "PER"), span(36, 42, "LOC")]},
        {"spans": [span(0, 3, "PER"), span(17, 32, "PER")]},
    ]

    result, confidence = token_vote(TEXT, results)

    assert result == {"spans": [span(0, 12, "PER"), span(17, 32, "PER"), span(36, 42, "LOC")]}
    # Ada 3/3; Lovelace, Charles, Babbage and London 2/3 each.
    assert confidence == pytest.approx((1 + 4 * 2 / 3) / 5)


def test_token_vote_lets_weight_outvote_the_head_count():
    results = [{"spans": [span(36, 42, "LOC")]}, {"spans": []}, {"spans": []}]

    result, confidence = token_vote(TEXT, results, weights=[3.0, 1.0, 1.0])

    assert result == {"spans": [span(36, 42, "LOC")]}
    assert confidence == pytest.approx(3 / 5)


def test_token_vote_labels_a_token_a_span_only_partly_covers():
    result, _ = token_vote(TEXT, [{"spans": [span(5, 8, "PER")]}])

    assert result == {"spans": [span(4, 12, "PER")]}


def test_token_vote_with_no_spans_anywhere_is_empty_and_certain():
    result, confidence = token_vote(TEXT, [{"spans": []}, {"spans": []}])

    assert result == {"spans": []}
    assert confidence == 1.0


# --- Boxes -------------------------------------------------------------------------------------


def box(x, label="car", y=0):
    return {"x": x, "y": y, "w": 10, "h": 10, "label": label}


def test_box_clusters_keep_majority_clusters_at_their_mean_box():
    results = [
        {"boxes": [box(0), box(50)]},
        {"boxes": [box(2)]},
        {"boxes": [box(80, "bus")]},
    ]

    result, confidence = box_clusters(results)

    assert result == {"boxes": [box(1)]}
    assert confidence == pytest.approx(2 / 3)


def test_box_clusters_take_at_most_one_box_per_annotator_per_cluster():
    results = [{"boxes": [box(0), box(1)]}, {"boxes": [box(0)]}]

    result, confidence = box_clusters(results)

    assert result == {"boxes": [box(0)]}
    assert confidence == 1.0


def test_box_clusters_keep_a_box_drawn_by_enough_weight():
    results = [{"boxes": [box(20, y=5)]}, {"boxes": []}, {"boxes": []}]

    result, confidence = box_clusters(results, weights=[3.0, 1.0, 1.0])

    assert result == {"boxes": [box(20, y=5)]}
    assert confidence == pytest.approx(3 / 5)


def test_box_clusters_dropping_a_lone_box_report_the_share_that_drew_none():
    results = [{"boxes": [box(20)]}, {"boxes": []}, {"boxes": []}]

    result, confidence = box_clusters(results)

    assert result == {"boxes": []}
    assert confidence == pytest.approx(2 / 3)


def test_box_clusters_with_no_boxes_anywhere_are_certain():
    result, confidence = box_clusters([{"boxes": []}, {"boxes": []}])

    assert result == {"boxes": []}
    assert confidence == 1.0


# --- Simulation --------------------------------------------------------------------------------


def test_simulated_populations_repeat_with_the_seed_and_have_the_asked_kinds():
    shares = {"honest": 0.5, "weak": 0.3, "spammer": 0.2}

    first = simulate_population(100, 10, 3, shares=shares, seed=9)
    second = simulate_population(100, 10, 3, shares=shares, seed=9)

    assert (first.truth == second.truth).all()
    assert (first.confusions == second.confusions).all()
    assert sorted(first.kinds) == ["honest"] * 5 + ["spammer"] * 2 + ["weak"] * 3
