"""Majority vote by task type: pure functions against hand-computed answers."""

import pytest

from kit.aggregation import (
    iou,
    majority_boxes,
    majority_multi,
    majority_single,
    majority_spans,
)


def test_single_label_majority_and_agreement():
    outcome = majority_single([{"label": "a"}, {"label": "b"}, {"label": "a"}])

    assert outcome.result == {"label": "a"}
    assert outcome.agreement == pytest.approx(2 / 3)
    assert not outcome.is_tie


def test_single_label_tie_is_reported_with_the_tied_labels():
    outcome = majority_single([{"label": "b"}, {"label": "a"}])

    assert outcome.is_tie
    assert outcome.tied == ("a", "b")
    assert outcome.result == {"label": None, "tied": ["a", "b"]}


def test_multi_label_keeps_labels_chosen_by_more_than_half():
    outcome = majority_multi([{"labels": ["x", "y"]}, {"labels": ["x"]}, {"labels": ["x", "z"]}])

    assert outcome.result == {"labels": ["x"]}
    assert outcome.agreement == pytest.approx(1 / 3)


def test_spans_keep_exact_spans_marked_by_a_majority():
    a = {"start": 0, "end": 3, "label": "PER"}
    b = {"start": 8, "end": 11, "label": "LOC"}
    outcome = majority_spans([{"spans": [a, b]}, {"spans": [a]}, {"spans": [a, b]}])

    assert outcome.result == {"spans": [a, b]}
    assert outcome.agreement == pytest.approx(2 / 3)


def test_iou_of_known_boxes():
    assert iou({"x": 0, "y": 0, "w": 2, "h": 2}, {"x": 1, "y": 1, "w": 2, "h": 2}) == pytest.approx(
        1 / 7
    )
    assert iou({"x": 0, "y": 0, "w": 2, "h": 2}, {"x": 5, "y": 5, "w": 1, "h": 1}) == 0


def test_boxes_cluster_by_iou_and_keep_the_median_of_majority_clusters():
    def box(x, label="car"):
        return {"x": x, "y": 0, "w": 10, "h": 10, "label": label}

    outcome = majority_boxes(
        [{"boxes": [box(0), box(50)]}, {"boxes": [box(1)]}, {"boxes": [box(2), box(80, "bus")]}]
    )

    assert outcome.result == {"boxes": [{"x": 1, "y": 0, "w": 10, "h": 10, "label": "car"}]}
