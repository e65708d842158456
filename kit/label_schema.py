"""Label schemas, task data and annotation results: pure validation, no database.

Results by task type (offsets are Unicode code points of the original text and fall between whole
characters, i.e. grapheme clusters such as 👩‍👩‍👧 or e + a combining accent; boxes are image pixels):
- single_label: {"label": "positive"}
- multi_label:  {"labels": ["sports", "politics"]}
- ner:          {"spans": [{"start": 0, "end": 5, "label": "PER"}]}
- bbox:         {"boxes": [{"x": 10, "y": 20, "w": 30, "h": 40, "label": "car"}]}
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import regex

SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"
NER = "ner"
BBOX = "bbox"
TASK_TYPES = (SINGLE_LABEL, MULTI_LABEL, NER, BBOX)

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_DEFAULT_COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]
MAX_TEXT_CHARS = 100_000
_GRAPHEME = regex.compile(r"\X")

PRESETS: dict[str, dict[str, Any]] = {
    "sentiment": {
        "task_type": SINGLE_LABEL,
        "labels": [
            {"name": "positive", "color": "#2ca02c", "hotkey": "1"},
            {"name": "neutral", "color": "#7f7f7f", "hotkey": "2"},
            {"name": "negative", "color": "#d62728", "hotkey": "3"},
        ],
    },
}


class SchemaError(ValueError):
    """Bad input: `errors` maps a field path (e.g. "labels[2].hotkey") to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(f"{first[0]}: {first[1]}")


@dataclass(frozen=True)
class LabelSchema:
    task_type: str
    labels: tuple[str, ...]
    max_labels: int | None = None
    allow_overlapping_spans: bool = False
    label_set: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_set", frozenset(self.labels))

    @classmethod
    def of(
        cls,
        *,
        task_type: str,
        labels: list[dict[str, Any]],
        max_labels: int | None,
        allow_overlapping_spans: bool,
    ) -> LabelSchema:
        """The schema of a project's settings (`labels` as stored: [{"name", ...}, ...])."""
        return cls(
            task_type=task_type,
            labels=tuple(label["name"] for label in labels),
            max_labels=max_labels,
            allow_overlapping_spans=allow_overlapping_spans,
        )


def normalise_labels(raw: Any, *, task_type: str) -> list[dict[str, str]]:
    """Check a project's labels and fill colours and hotkeys; raise SchemaError naming each bad entry."""
    errors: dict[str, str] = {}
    if task_type not in TASK_TYPES:
        raise SchemaError(
            {"task_type": f"Unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}."}
        )
    if not isinstance(raw, list) or not raw:
        raise SchemaError({"labels": "Give at least one label."})
    if task_type in (SINGLE_LABEL,) and len(raw) < 2:
        raise SchemaError({"labels": "A single-label classification needs at least two labels."})
    names: set[str] = set()
    hotkeys: set[str] = set()
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        where = f"labels[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            errors[where] = "Each label is a name or an object with name, color and hotkey."
            continue
        name = str(item.get("name", "")).strip()
        if not name or len(name) > 60:
            errors[f"{where}.name"] = "A label needs a name of 1 to 60 characters."
            continue
        if name in names:
            errors[f"{where}.name"] = f"The label {name!r} appears twice."
            continue
        names.add(name)
        color = str(item.get("color") or _DEFAULT_COLORS[i % len(_DEFAULT_COLORS)])
        if not _COLOR.match(color):
            errors[f"{where}.color"] = f"{color!r} is not a colour like #1f77b4."
        hotkey = str(item.get("hotkey") or (str(i + 1) if i < 9 else "")).strip()
        if hotkey:
            if len(hotkey) != 1 or not hotkey.isprintable() or hotkey.isspace():
                errors[f"{where}.hotkey"] = "A hotkey is one printable key."
            elif hotkey.lower() in hotkeys:
                errors[f"{where}.hotkey"] = f"The hotkey {hotkey!r} is used twice."
            hotkeys.add(hotkey.lower())
        out.append({"name": name, "color": color, "hotkey": hotkey})
    if errors:
        raise SchemaError(errors)
    return out


def validate_task_data(data: Any, *, task_type: str) -> dict[str, Any]:
    """Return the task's data as annotators will see it; raise SchemaError naming the bad field."""
    if not isinstance(data, dict):
        raise SchemaError({"data": "Task data must be an object."})
    if task_type == BBOX:
        return _validate_image(data)
    text = data.get("text")
    if task_type == NER or "image" not in data:
        if not isinstance(text, str) or not text.strip():
            raise SchemaError({"data.text": "Text is missing or empty."})
        if len(text) > MAX_TEXT_CHARS:
            raise SchemaError({"data.text": f"Text is longer than {MAX_TEXT_CHARS} characters."})
        out: dict[str, Any] = {"text": text}
        if task_type != NER and "image" in data:
            out.update(_validate_image(data))
        return out
    return _validate_image(data)


def _validate_image(data: dict[str, Any]) -> dict[str, Any]:
    url = data.get("image")
    if not isinstance(url, str) or not url:
        raise SchemaError({"data.image": "An image URL is required."})
    if not (_is_site_path(url) or _is_absolute_url(url)):
        raise SchemaError(
            {
                "data.image": f"{url[:200]!r} is not an image URL: give an http(s) URL or a path "
                "on this site starting with / (such as /media/images/1.jpg)."
            }
        )
    out: dict[str, Any] = {"image": url}
    for dim in ("width", "height"):
        value = data.get(dim)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SchemaError(
                {f"data.{dim}": f"The image {dim} in pixels is required (a positive whole number)."}
            )
        out[dim] = value
    if "text" in data and isinstance(data["text"], str):
        out["text"] = data["text"]
    return out


