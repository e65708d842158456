"""Task records: what one task of a dataset file becomes, and the errors that name its line.

A record is `{"external_id": str | None, "data": dict, "meta": dict, "pre_annotation": Any,
"priority": Any, "gold": Any}` (`gold`: the hidden answer of a gold task, or None) with raw values
(the import service validates them). Each format's reader (`labeling.parsers.lines` for JSON Lines,
`csv_records`, `json_array`) turns its objects into records here; `labeling.parsers.reading`
chooses the reader. No database.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Protocol

READ_CHUNK_BYTES = 64 * 1024
MAX_RECORD_BYTES = 10 * 1024 * 1024
MAX_EXTERNAL_ID_CHARS = 200

BOM = codecs.BOM_UTF8
# Top-level keys of a JSON task that are task data when the object has no "data" key.
_DATA_KEYS = ("text", "image", "width", "height")
_RECORD_KEYS = frozenset(
    {"external_id", "data", "meta", "pre_annotation", "priority", "gold", *_DATA_KEYS}
)
NOT_UTF8_MESSAGE = "The text is not valid UTF-8."


class ByteStream(Protocol):
    """What the parsers read from: a binary file, a SourceStream, a Django File."""

    def read(self, size: int = ..., /) -> bytes: ...


class ParseError(Exception):
    """A line that cannot become a task record; `field` is "" when the line as a whole is wrong."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(f"line {line}: {f'{field}: ' if field else ''}{message}")
        self.line = line
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"ParseError(line={self.line!r}, field={self.field!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type[ParseError], tuple[int, str, str]]:
        return (ParseError, (self.line, self.field, self.message))


Parsed = tuple[int, dict[str, Any] | ParseError]


def normalise_record(obj: Any, *, line: int) -> Parsed:
    """Turn one decoded JSON task (a line, an array element, an API item) into a record."""
    try:
        return line, _record_from_object(obj, line)
    except ParseError as exc:
        return line, exc


# --- JSON objects -----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def json_error(exc: ValueError | RecursionError, *, with_column: bool = False) -> str:
    """Return the message for a value that is not valid JSON."""
    if isinstance(exc, json.JSONDecodeError):
        where = f" (column {exc.colno})" if with_column else ""
        return f"Not valid JSON: {exc.msg}{where}."
    if isinstance(exc, RecursionError):
        return "Not valid JSON: the value is nested too deeply."
    return f"Not valid JSON: {exc}."


def external_id_clean(value: Any, line: int) -> str | None:
    """Return the external_id as text (None when empty); raise ParseError when it cannot be one."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ParseError(line, "external_id", "The external_id must be a string or a number.")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_EXTERNAL_ID_CHARS:
        raise ParseError(
            line,
            "external_id",
            f"The external_id is longer than {MAX_EXTERNAL_ID_CHARS} characters.",
        )
    return text


def _record_from_object(obj: Any, line: int) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ParseError(line, "", "Each task must be a JSON object.")
    if "data" in obj:
        data = obj["data"]
        if not isinstance(data, dict):
            raise ParseError(line, "data", "The data must be a JSON object.")
        doubled = [key for key in _DATA_KEYS if key in obj]
        if doubled:
            raise ParseError(
                line,
                "data",
                f"Give {', '.join(doubled)} inside data or at the top level, not both.",
            )
    else:
        data = {key: obj[key] for key in _DATA_KEYS if key in obj}
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise ParseError(line, "meta", "The meta must be a JSON object.")
    # Unknown keys are the customer's: keep them in meta rather than drop them silently.
    extra = {key: value for key, value in obj.items() if key not in _RECORD_KEYS}
    return {
        "external_id": external_id_clean(obj.get("external_id"), line),
        "data": data,
        "meta": meta_merge(meta, extra, line),
        "pre_annotation": obj.get("pre_annotation"),
        "priority": obj.get("priority"),
        "gold": obj.get("gold"),
    }


def meta_merge(meta: dict[str, Any], extra: dict[str, Any], line: int) -> dict[str, Any]:
    """Return `meta` with the record's unknown fields added; raise ParseError on a clash."""
    if not extra:
        return meta
    clash = sorted(set(meta) & set(extra))
    if clash:
        raise ParseError(
            line, "meta", f"{clash[0]!r} is given both in meta and as a field of its own."
        )
    return {**meta, **extra}


def is_utf8(text: str) -> bool:
    """Whether `text` (decoded with surrogateescape) came from valid UTF-8: no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
