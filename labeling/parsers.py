"""Dataset files to task records: JSONL, CSV and JSON arrays, streamed, no database.

`iter_records` yields `(line, record)` where a record is
`{"external_id": str | None, "data": dict, "meta": dict, "pre_annotation": Any, "priority": Any,
"gold": Any}` (`gold`: the hidden answer of a gold task, or None)
with raw values (the import service validates them), or `(line, ParseError)` for a line that cannot
become a record. Lines are physical line numbers of the file, starting at 1. Memory stays bounded by
one read chunk plus the largest record (at most `MAX_RECORD_BYTES`), whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

FORMATS = ("jsonl", "csv", "json")
READ_CHUNK_BYTES = 64 * 1024
MAX_RECORD_BYTES = 10 * 1024 * 1024
MAX_EXTERNAL_ID_CHARS = 200

_BOM = codecs.BOM_UTF8
# Top-level keys of a JSON task that are task data when the object has no "data" key.
_DATA_KEYS = ("text", "image", "width", "height")
_RECORD_KEYS = frozenset(
    {"external_id", "data", "meta", "pre_annotation", "priority", "gold", *_DATA_KEYS}
)
_WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]+(?:\.0*)?\s*")
_NOT_UTF8_MESSAGE = "The text is not valid UTF-8."
# The JSON array scanner: outside strings it needs brackets and quotes; inside, quotes and escapes.
_STRUCTURE = re.compile(r'["{}\[\]]')
_IN_STRING = re.compile(r'["\\]')
_SCALAR_END = re.compile(r'[\s,{}\[\]"]')
_WHITESPACE = re.compile(r"[ \t\r\n]*")


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


def iter_records(stream: ByteStream, file_format: str) -> Iterator[Parsed]:
    """Yield (line, record or ParseError) for each record of a UTF-8 file, reading it in chunks.

    Raises ValueError for an unknown format; errors of the stream itself (e.g. SourceError) pass
    through unchanged.
    """
    if file_format == "jsonl":
        return _iter_jsonl(stream)
    if file_format == "csv":
        return _iter_csv(stream)
    if file_format == "json":
        return _JsonArrayReader(stream).records()
    raise ValueError(f"Unknown file format {file_format!r}; use one of {', '.join(FORMATS)}.")


def normalise_record(obj: Any, *, line: int) -> Parsed:
    """Turn one decoded JSON task (a line, an array element, an API item) into a record."""
    try:
        return line, _record_from_object(obj, line)
    except ParseError as exc:
        return line, exc


# --- JSON objects -----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _json_error(exc: ValueError | RecursionError, *, with_column: bool = False) -> str:
    if isinstance(exc, json.JSONDecodeError):
        where = f" (column {exc.colno})" if with_column else ""
        return f"Not valid JSON: {exc.msg}{where}."
    if isinstance(exc, RecursionError):
        return "Not valid JSON: the value is nested too deeply."
    return f"Not valid JSON: {exc}."


def _external_id(value: Any, line: int) -> str | None:
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
        "external_id": _external_id(obj.get("external_id"), line),
        "data": data,
        "meta": _merge_meta(meta, extra, line),
        "pre_annotation": obj.get("pre_annotation"),
        "priority": obj.get("priority"),
        "gold": obj.get("gold"),
    }


def _merge_meta(meta: dict[str, Any], extra: dict[str, Any], line: int) -> dict[str, Any]:
    if not extra:
        return meta
    clash = sorted(set(meta) & set(extra))
    if clash:
        raise ParseError(
            line, "meta", f"{clash[0]!r} is given both in meta and as a field of its own."
        )
    return {**meta, **extra}


# --- Lines ------------------------------------------------------------------------------------


class _TooLong:
    """Marks a physical line longer than MAX_RECORD_BYTES (its bytes were dropped)."""


_TOO_LONG = _TooLong()
_TOO_LONG_MESSAGE = f"The line is longer than {MAX_RECORD_BYTES // (1024 * 1024)} MB."


def _physical_lines(stream: ByteStream) -> Iterator[bytes | _TooLong]:
    """Yield each line with its b"\\n" (the last may lack it); a leading BOM is removed."""
    parts: list[bytes] = []
    size = 0
    too_long = False
    first = True
    while True:
        chunk = stream.read(READ_CHUNK_BYTES)
        if not chunk:
            break
        if first:
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                chunk += stream.read(len(_BOM) - len(chunk))
            chunk = chunk.removeprefix(_BOM)
            first = False
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if too_long or size + end - start > MAX_RECORD_BYTES:
                yield _TOO_LONG
            elif parts:
                parts.append(chunk[start : end + 1])
                yield b"".join(parts)
            else:
                yield chunk[start : end + 1]
            parts, size, too_long = [], 0, False
            start = end + 1
        rest = chunk[start:]
        if rest and not too_long:
            size += len(rest)
            if size > MAX_RECORD_BYTES:
                parts, too_long = [], True
            else:
                parts.append(rest)
    if too_long:
        yield _TOO_LONG
    elif parts:
        yield b"".join(parts)


def _iter_jsonl(stream: ByteStream) -> Iterator[Parsed]:
    for line, raw in enumerate(_physical_lines(stream), start=1):
        if isinstance(raw, _TooLong):
            yield line, ParseError(line, "", _TOO_LONG_MESSAGE)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield line, ParseError(line, "", _NOT_UTF8_MESSAGE)
            continue
        if not text.strip():
            continue
        try:
            obj = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            yield line, ParseError(line, "", _json_error(exc, with_column=True))
            continue
        yield normalise_record(obj, line=line)


# --- CSV --------------------------------------------------------------------------------------

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
        self._lines = _physical_lines(stream)
        self.count = 0
        self.last_bad = 0
        self.record: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for raw in self._lines:
            self.count += 1
            if isinstance(raw, _TooLong):
                raise ParseError(self.count, "", _TOO_LONG_MESSAGE)
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


def _iter_csv(stream: ByteStream) -> Iterator[Parsed]:
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
            yield first_line, ParseError(first_line, "", _NOT_UTF8_MESSAGE)
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


def _is_utf8(text: str) -> bool:
    """Whether `text` (decoded with surrogateescape) came from valid UTF-8: no lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
            record["external_id"] = _external_id(cell, line)
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
    record["meta"] = _merge_meta(record["meta"], extra, line)
    return record


