"""Export writers: plain dict rows in, `bytes` chunks out, no database (memory stays constant).

Every writer takes an iterable of rows shaped like this (`export_rows` of
`labeling.services.exports.rows` makes them; times are ISO 8601 strings in UTC, ending in "Z"):

    {
        "task_id": 17,                     # int
        "external_id": "doc-17",           # str | None: the customer's own id
        "task_type": "ner",                # single_label | multi_label | ner | bbox
        "status": "completed",             # the task's status: completed | open
        "data": {"text": "..."},           # what annotators saw: text, or image URL and size
        "meta": {},                        # the customer's own metadata for the task
        "result": {"spans": [...]},        # the final label (shape per task type, see
                                           # kit.label_schema), {"label": None, "tied": [...]}
                                           # for a consensus tie, None while not final;
                                           # in a collection row, that submission's result
        "agreement": 0.83,                 # float 0..1 | None: share of annotators agreeing
        "confidence": 0.97,                # float 0..1 | None: what confidence_method says
        "confidence_method": "posterior",  # what `confidence` is: "posterior" (a calibrated
                                           # probability: Dawid-Skene, weighted vote, dynamic
                                           # overlap), "vote_share", "token_vote_share" or
                                           # "box_vote_share" (shares of votes, not
                                           # probabilities), None outside consensus
        "vote_share": None,                # float 0..1 | None: `confidence` when it is a vote
                                           # share (majority vote), else None
        "is_tie": False,                   # bool
        "review_level": 2,                 # the highest review level the result passed
        "completed_at": "2025-01-31T12:00:00Z",  # str | None
        "batch": 4,                        # int | None: the import job the task came in with
        "annotation_id": None,             # int | None: set in collection rows (one per submission)
        "annotations": [                   # provenance, oldest first
            {
                "annotation_id": 81,
                "annotator_id": 12,        # the user's id; never an e-mail address
                "revision": 1,
                "status": "accepted",      # submitted | accepted | rejected | corrected | discounted
                "result": {...},
                "submitted_at": "2025-01-31T11:58:02Z",
                "active_seconds": 41,
                "instructions_version": 3,  # int | None
                "corrects": None,          # int | None: a reviewer's correction of this id
            },
        ],
        "reviews": [                       # review verdicts, oldest first
            {
                "level": 1,
                "verdict": "approve",      # approve | correct | reject
                "reason": "",              # the reject reason code
                "reviewer_id": 5,
                "annotation_id": 81,       # the work reviewed (None: a consensus aggregate)
                "correction_id": None,     # the reviewer's correction, an annotation id
                "reviewed_at": "2025-01-31T12:00:00Z",
            },
        ],
    }

Formats:
- JSONL: one row per line, exactly the dict above, UTF-8, compact JSON. On PostgreSQL the database
  writes the lines (see `write_lines`), and the values stored as JSON (data, meta and results)
  keep its spacing: a space after each "," and ":" inside them. Parsed, the lines are the same.
- CSV (RFC 4180 quoting, CRLF line ends, UTF-8 without BOM): the columns of `CSV_COLUMNS`; `result`
  is compact JSON; `label` is the single label of single_label rows (empty otherwise and for ties);
  `is_tie` is true/false; `annotators` are the ids of the people whose work was not rejected, first
  appearance first, joined by ";"; `instructions_versions` are the distinct versions they worked
  under, ascending, joined by ";". Cells are written as they are stored: a spreadsheet may read a
  cell that starts with "=" as a formula, so open untrusted exports as text.
- CoNLL (NER): per task a `# task_id = N` comment, `# external_id = X` when there is one, and
  `# result = none` when the task has no final spans (not final, or a tie); then one `token TAG`
  line per token, then a blank line. See `tokenize` and `bio_tags`.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

# Chunks handed to the client or the file are about this large: big enough to keep per-chunk
# overhead low, small enough that memory does not depend on the export's size.
CHUNK_BYTES = 64 * 1024

CSV_COLUMNS = (
    "task_id",
    "external_id",
    "text",
    "image",
    "result",
    "label",
    "agreement",
    "confidence",
    "is_tie",
    "completed_at",
    "annotators",
    "instructions_versions",
    "batch",
    "confidence_method",
    "vote_share",
)

_ZWJ = "\u200d"
_NOT_COUNTED = ("rejected", "corrected", "discounted")


def compact_json(value: Any) -> str:
    """Return `value` as compact JSON that keeps non-ASCII characters as they are."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _buffered(pieces: Iterable[str]) -> Iterator[bytes]:
    """Join small strings into UTF-8 chunks of about CHUNK_BYTES."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def write_jsonl(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Yield the rows as JSON Lines."""
    return _buffered(compact_json(row) + "\n" for row in rows)


def write_lines(lines: Iterable[str]) -> Iterator[bytes]:
    """Yield lines that are already written (each ending in a newline) in chunks, like the writers.

    For rows the database has already written as JSON Lines (see
    `labeling.services.exports.postgres_jsonl`), so they need not be decoded and encoded again here.
    """
    return _buffered(lines)


