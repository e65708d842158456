"""Label schemas, task data and results: pure validation."""

import pytest

from kit.label_schema import (
    LabelSchema,
    SchemaError,
    normalise_labels,
    validate_result,
    validate_task_data,
)
from labeling.markdown import render_markdown


def schema(task_type, labels=("PER", "LOC", "ORG"), **kw):
    return LabelSchema(task_type=task_type, labels=tuple(labels), **kw)


def test_labels_get_default_colours_and_number_hotkeys():
    labels = normalise_labels(
        ["a", {"name": "b", "color": "#000000", "hotkey": "x"}], task_type="multi_label"
    )

    assert labels == [
        {"name": "a", "color": "#1f77b4", "hotkey": "1"},
        {"name": "b", "color": "#000000", "hotkey": "x"},
    ]


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ([], "labels"),
        (["a", "a"], "labels[1].name"),
        (["a", {"name": "b", "color": "red"}], "labels[1].color"),
        (["a", {"name": "b", "hotkey": "ab"}], "labels[1].hotkey"),
        (["only-one"], "labels"),
    ],
)
def test_bad_label_lists_name_the_entry(labels, field):
    with pytest.raises(SchemaError) as error:
        normalise_labels(labels, task_type="single_label")

    assert field in error.value.errors


@pytest.mark.parametrize(
    ("task_type", "data", "field"),
    [
        ("single_label", {"text": ""}, "data.text"),
        ("ner", {"image": "https://x.test/a.jpg"}, "data.text"),
        ("bbox", {"image": "not a url", "width": 10, "height": 10}, "data.image"),
        ("bbox", {"image": "https://x.test/a.jpg", "width": 0, "height": 10}, "data.width"),
        ("bbox", {"image": "https://x.test/a.jpg", "width": 10}, "data.height"),
        ("single_label", "just a string", "data"),
    ],
)
def test_bad_task_data_names_the_field(task_type, data, field):
    with pytest.raises(SchemaError) as error:
        validate_task_data(data, task_type=task_type)

    assert field in error.value.errors


def test_classification_accepts_an_image_task():
    data = validate_task_data(
        {"image": "https://x.test/a.jpg", "width": 4, "height": 3}, task_type="single_label"
    )

    assert data == {"image": "https://x.test/a.jpg", "width": 4, "height": 3}


@pytest.mark.parametrize("path", ["/static/demo/images/street-1.svg", "/media/tasks/a b.jpg"])
def test_an_image_may_be_a_path_on_this_site_so_it_works_on_any_host_and_port(path):
    data = validate_task_data({"image": path, "width": 4, "height": 3}, task_type="bbox")

    assert data["image"] == path


@pytest.mark.parametrize(
    "url", ["//other.test/a.jpg", "images/a.jpg", "/\\other.test/a.jpg", "javascript:alert(1)"]
)
def test_an_image_path_without_a_leading_slash_or_with_another_host_is_refused(url):
    with pytest.raises(SchemaError) as error:
        validate_task_data({"image": url, "width": 4, "height": 3}, task_type="bbox")

    assert "data.image" in error.value.errors


def test_multi_label_limits_and_order():
    s = schema("multi_label", labels=("a", "b", "c"), max_labels=2)

    assert validate_result({"labels": ["c", "a"]}, schema=s, data={}) == {"labels": ["a", "c"]}
    with pytest.raises(SchemaError):
        validate_result({"labels": ["a", "b", "c"]}, schema=s, data={})
    with pytest.raises(SchemaError):
        validate_result({"labels": []}, schema=s, data={})


def test_spans_must_lie_inside_the_text_and_not_overlap_unless_allowed():
    text = "Ana met Bob"
    strict, loose = schema("ner"), schema("ner", allow_overlapping_spans=True)
    overlapping = {
        "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 2, "end": 7, "label": "ORG"}]
    }

    with pytest.raises(SchemaError) as outside:
        validate_result(
            {"spans": [{"start": 8, "end": 12, "label": "PER"}]}, schema=strict, data={"text": text}
        )
    with pytest.raises(SchemaError):
        validate_result(overlapping, schema=strict, data={"text": text})
    assert len(validate_result(overlapping, schema=loose, data={"text": text})["spans"]) == 2
    assert "result.spans[0]" in outside.value.errors


def test_span_offsets_are_code_points_so_emoji_count_as_one():
    text = "🎉 José"

    spans = validate_result(
        {"spans": [{"start": 2, "end": 6, "label": "PER"}]},
        schema=schema("ner"),
        data={"text": text},
    )

    assert text[spans["spans"][0]["start"] : spans["spans"][0]["end"]] == "José"


FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 👩‍👩‍👧: five code points, one character


@pytest.mark.parametrize(("start", "end"), [(5, 8), (4, 6), (4, 5), (5, 9)])
def test_a_span_cannot_start_or_end_inside_a_character_of_several_code_points(start, end):
    text = f"Ana {FAMILY} e\u0301 Bob"

    with pytest.raises(SchemaError) as error:
        validate_result(
            {"spans": [{"start": start, "end": end, "label": "PER"}]},
            schema=schema("ner"),
            data={"text": text},
        )

    assert "cuts a character in two" in error.value.errors["result.spans[0]"]


def test_a_span_may_cover_whole_emoji_sequences_and_accented_letters():
    text = f"Ana {FAMILY} e\u0301 Bob"

    spans = validate_result(
        {
            "spans": [
                {"start": 4, "end": 9, "label": "PER"},
                {"start": 10, "end": 12, "label": "LOC"},
            ]
        },
        schema=schema("ner"),
        data={"text": text},
    )["spans"]

    assert [text[s["start"] : s["end"]] for s in spans] == [FAMILY, "e\u0301"]


def test_boxes_must_be_inside_the_image_with_positive_size():
    s, data = schema("bbox", labels=("car",)), {"width": 100, "height": 50}

    ok = validate_result(
        {"boxes": [{"x": 0, "y": 0, "w": 100, "h": 50, "label": "car"}]}, schema=s, data=data
    )
    for bad in (
        {"x": 0, "y": 0, "w": 0, "h": 5},
        {"x": 90, "y": 0, "w": 20, "h": 5},
        {"x": -1, "y": 0, "w": 5, "h": 5},
    ):
        with pytest.raises(SchemaError):
            validate_result({"boxes": [{**bad, "label": "car"}]}, schema=s, data=data)

    assert ok["boxes"][0]["w"] == 100


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown(
        "**Bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=a onerror=alert(1)>"
    )

    assert "<strong>Bold</strong>" in html
    assert "<script>" not in html
    assert "javascript:" not in html
    assert "onerror" not in html
