"""A file's physical lines, of bounded length, and the JSON Lines records read from them.

CSV files are read through the same lines (`labeling.parsers.csv_records`). No database.
"""

from __future__ import annotations

from collections.abc import Iterator

from labeling.parsers.records import (
    BOM,
    DECODER,
    MAX_RECORD_BYTES,
    NOT_UTF8_MESSAGE,
    READ_CHUNK_BYTES,
    ByteStream,
    Parsed,
    ParseError,
    json_error,
    normalise_record,
)


class TooLong:
    """Marks a physical line longer than MAX_RECORD_BYTES (its bytes were dropped)."""


TOO_LONG = TooLong()
TOO_LONG_MESSAGE = f"The line is longer than {MAX_RECORD_BYTES // (1024 * 1024)} MB."


def physical_lines(stream: ByteStream) -> Iterator[bytes | TooLong]:
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
            if len(chunk) < len(BOM) and BOM.startswith(chunk):
                chunk += stream.read(len(BOM) - len(chunk))
            chunk = chunk.removeprefix(BOM)
            first = False
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if too_long or size + end - start > MAX_RECORD_BYTES:
                yield TOO_LONG
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
        yield TOO_LONG
    elif parts:
        yield b"".join(parts)


def iter_jsonl(stream: ByteStream) -> Iterator[Parsed]:
    """Yield (line, record or ParseError) for each non-blank line of a JSON Lines file."""
    for line, raw in enumerate(physical_lines(stream), start=1):
        if isinstance(raw, TooLong):
            yield line, ParseError(line, "", TOO_LONG_MESSAGE)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield line, ParseError(line, "", NOT_UTF8_MESSAGE)
            continue
        if not text.strip():
            continue
        try:
            obj = DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            yield line, ParseError(line, "", json_error(exc, with_column=True))
            continue
        yield normalise_record(obj, line=line)