def _json_cell(cell: str, name: str, line: int) -> Any:
    try:
        return _DECODER.decode(cell.strip())
    except (ValueError, RecursionError) as exc:
        raise ParseError(line, name, _json_error(exc)) from None


# --- JSON array -------------------------------------------------------------------------------


class _JsonArrayReader:
    """Reads `[{...}, {...}]` one element at a time from a sliding text buffer.

    Each element is first decoded in place with `raw_decode`; when that fails (the element is
    cut by the end of the buffer, or is not valid JSON) a scanner that knows only brackets,
    strings and escapes finds where the element ends, reading more as needed. So a bad element is
    reported and skipped, and the file goes on; only a broken array structure stops the reading.
    """

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        self._buf = ""
        self._pos = 0
        self._eof = False
        # The line number of self._buf[self._line_pos], advanced lazily (positions only grow).
        self._line = 1
        self._line_pos = 0

    def records(self) -> Iterator[Parsed]:
        char = self._skip_whitespace()
        if char is None:
            return
        if char != "[":
            line = self._line_at(self._pos)
            yield (
                line,
                ParseError(
                    line,
                    "",
                    "A JSON file must hold one array of tasks, [{...}, {...}]; "
                    "for one task per line, use the JSONL format.",
                ),
            )
            return
        self._pos += 1
        expect_more = False
        while True:
            char = self._skip_whitespace()
            if char is None:
                yield self._structure_error("The file ends before the closing ] of the array.")
                return
            if char == "]":
                if expect_more:
                    yield self._structure_error("A comma is followed by ] instead of a task.")
                    return
                self._pos += 1
                break
            start = self._pos
            line = self._line_at(start)
            end = self._element_end(start)
            if end is None:
                yield (
                    line,
                    ParseError(line, "", "The file ends inside the task that starts on this line."),
                )
                return
            if isinstance(end, _TooLong):
                yield (
                    line,
                    ParseError(
                        line,
                        "",
                        f"The task that starts on this line is longer than "
                        f"{MAX_RECORD_BYTES // (1024 * 1024)} MB.",
                    ),
                )
                return
            yield self._element(start, end, line)
            self._pos = end
            self._discard_read_text()
            char = self._skip_whitespace()
            if char == ",":
                self._pos += 1
                expect_more = True
            elif char == "]":
                self._pos += 1
                break
            elif char is None:
                yield self._structure_error("The file ends before the closing ] of the array.")
                return
            else:
                yield self._structure_error(
                    f"Expected a comma or ] after the task that starts on line {line}."
                )
                return
        if self._skip_whitespace() is not None:
            yield self._structure_error("There is more text after the closing ] of the array.")

    def _element(self, start: int, end: int, line: int) -> Parsed:
        try:
            obj, decoded_end = _DECODER.raw_decode(self._buf, start)
        except (ValueError, RecursionError) as exc:
            return line, ParseError(line, "", _json_error(exc))
        if decoded_end != end:
            return line, ParseError(line, "", "Not valid JSON: unexpected text after the value.")
        if not _is_utf8(self._buf[start:end]):
            return line, ParseError(line, "", _NOT_UTF8_MESSAGE)
        return normalise_record(obj, line=line)

    def _element_end(self, start: int) -> int | _TooLong | None:
        """Return where the element at `start` ends; None when the file ends first."""
        try:
            _, end = _DECODER.raw_decode(self._buf, start)
        except (ValueError, RecursionError):
            pass
        else:
            if end < len(self._buf) or self._eof:
                return end
        if self._buf[start] not in '{["':
            return self._scalar_end(start)
        depth = 0
        in_string = False
        i = start
        while True:
            match = (_IN_STRING if in_string else _STRUCTURE).search(self._buf, i)
            if match is None or (match.group() == "\\" and match.end() == len(self._buf)):
                i = match.start() if match else len(self._buf)
                if len(self._buf) - start > MAX_RECORD_BYTES:
                    return _TOO_LONG
                if not self._fill():
                    return None
                continue
            found, i = match.group(), match.end()
            if in_string:
                if found == "\\":
                    i += 1
                    continue
                in_string = False
                if depth == 0:
                    return i
            elif found == '"':
                in_string = True
            elif found in "{[":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return i

    def _scalar_end(self, start: int) -> int | _TooLong:
        i = start + 1
        while True:
            match = _SCALAR_END.search(self._buf, i)
            if match is not None:
                return match.start()
            i = len(self._buf)
            if i - start > MAX_RECORD_BYTES:
                return _TOO_LONG
            if not self._fill():
                return i

    def _skip_whitespace(self) -> str | None:
        """Move past whitespace; return the next character, or None at the end of the file."""
        while True:
            match = _WHITESPACE.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            self._discard_read_text()
            if not self._fill():
                return None

    def _fill(self) -> bool:
        """Append the next chunk of text to the buffer; False at the end of the file."""
        while not self._eof:
            chunk = self._stream.read(READ_CHUNK_BYTES)
            if not chunk:
                self._eof = True
                text = self._decoder.decode(b"", final=True)
            else:
                text = self._decoder.decode(chunk)
            if text:
                self._buf += text
                return True
        return False

    def _discard_read_text(self) -> None:
        """Drop the text before the current position once it is worth a copy."""
        if self._pos >= READ_CHUNK_BYTES or self._pos == len(self._buf):
            self._line_at(self._pos)
            self._buf = self._buf[self._pos :]
            self._line_pos -= self._pos
            self._pos = 0

    def _line_at(self, index: int) -> int:
        self._line += self._buf.count("\n", self._line_pos, index)
        self._line_pos = index
        return self._line

    def _structure_error(self, message: str) -> Parsed:
        line = self._line_at(max(self._pos, self._line_pos))
        return line, ParseError(line, "", message)
