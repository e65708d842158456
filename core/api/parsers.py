"""JSON request bodies: one strict reading for the DRF views and the queue's hot path.

Python's `json` accepts `NaN`, `Infinity` and `-Infinity`, which are not JSON and which
PostgreSQL's jsonb refuses, and it recurses once per nesting level, so a body nested a few
thousand levels deep raises RecursionError instead of a parse error. `json_loads` refuses both
with `JsonInvalid` (a ValueError), and `JSONParser` turns that into DRF's 400 `parse_error`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge

# Far deeper than any task, label or setting Quorum stores, far below Python's recursion limit.
MAX_JSON_DEPTH = 64


class JsonInvalid(ValueError):
    """The body is not JSON Quorum accepts; the message says why, for the client."""


def _refuse_constant(name: str) -> Any:
    raise JsonInvalid(f"{name} is not a JSON value; send numbers as finite decimals.")


def json_loads(raw: bytes | str) -> Any:
    """Parse a JSON document strictly: no NaN or Infinity, at most MAX_JSON_DEPTH levels deep.

    Raises JsonInvalid (a ValueError) with a message fit for the client.
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonInvalid(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except UnicodeDecodeError as exc:
        raise JsonInvalid(f"The body is not UTF-8 text: {exc.reason}.") from None
    except JsonInvalid:
        raise
    except ValueError as exc:
        raise JsonInvalid(str(exc)) from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Refuse a document deeper than MAX_JSON_DEPTH (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise JsonInvalid(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def body_limit() -> int | None:
    """The largest request body the API reads (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return int(limit) if limit is not None else None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser reading through `json_loads`, with Django's limit on the body size.

    DRF reads the body from the stream, past the check Django makes in `request.body`, so
    the limit is checked here: a larger body is refused with 413 before it is read in full.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # DRF 3.16+: only text codecs (a bz2 charset would expand the body past the limit).
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined, unused-ignore]  # in newer stubs only
        limit = body_limit()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge()
        try:
            text = codecs.decode(raw, encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text.") from exc
        try:
            return json_loads(text)
        except JsonInvalid as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
