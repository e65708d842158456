"""Dataset files to task records: JSONL, CSV and JSON arrays, streamed, no database.

`iter_records` yields `(line, record)` (see `labeling.parsers.records` for a record's shape), or
`(line, ParseError)` for a line that cannot become a record. Lines are physical line numbers of the
file, starting at 1. Memory stays bounded by one read chunk plus the largest record (at most
`MAX_RECORD_BYTES`), whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator

from labeling.parsers.csv_records import iter_csv
from labeling.parsers.json_array import JsonArrayReader
from labeling.parsers.lines import iter_jsonl
from labeling.parsers.records import ByteStream, Parsed

FORMATS = ("jsonl", "csv", "json")


def iter_records(stream: ByteStream, file_format: str) -> Iterator[Parsed]:
    """Yield (line, record or ParseError) for each record of a UTF-8 file, reading it in chunks.

    Raises ValueError for an unknown format; errors of the stream itself (e.g. SourceError) pass
    through unchanged.
    """
    if file_format == "jsonl":
        return iter_jsonl(stream)
    if file_format == "csv":
        return iter_csv(stream)
    if file_format == "json":
        return JsonArrayReader(stream).records()
    raise ValueError(f"Unknown file format {file_format!r}; use one of {', '.join(FORMATS)}.")