def _is_absolute_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https", "s3", "gs") and bool(parsed.netloc)


def _is_site_path(url: str) -> bool:
    # A path without a host works on whichever address the site is served from (any port).
    parsed = urlparse(url)
    return (
        url.startswith("/")
        and not url.startswith("//")
        and not parsed.scheme
        and not parsed.netloc
        and "\\" not in url  # browsers read /\host/ as //host/: another site
    )


def grapheme_boundaries(text: str) -> frozenset[int]:
    """Return the code point offsets that fall between whole characters (grapheme clusters).

    0 and len(text) are included. A family emoji (👩‍👩‍👧, five code points) or a letter with a
    combining accent is one character: no offset inside it is a boundary.
    """
    if text.isascii() and "\r\n" not in text:
        return frozenset(range(len(text) + 1))
    return frozenset([0, *(m.end() for m in _GRAPHEME.finditer(text))])


def validate_result(result: Any, *, schema: LabelSchema, data: dict[str, Any]) -> dict[str, Any]:
    """Check an annotation (or pre-annotation) against the schema and the task; return it normalised."""
    if not isinstance(result, dict):
        raise SchemaError({"result": "The result must be an object."})
    kind = schema.task_type
    if kind == SINGLE_LABEL:
        label = result.get("label")
        if label not in schema.label_set:
            raise SchemaError({"result.label": f"{label!r} is not one of the project's labels."})
        return {"label": label}
    if kind == MULTI_LABEL:
        labels = result.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise SchemaError({"result.labels": "Give a list of label names."})
        unknown = [x for x in labels if x not in schema.label_set]
        if unknown:
            raise SchemaError(
                {"result.labels": f"Not labels of this project: {', '.join(map(repr, unknown))}."}
            )
        if len(set(labels)) != len(labels):
            raise SchemaError({"result.labels": "A label is given twice."})
        if not labels:
            raise SchemaError({"result.labels": "Choose at least one label."})
        if schema.max_labels is not None and len(labels) > schema.max_labels:
            raise SchemaError({"result.labels": f"At most {schema.max_labels} labels."})
        return {"labels": sorted(labels, key=schema.labels.index)}
    if kind == NER:
        return {
            "spans": _validate_spans(result.get("spans"), schema=schema, text=data.get("text", ""))
        }
    return {"boxes": _validate_boxes(result.get("boxes"), schema=schema, data=data)}


def _validate_spans(spans: Any, *, schema: LabelSchema, text: str) -> list[dict[str, Any]]:
    if not isinstance(spans, list):
        raise SchemaError({"result.spans": "Give a list of spans."})
    out: list[dict[str, Any]] = []
    boundaries: frozenset[int] | None = None  # computed once, only when there is a span to check
    for i, span in enumerate(spans):
        where = f"result.spans[{i}]"
        if not isinstance(span, dict):
            raise SchemaError({where: "Each span is {start, end, label}."})
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not isinstance(start, int)
            or not isinstance(end, int)
        ):
            raise SchemaError({where: "start and end are whole numbers (character offsets)."})
        if not 0 <= start < end <= len(text):
            raise SchemaError(
                {where: f"The span {start}..{end} is not inside the text (0..{len(text)})."}
            )
        if boundaries is None:
            boundaries = grapheme_boundaries(text)
        inside = [offset for offset in (start, end) if offset not in boundaries]
        if inside:
            raise SchemaError(
                {
                    where: f"The span {start}..{end} cuts a character in two at offset {inside[0]} "
                    "(offsets count code points; an emoji or a letter with an accent can be "
                    "several code points but is one character)."
                }
            )
        if label not in schema.label_set:
            raise SchemaError({f"{where}.label": f"{label!r} is not one of the project's labels."})
        out.append({"start": start, "end": end, "label": label})
    out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    for a, b in itertools.pairwise(out):
        if (a["start"], a["end"]) == (b["start"], b["end"]) and a["label"] == b["label"]:
            raise SchemaError(
                {"result.spans": f"The span {a['start']}..{a['end']} is given twice."}
            )
        if not schema.allow_overlapping_spans and b["start"] < a["end"]:
            raise SchemaError(
                {
                    "result.spans": f"Spans {a['start']}..{a['end']} and {b['start']}..{b['end']} overlap."
                }
            )
    return out


def _validate_boxes(
    boxes: Any, *, schema: LabelSchema, data: dict[str, Any]
) -> list[dict[str, Any]]:
    if not isinstance(boxes, list):
        raise SchemaError({"result.boxes": "Give a list of boxes."})
    width, height = data.get("width", 0), data.get("height", 0)
    out: list[dict[str, Any]] = []
    for i, box in enumerate(boxes):
        where = f"result.boxes[{i}]"
        if not isinstance(box, dict):
            raise SchemaError({where: "Each box is {x, y, w, h, label}."})
        values = [box.get(k) for k in ("x", "y", "w", "h")]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
            raise SchemaError({where: "x, y, w and h are numbers (image pixels)."})
        x, y, w, h = (float(v) for v in values)  # type: ignore[arg-type]  # checked to be numbers above
        if w <= 0 or h <= 0:
            raise SchemaError({where: "A box has a positive width and height."})
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise SchemaError({where: f"The box is not inside the {width}x{height} image."})
        if box.get("label") not in schema.label_set:
            raise SchemaError(
                {f"{where}.label": f"{box.get('label')!r} is not one of the project's labels."}
            )
        out.append(
            {
                "x": round(x, 2),
                "y": round(y, 2),
                "w": round(w, 2),
                "h": round(h, 2),
                "label": box["label"],
            }
        )
    return out