def _csv_cells(row: dict[str, Any]) -> list[str]:
    data = row.get("data") or {}
    result = row.get("result")
    label = ""
    if row.get("task_type") == "single_label" and isinstance(result, dict):
        label = result.get("label") or ""
    counted = [a for a in row.get("annotations", ()) if a.get("status") not in _NOT_COUNTED]
    annotators = list(dict.fromkeys(str(a["annotator_id"]) for a in counted))
    versions = sorted(
        {a["instructions_version"] for a in counted if a.get("instructions_version") is not None}
    )
    agreement = row.get("agreement")
    confidence = row.get("confidence")
    batch = row.get("batch")
    vote_share = row.get("vote_share")
    return [
        str(row["task_id"]),
        row.get("external_id") or "",
        data.get("text") or "",
        data.get("image") or "",
        "" if result is None else compact_json(result),
        str(label),
        "" if agreement is None else repr(float(agreement)),
        "" if confidence is None else repr(float(confidence)),
        "true" if row.get("is_tie") else "false",
        row.get("completed_at") or "",
        ";".join(annotators),
        ";".join(str(v) for v in versions),
        "" if batch is None else str(batch),
        row.get("confidence_method") or "",
        "" if vote_share is None else repr(float(vote_share)),
    ]


def write_csv(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Yield the rows as CSV with a header line (columns: CSV_COLUMNS)."""

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(_csv_cells(row))
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    return _buffered(lines())


def _is_word_char(char: str) -> bool:
    # Letters, digits and underscore, plus combining marks so that "e" + U+0301 stays one word.
    return char.isalnum() or char == "_" or unicodedata.category(char).startswith("M")


def _is_attached(char: str) -> bool:
    # What belongs to the symbol before it: marks (variation selectors), emoji skin tones, ZWJ.
    return (
        unicodedata.category(char).startswith("M")
        or "\U0001f3fb" <= char <= "\U0001f3ff"
        or char == _ZWJ
    )


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split text into (token, start, end): runs of letters/digits, and each other visible symbol.

    Offsets are Unicode code points, as in the results. Whitespace separates tokens and is never
    part of one. A symbol keeps the marks, skin-tone modifiers and zero-width-joined symbols that
    follow it, so an emoji written with several code points is one token.
    """
    tokens: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        start = i
        if _is_word_char(char):
            while i < n and _is_word_char(text[i]):
                i += 1
        else:
            i += 1
            while i < n and not text[i].isspace():
                if text[i] == _ZWJ and i + 1 < n and not text[i + 1].isspace():
                    i += 2
                elif _is_attached(text[i]):
                    i += 1
                else:
                    break
        tokens.append((text[start:i], start, i))
    return tokens


def _tag_label(label: str) -> str:
    # A CoNLL line is "token TAG": whitespace inside a label would split the tag.
    return re.sub(r"\s+", "_", label.strip())


def bio_tags(tokens: Sequence[tuple[str, int, int]], spans: Iterable[dict[str, Any]]) -> list[str]:
    """Return one BIO tag per token for the spans ({"start", "end", "label"}).

    A token that overlaps a span is tagged with it: B- on the span's first such token, I- after.
    Where spans overlap (projects may allow it), the earlier span, then the longer, keeps a token;
    BIO cannot show nesting.
    """
    tags = ["O"] * len(tokens)
    ends = [end for _, _, end in tokens]
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        label = _tag_label(str(span["label"]))
        first = True
        # Tokens do not overlap, so their ends ascend: the first one ending after the span's start
        # is the first that can overlap it.
        index = bisect.bisect_right(ends, span["start"])
        while index < len(tokens) and tokens[index][1] < span["end"]:
            if tags[index] == "O":
                tags[index] = f"{'B' if first else 'I'}-{label}"
                first = False
            index += 1
    return tags


def _conll_block(row: dict[str, Any]) -> str:
    lines = [f"# task_id = {row['task_id']}"]
    if row.get("external_id"):
        lines.append(f"# external_id = {_one_line(str(row['external_id']))}")
    result = row.get("result")
    spans = result.get("spans") if isinstance(result, dict) else None
    if not isinstance(spans, list):
        lines.append("# result = none")
        spans = []
    tokens = tokenize((row.get("data") or {}).get("text") or "")
    for (token, _, _), tag in zip(tokens, bio_tags(tokens, spans), strict=True):
        lines.append(f"{token} {tag}")
    return "\n".join(lines) + "\n\n"


def _one_line(value: str) -> str:
    return " ".join(value.split())


def write_conll(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Yield NER rows as CoNLL: `token TAG` lines with BIO tags, one block per task."""
    return _buffered(_conll_block(row) for row in rows)


class ExportFormat(NamedTuple):
    extension: str
    content_type: str
    writer: Callable[[Iterable[dict[str, Any]]], Iterator[bytes]]


FORMATS: dict[str, ExportFormat] = {
    "jsonl": ExportFormat("jsonl", "application/x-ndjson; charset=utf-8", write_jsonl),
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", write_csv),
    "conll": ExportFormat("conll", "text/plain; charset=utf-8", write_conll),
}
