"""Agreement coefficients against published worked examples and hand-computed values; no database."""

import numpy as np
import pytest

from kit.agreement import (
    agreement_with_reference,
    cohen_kappa,
    counts_table,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    pairwise_cohen,
)


def _two_raters(yes_yes, yes_no, no_yes, no_no):
    """Expand a 2x2 table (rater A's answer first) into the two raters' label sequences."""
    cells = [("y", "y", yes_yes), ("y", "n", yes_no), ("n", "y", no_yes), ("n", "n", no_no)]
    a = [x for x, _, count in cells for _ in range(count)]
    b = [y for _, y, count in cells for _ in range(count)]
    return a, b


def test_cohen_kappa_of_the_wikipedia_grant_proposals_example_is_0_4():
    # Wikipedia, "Cohen's kappa", worked example: 50 grant proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15. p_o = 35/50 = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4.
    a, b = _two_raters(20, 5, 10, 15)

    kappa = cohen_kappa(a, b)

    assert kappa == pytest.approx(0.4)


def test_cohen_kappa_differs_for_the_same_percent_agreement_with_other_marginals():
    # Wikipedia, "Cohen's kappa", "Same percentages but different numbers": both tables agree on
    # 60 of 100 items. First: 45, 15, 25, 15 -> p_e = 0.6 * 0.7 + 0.4 * 0.3 = 0.54,
    # kappa = 0.06 / 0.46 = 0.1304. Second: 25, 35, 5, 35 -> p_e = 0.6 * 0.3 + 0.4 * 0.7 = 0.46,
    # kappa = 0.14 / 0.54 = 0.2593.
    first = _two_raters(45, 15, 25, 15)
    second = _two_raters(25, 35, 5, 35)

    kappas = cohen_kappa(*first), cohen_kappa(*second)

    assert kappas == (pytest.approx(0.06 / 0.46), pytest.approx(0.14 / 0.54))
    assert round(kappas[0], 4) == 0.1304
    assert round(kappas[1], 4) == 0.2593


def test_cohen_kappa_of_a_rater_with_itself_is_1():
    labels = ["a", "b", "c", "a", "a", "b"]

    kappa = cohen_kappa(labels, list(labels))

    assert kappa == 1.0


def test_cohen_kappa_is_1_when_both_raters_always_give_the_same_single_category():
    kappa = cohen_kappa(["a", "a", "a"], ["a", "a", "a"])

    assert kappa == 1.0


def test_cohen_kappa_is_negative_when_raters_always_disagree():
    # p_o = 0, p_e = 0.5 * 0.5 + 0.5 * 0.5 = 0.5, kappa = -0.5 / 0.5 = -1.
    kappa = cohen_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"])

    assert kappa == pytest.approx(-1.0)


def test_cohen_kappa_rejects_sequences_of_different_lengths():
    with pytest.raises(ValueError, match="different numbers"):
        cohen_kappa(["a", "b"], ["a"])


def test_cohen_kappa_rejects_empty_sequences():
    with pytest.raises(ValueError, match="at least one item"):
        cohen_kappa([], [])


# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters each, 5 categories.
# P-bar = 0.378, P-bar-e = 0.213, kappa = 0.210.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_of_the_wikipedia_example_is_0_210():
    kappa = fleiss_kappa(FLEISS_WIKIPEDIA)

    assert round(kappa, 3) == 0.210


def test_fleiss_kappa_accepts_a_numpy_array():
    kappa = fleiss_kappa(np.array(FLEISS_WIKIPEDIA))

    assert kappa == pytest.approx(fleiss_kappa(FLEISS_WIKIPEDIA))


def test_fleiss_kappa_is_1_for_unanimous_items_in_different_categories():
    kappa = fleiss_kappa([[3, 0], [0, 3], [3, 0]])

    assert kappa == 1.0


def test_fleiss_kappa_is_1_when_every_rating_is_one_category():
    kappa = fleiss_kappa([[4, 0], [4, 0]])

    assert kappa == 1.0


def test_fleiss_kappa_rejects_items_with_different_numbers_of_raters():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[2, 1], [1, 1]])


def test_fleiss_kappa_rejects_a_single_rater_per_item():
    with pytest.raises(ValueError, match="at least two raters"):
        fleiss_kappa([[1, 0], [0, 1]])


def test_fleiss_kappa_rejects_negative_or_fractional_counts():
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa([[1.5, 0.5], [1, 1]])


def test_counts_table_counts_labels_per_item_in_order_of_first_appearance():
    ratings = [["b", "a", "b"], ["a", None, "c"], []]

    table, categories = counts_table(ratings)

    assert categories == ["b", "a", "c"]
    assert table.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 0]]


def test_fleiss_kappa_of_a_counts_table_matches_the_hand_computed_value():
    # P_i = 1, 1/3, 1/3 -> P-bar = 5/9; shares a = 5/9, b = 4/9 -> P-bar-e = 41/81;
    # kappa = (45/81 - 41/81) / (40/81) = 0.1.
    table, _ = counts_table([["a", "a", "a"], ["a", "b", "b"], ["b", "a", "b"]])

    kappa = fleiss_kappa(table)

    assert kappa == pytest.approx(0.1)


