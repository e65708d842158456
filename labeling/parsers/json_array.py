"""JSON dataset files to task records: one array of task objects, read element by element.

No database; memory holds one read chunk plus the element being read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from labeling.parsers.lines import TOO_LONG, TooLong
from labeling.parsers.records import (
    DECODER,
    MAX_RECORD_BYTES,
    NOT_UTF8_MESSAGE,
    READ_CHUNK_BYTES,
    ByteStream,
    Parsed,
    ParseError,
    is_utf8,
    json_error,
    normalise_record,
)

# The JSON array scanner: outside strings it needs brackets and quotes; inside, quotes and escapes.
_STRUCTURE = re.compile(r'["{}\[\]]')
_IN_STRING = re.compile(r'["\\]')
_SCALAR_END = re.compile(r'[\s,{}\[\]"]')
_WHITESPACE = re.compile(r"[ \t\r\n]*")


class JsonArrayReader:
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
            if isinstance(end, TooLong):
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
            obj, decoded_end = DECODER.raw_decode(self._buf, start)
        except (ValueError, RecursionError) as exc:
            return line, ParseError(line, "", json_error(exc))
        if decoded_end != end:
            return line, ParseError(line, "", "Not valid JSON: unexpected text after the value.")
        if not is_utf8(self._buf[start:end]):
            return line, ParseError(line, "", NOT_UTF8_MESSAGE)
        return normalise_record(obj, line=line)

    def _element_end(self, start: int) -> int | TooLong | None:
        """Return where the element at `start` ends; None when the file ends first."""
        try:
            _, end = DECODER.raw_decode(self._buf, start)
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
                    return TOO_LONG
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

    def _scalar_end(self, start: int) -> int | TooLong:
        i = start + 1
        while True:
            match = _SCALAR_END.search(self._buf, i)
            if match is not None:
                return match.start()
            i = len(self._buf)
            if i - start > MAX_RECORD_BYTES:
                return TOO_LONG
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
