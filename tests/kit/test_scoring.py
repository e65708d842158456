"""Gold scorers by task type: pure functions against hand-computed scores; no database."""

import pytest

from kit.scoring import Score, score, score_boxes, score_multi, score_single, score_spans


def span(start, end, label="PER"):
    return {"start": start, "end": end, "label": label}


def box(x, y, w, h, label="car"):
    return {"x": x, "y": y, "w": w, "h": h, "label": label}


def test_single_label_scores_1_for_the_expected_label():
    result = score_single({"label": "positive"}, {"label": "positive"})

    assert result == Score(1.0, {"matched": 1.0})


def test_single_label_scores_0_for_another_label():
    result = score_single({"label": "negative"}, {"label": "positive"})

    assert result.value == 0.0


def test_multi_label_scores_the_f1_of_the_label_sets():
    # Chosen {a, b}, expected {b, c, d}: 1 in common, precision 1/2, recall 1/3, F1 = 2 * 1 / 5.
    result = score_multi({"labels": ["a", "b"]}, {"labels": ["b", "c", "d"]})

    assert result.value == pytest.approx(0.4)
    assert result.detail == {
        "precision": pytest.approx(1 / 2),
        "recall": pytest.approx(1 / 3),
        "f1": pytest.approx(0.4),
        "matched": 1.0,
    }


def test_multi_label_empty_against_empty_is_a_perfect_score():
    result = score_multi({"labels": []}, {"labels": []})

    assert result.value == 1.0


def test_multi_label_nothing_chosen_against_expected_labels_scores_0():
    result = score_multi({"labels": []}, {"labels": ["a"]})

    assert result.value == 0.0
    assert result.detail["precision"] == 0.0
    assert result.detail["recall"] == 0.0


def test_spans_score_the_exact_f1_of_start_end_and_label():
    # One of two given spans is exactly expected, one of two expected: F1 = 2 * 1 / 4.
    answer = {"spans": [span(0, 5), span(10, 15, "LOC")]}
    expected = {"spans": [span(0, 5), span(20, 25, "ORG")]}

    result = score_spans(answer, expected)

    assert result.value == pytest.approx(0.5)
    assert result.detail["exact_f1"] == pytest.approx(0.5)
    assert result.detail["overlap_f1"] == pytest.approx(0.5)
    assert result.detail["precision"] == pytest.approx(0.5)
    assert result.detail["recall"] == pytest.approx(0.5)


def test_spans_partly_overlapping_with_the_same_label_score_0_exact_and_1_overlap():
    result = score_spans({"spans": [span(0, 4)]}, {"spans": [span(1, 5)]})

    assert result.value == 0.0
    assert result.detail["exact_f1"] == 0.0
    assert result.detail["overlap_f1"] == 1.0


def test_spans_with_the_same_range_and_another_label_do_not_match_at_all():
    result = score_spans({"spans": [span(0, 5, "PER")]}, {"spans": [span(0, 5, "LOC")]})

    assert result.detail["exact_f1"] == 0.0
    assert result.detail["overlap_f1"] == 0.0


def test_spans_that_only_touch_do_not_overlap():
    result = score_spans({"spans": [span(0, 5)]}, {"spans": [span(5, 10)]})

    assert result.detail["overlap_f1"] == 0.0


def test_a_given_span_overlaps_at_most_one_expected_span():
    # One given span covers two expected ones: 1 overlap match, precision 1, recall 1/2, F1 = 2/3.
    result = score_spans({"spans": [span(0, 10)]}, {"spans": [span(0, 4), span(6, 10)]})

    assert result.detail["overlap_f1"] == pytest.approx(2 / 3)
    assert result.detail["overlap_matched"] == 1.0


def test_spans_empty_against_empty_is_a_perfect_score():
    result = score_spans({"spans": []}, {"spans": []})

    assert result.value == 1.0
    assert result.detail["overlap_f1"] == 1.0


def test_spans_nothing_marked_against_expected_spans_scores_0():
    result = score_spans({"spans": []}, {"spans": [span(0, 5)]})

    assert result.value == 0.0
    assert result.detail["overlap_f1"] == 0.0
    assert result.detail["recall"] == 0.0


def test_boxes_above_the_iou_threshold_match_and_report_their_mean_iou():
    # Intersection 100, union 100 + 120 - 100 = 120: IoU = 5/6.
    result = score_boxes({"boxes": [box(0, 0, 10, 10)]}, {"boxes": [box(0, 0, 10, 12)]})

    assert result.value == 1.0
    assert result.detail["mean_iou"] == pytest.approx(5 / 6)


def test_boxes_below_the_iou_threshold_do_not_match():
    # Intersection 50, union 150: IoU = 1/3 < 0.5.
    result = score_boxes({"boxes": [box(0, 0, 10, 10)]}, {"boxes": [box(5, 0, 10, 10)]})

    assert result.value == 0.0
    assert result.detail["mean_iou"] == 0.0


def test_boxes_match_at_a_lower_iou_threshold_when_asked():
    result = score_boxes(
        {"boxes": [box(0, 0, 10, 10)]}, {"boxes": [box(5, 0, 10, 10)]}, iou_threshold=0.3
    )

    assert result.value == 1.0
    assert result.detail["mean_iou"] == pytest.approx(1 / 3)


def test_boxes_with_another_label_do_not_match():
    result = score_boxes({"boxes": [box(0, 0, 10, 10, "bus")]}, {"boxes": [box(0, 0, 10, 10)]})

    assert result.value == 0.0


def test_each_expected_box_matches_one_given_box_the_one_with_the_highest_iou():
    # Both given boxes clear the threshold (IoU 1 and 0.8); only the better one matches:
    # precision 1/2, recall 1, F1 = 2 * 1 / 3.
    answer = {"boxes": [box(0, 0, 10, 8), box(0, 0, 10, 10)]}

    result = score_boxes(answer, {"boxes": [box(0, 0, 10, 10)]})

    assert result.value == pytest.approx(2 / 3)
    assert result.detail["precision"] == pytest.approx(0.5)
    assert result.detail["mean_iou"] == pytest.approx(1.0)


def test_boxes_empty_against_empty_is_a_perfect_score():
    result = score_boxes({"boxes": []}, {"boxes": []})

    assert result.value == 1.0
    assert result.detail["mean_iou"] == 1.0


def test_boxes_drawn_where_none_are_expected_score_0():
    result = score_boxes({"boxes": [box(0, 0, 10, 10)]}, {"boxes": []})

    assert result.value == 0.0
    assert result.detail["precision"] == 0.0


def test_score_dispatches_by_task_type():
    result = score("multi_label", {"labels": ["a"]}, {"labels": ["a", "b"]})

    assert result.value == pytest.approx(2 / 3)


def test_score_passes_the_iou_threshold_to_the_box_scorer():
    answer, expected = {"boxes": [box(0, 0, 10, 10)]}, {"boxes": [box(5, 0, 10, 10)]}

    strict = score("bbox", answer, expected)
    lenient = score("bbox", answer, expected, iou_threshold=0.3)

    assert (strict.value, lenient.value) == (0.0, 1.0)


def test_score_rejects_an_unknown_task_type():
    with pytest.raises(ValueError, match="Unknown task type 'polygon'"):
        score("polygon", {}, {})