def _units_from_observers(*observers):
    """Turn rows of one observer's values per unit ("." = missing) into per-unit value lists."""
    rows = [[None if v == "." else int(v) for v in row.split()] for row in observers]
    return [list(unit) for unit in zip(*rows, strict=True)]


def test_krippendorff_alpha_of_the_published_nominal_example_is_0_743():
    # Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section C, "Nominal data,
    # any number of observers, missing data": 4 observers, 12 units, alpha = 0.743.
    units = _units_from_observers(
        "1 2 3 3 2 1 4 1 2 . . .",
        "1 2 3 3 2 2 4 1 2 5 . 3",
        ". 3 3 3 2 3 4 2 2 5 1 .",
        "1 2 3 3 2 4 4 1 2 5 1 .",
    )

    alpha = krippendorff_alpha_nominal(units)

    assert round(alpha, 3) == 0.743


def test_krippendorff_alpha_is_1_for_perfect_agreement():
    units = [["a", "a", "a"], ["b", "b", None], ["c", "c", "c"]]

    alpha = krippendorff_alpha_nominal(units)

    assert alpha == 1.0


def test_krippendorff_alpha_ignores_units_with_a_single_value():
    units = [["a", "a"], ["b", "b"], ["a", "b"]]

    alpha = krippendorff_alpha_nominal([*units, ["c", None], [None, "a"], ["b"]])

    assert alpha == pytest.approx(krippendorff_alpha_nominal(units))


def test_krippendorff_alpha_of_two_coders_matches_the_hand_computed_value():
    # Pairable values: a 3, b 3 (n = 6); sum of o_cc = 2 + 2 = 4 (two agreeing units, 2 each);
    # sum n_c (n_c - 1) = 6 + 6 = 12; alpha = (5 * 4 - 12) / (6 * 5 - 12) = 8 / 18.
    units = [["a", "a"], ["b", "b"], ["a", "b"]]

    alpha = krippendorff_alpha_nominal(units)

    assert alpha == pytest.approx(8 / 18)


def test_krippendorff_alpha_is_1_when_only_one_category_is_pairable():
    alpha = krippendorff_alpha_nominal([["a", "a"], ["a", None, "a"], ["b", None]])

    assert alpha == 1.0


def test_krippendorff_alpha_rejects_data_without_a_pairable_unit():
    with pytest.raises(ValueError, match="two values"):
        krippendorff_alpha_nominal([["a", None], ["b"]])


def test_pairwise_cohen_reports_pairs_with_enough_common_items():
    ann = {1: "a", 2: "b", 3: "a", 4: "b"}
    bob = {1: "a", 2: "b", 3: "b", 4: "b", 5: "a"}
    eve = {5: "a", 6: "b"}

    pairs = pairwise_cohen({"ann": ann, "bob": bob, "eve": eve}, min_items=3)

    # ann and bob share items 1-4: p_o = 3/4, p_e = (2 * 1 + 2 * 3) / 16 = 1/2, kappa = 0.5.
    assert pairs == {("ann", "bob"): (pytest.approx(0.5), 4)}


def test_pairwise_cohen_leaves_out_items_labeled_none():
    ann = {1: "a", 2: "b", 3: None}
    bob = {1: "a", 2: "b", 3: "a"}

    pairs = pairwise_cohen({"ann": ann, "bob": bob}, min_items=2)

    assert pairs == {("ann", "bob"): (1.0, 2)}


def test_agreement_with_reference_gives_share_equal_kappa_and_count_over_common_items():
    labels = {1: "a", 2: "b", 3: "b", 4: "b", 9: "a"}
    reference = {1: "a", 2: "b", 3: "a", 4: "b", 5: "b", 6: None}

    share, kappa, n = agreement_with_reference(labels, reference)

    assert (share, kappa, n) == (0.75, pytest.approx(0.5), 4)


def test_agreement_with_reference_without_common_items_is_zero_with_count_zero():
    result = agreement_with_reference({1: "a"}, {2: "a"})

    assert result == (0.0, 0.0, 0)


def _alpha_from_the_coincidence_matrix(units):
    """Krippendorff's nominal alpha straight from its definition, for comparison."""
    categories = sorted({v for unit in units for v in unit if v is not None})
    o = np.zeros((len(categories), len(categories)))
    for unit in units:
        values = [categories.index(v) for v in unit if v is not None]
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    o[c, k] += 1 / (len(values) - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    disagreement = o.sum() - np.trace(o)
    by_chance = n * n - (n_c * n_c).sum()
    return 1 - (n - 1) * disagreement / by_chance


def test_krippendorff_alpha_equals_the_coincidence_matrix_definition_on_random_data():
    rng = np.random.default_rng(7)
    units = [
        [None if v == 3 else int(v) for v in rng.integers(0, 4, size=rng.integers(1, 6))]
        for _ in range(300)
    ]

    alpha = krippendorff_alpha_nominal(units)

    assert alpha == pytest.approx(_alpha_from_the_coincidence_matrix(units))
