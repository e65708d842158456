"""CSV dataset files to task records: RFC 4180, one header line, streamed. No database.

Columns `text` and `image` (and `width`, `height`) are the task data, `meta`, `pre_annotation` and
`gold` hold JSON, and any other column is kept in the task's meta.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

from labeling.parsers.lines import TOO_LONG_MESSAGE, TooLong, physical_lines
from labeling.parsers.records import (
    DECODER,
    NOT_UTF8_MESSAGE,
    ByteStream,
    Parsed,
    ParseError,
    external_id_clean,
    json_error,
    meta_merge,
)

_WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]+(?:\.0*)?\s*")

_CSV_DATA_COLUMNS = ("text", "image")
_CSV_INT_COLUMNS = ("width", "height")


# RFC 4180 quoting: a field is either quoted throughout (quotes inside doubled, newlines allowed)
# or holds no quote at all. csv.reader, even strict, takes `a"b` as text and, depending on the
# Python version, may end a quoted field at the end of the file without a word.
_CSV_QUOTED = re.compile(r'"[^"]*(?:""[^"]*)*"')
_CSV_UNQUOTED = re.compile(r'[^",\r\n]*')
_CSV_LINE_END = ("", "\n", "\r", "\r\n")


class _CsvLines:
    """Decoded physical lines for csv.reader, counting them so records know their first line, and
    keeping the lines of the record being read so its quoting can be checked."""

    def __init__(self, stream: ByteStream) -> None:
        self._lines = physical_lines(stream)
        self.count = 0
        self.last_bad = 0
        self.record: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self._lines:
            self.count += 1
            if isinstance(raw, TooLong):
                raise ParseError(self.count, "", TOO_LONG_MESSAGE)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                # Keep the line (bad bytes as lone surrogates) so csv keeps its place; the
                # record holding it is refused.
                self.last_bad = self.count
                text = raw.decode("utf-8", errors="surrogateescape")
            self.record.append(text)
            yield text


def _csv_quoting_error(text: str, first_line: int) -> ParseError | None:
    """Return the first quoting mistake in the raw text of one record, or None if it is sound."""
    pos = 0
    while True:
        quoted = text.startswith('"', pos)
        match = (_CSV_QUOTED if quoted else _CSV_UNQUOTED).match(text, pos)
        if match is None:
            return ParseError(
                first_line + text.count("\n", 0, pos),
                "",
                "Not valid CSV: a quoted field starts on this line and its closing quote is "
                "missing, so the rest of the file would be read as its text.",
            )
        end = match.end()
        if text.startswith(",", end):
            pos = end + 1
            continue
        if text[end:] in _CSV_LINE_END:
            return None
        line = first_line + text.count("\n", 0, end)
        if not quoted and text.startswith('"', end):
            return ParseError(
                line,
                "",
                'Not valid CSV: a quote (") inside a field that does not start with one; quote '
                'the whole field and double the quotes inside it, e.g. "say ""hi""".',
            )
        if not quoted:
            return ParseError(
                line,
                "",
                "Not valid CSV: a field must be followed by a comma or the end of the line.",
            )
        start = first_line + text.count("\n", 0, pos)
        if start == line:
            return ParseError(
                line,
                "",
                "Not valid CSV: the closing quote of a field must be followed by a comma or the "
                "end of the line.",
            )
        # A field quoted across lines that then breaks: most likely its own quote was never
        # closed and it swallowed the lines below, so name the line where it starts.
        return ParseError(
            start,
            "",
            f"Not valid CSV: the quoted field that starts on this line runs on to line {line}, "
            "where text follows its closing quote; is a closing quote missing on this line?",
        )


def iter_csv(stream: ByteStream) -> Iterator[Parsed]:
    """Yield (line, record or ParseError) for each row of a CSV file after its header."""
    lines = _CsvLines(stream)
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    while True:
        first_line = lines.count + 1
        lines.record.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except ParseError as exc:
            # A line too long to hold: csv cannot find where its record ends, so stop here.
            yield exc.line, exc
            return
        except csv.Error as exc:
            error = _csv_quoting_error("".join(lines.record), first_line)
            yield first_line, error or ParseError(first_line, "", f"Not valid CSV: {exc}.")
            if header is None:
                return
            continue
        if not row or row == [""]:
            continue
        if any('"' in text for text in lines.record):
            error = _csv_quoting_error("".join(lines.record), first_line)
            if error is not None:
                yield first_line, error
                if header is None:
                    return
                continue
        if lines.last_bad >= first_line:
            yield first_line, ParseError(first_line, "", NOT_UTF8_MESSAGE)
            if header is None:
                return
            continue
        if header is None:
            try:
                header = _csv_header(row, first_line)
            except ParseError as exc:
                yield first_line, exc
                return
            continue
        try:
            yield first_line, _csv_record(header, row, first_line)
        except ParseError as exc:
            yield first_line, exc


def _csv_header(row: list[str], line: int) -> list[str]:
    names = [cell.strip() for cell in row]
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            raise ParseError(line, "", f"Column {position} of the header has no name.")
        if name in seen:
            raise ParseError(line, "", f"The column {name!r} appears twice in the header.")
        seen.add(name)
    return names


def _whole_number_or_text(cell: str) -> int | str:
    if cell.isascii() and cell.isdigit():
        return int(cell)
    if _WHOLE_NUMBER.fullmatch(cell):
        return int(cell.strip().split(".")[0])
    return cell


def _csv_record(header: list[str], row: list[str], line: int) -> dict[str, Any]:
    if len(row) != len(header):
        # Every row has the header's columns (RFC 4180): a cell too many or too few means the
        # values may sit under the wrong names.
        raise ParseError(
            line,
            "",
            f"The row has {len(row)} cell{'s' if len(row) != 1 else ''} but the header names "
            f"{len(header)} column{'s' if len(header) != 1 else ''}.",
        )
    record: dict[str, Any] = {
        "external_id": None,
        "data": {},
        "meta": {},
        "pre_annotation": None,
        "priority": None,
        "gold": None,
    }
    extra: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=True):
        if cell == "":
            continue
        if name == "external_id":
            record["external_id"] = external_id_clean(cell, line)
        elif name in _CSV_DATA_COLUMNS:
            record["data"][name] = cell
        elif name in _CSV_INT_COLUMNS:
            record["data"][name] = _whole_number_or_text(cell)
        elif name == "priority":
            record["priority"] = _whole_number_or_text(cell)
        elif name in ("pre_annotation", "gold"):
            record[name] = _json_cell(cell, name, line)
        elif name == "meta":
            meta = _json_cell(cell, name, line)
            if not isinstance(meta, dict):
                raise ParseError(line, "meta", "The meta column must hold a JSON object.")
            record["meta"] = meta
        else:
            extra[name] = cell
    record["meta"] = meta_merge(record["meta"], extra, line)
    return record


def _json_cell(cell: str, name: str, line: int) -> Any:
    try:
        return DECODER.decode(cell.strip())
    except (ValueError, RecursionError) as exc:
        raise ParseError(line, name, json_error(exc)) from None
