"""Dataset parsing: JSONL, CSV and JSON arrays to task records, line numbers of bad lines, memory."""

import io
import json
import pickle
import tracemalloc

import pytest

from labeling.parsers.reading import iter_records
from labeling.parsers.records import MAX_RECORD_BYTES, ParseError, normalise_record


def parse(content: bytes, file_format: str) -> list[tuple[int, object]]:
    return list(iter_records(io.BytesIO(content), file_format))


def errors_of(results: list[tuple[int, object]]) -> list[tuple[int, str, str]]:
    return [(r.line, r.field, r.message) for _, r in results if isinstance(r, ParseError)]


def records_of(results: list[tuple[int, object]]) -> list[tuple[int, object]]:
    return [(line, r) for line, r in results if not isinstance(r, ParseError)]


class TrickleStream:
    """A binary stream that hands out at most `step` bytes per read, to cut records anywhere."""

    def __init__(self, content: bytes, step: int) -> None:
        self._content = content
        self._step = step
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        out = self._content[self._pos : self._pos + size]
        self._pos += len(out)
        return out


class GeneratedTasks:
    """`total` bytes of tasks (JSONL or a JSON array), made as they are read: no file behind it.

    read() without a size hands out everything, so a parser that reads it all shows in memory.
    """

    FILLER = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 70

    def __init__(self, total: int, file_format: str) -> None:
        self.total = total
        self.file_format = file_format
        self.produced = 0
        self.tasks = 0
        self._pending = b"[\n" if file_format == "json" else b""
        self._finished = False

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = self.total
        parts = [self._pending]
        held = len(self._pending)
        while held < size and not self._finished:
            if self.produced + held >= self.total:
                self._finished = True
                if self.file_format == "json":
                    parts.append(b"\n]\n")
                    held += 3
                break
            self.tasks += 1
            task = b'{"external_id": "t-%d", "text": "%s"}' % (self.tasks, self.FILLER)
            if self.file_format == "json":
                task = (b",\n" if self.tasks > 1 else b"") + task
            else:
                task += b"\n"
            parts.append(task)
            held += len(task)
        data = b"".join(parts)
        out, self._pending = data[:size], data[size:]
        self.produced += len(out)
        return out


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_yields_one_record_per_line_with_its_line_number():
    content = b'{"text": "first"}\n{"text": "second", "external_id": "b-2", "priority": 3}\n'

    results = parse(content, "jsonl")

    assert results == [
        (
            1,
            {
                "external_id": None,
                "data": {"text": "first"},
                "meta": {},
                "pre_annotation": None,
                "priority": None,
                "gold": None,
            },
        ),
        (
            2,
            {
                "external_id": "b-2",
                "data": {"text": "second"},
                "meta": {},
                "pre_annotation": None,
                "priority": 3,
                "gold": None,
            },
        ),
    ]


def test_jsonl_skips_blank_lines_but_keeps_physical_line_numbers():
    content = b'\n{"text": "a"}\n   \n\r\n{"text": "b"}'

    results = parse(content, "jsonl")

    assert [line for line, _ in results] == [2, 5]


def test_jsonl_reports_each_bad_line_and_goes_on():
    content = b"\n".join(
        [
            b'{"text": "ok"}',
            b'{"text": "no end"',
            b'["not", "an", "object"]',
            b'{"text": "bad byte \xff"}',
            b'{"text": "x", "external_id": ["a"]}',
            b'{"text": "x", "meta": "not an object"}',
            b'{"text": "x", "external_id": "' + b"z" * 201 + b'"}',
            b'{"text": "x", "data": "not an object"}',
            b'{"text": "x", "priority": NaN}',
            b'{"text": "still read"}',
        ]
    )

    results = parse(content, "jsonl")

    assert [(line, field) for line, field, _ in errors_of(results)] == [
        (2, ""),
        (3, ""),
        (4, ""),
        (5, "external_id"),
        (6, "meta"),
        (7, "external_id"),
        (8, "data"),
        (9, ""),
    ]
    assert [line for line, _ in records_of(results)] == [1, 10]


def test_jsonl_error_messages_say_what_is_wrong():
    content = b'{"text": "x",}\n{"text": "\xff"}\n{"text": "x", "external_id": {"a": 1}}\n'

    messages = [message for _, _, message in errors_of(parse(content, "jsonl"))]

    assert messages[0].startswith("Not valid JSON: ")
    assert messages[1] == "The text is not valid UTF-8."
    assert messages[2] == "The external_id must be a string or a number."


def test_jsonl_turns_a_numeric_external_id_into_a_string():
    content = b'{"text": "x", "external_id": 42}\n{"text": "y", "external_id": 4.5}\n'

    results = parse(content, "jsonl")

    assert [r["external_id"] for _, r in results] == ["42", "4.5"]


def test_jsonl_boolean_external_id_is_refused():
    results = parse(b'{"text": "x", "external_id": true}\n', "jsonl")

    assert errors_of(results) == [
        (1, "external_id", "The external_id must be a string or a number.")
    ]


def test_jsonl_uses_data_as_given_or_builds_it_from_top_level_keys():
    content = (
        b'{"data": {"text": "inside", "lang": "pt"}}\n'
        b'{"image": "https://img.example/1.png", "width": 640, "height": 480}\n'
    )

    results = parse(content, "jsonl")

    assert results[0][1]["data"] == {"text": "inside", "lang": "pt"}
    assert results[1][1]["data"] == {
        "image": "https://img.example/1.png",
        "width": 640,
        "height": 480,
    }


def test_jsonl_keeps_raw_values_for_validation_elsewhere():
    content = b'{"text": "x", "width": "wide", "priority": "high", "pre_annotation": [1, 2]}\n'

    (_, record), *_ = parse(content, "jsonl")

    assert record["data"] == {"text": "x", "width": "wide"}
    assert record["priority"] == "high"
    assert record["pre_annotation"] == [1, 2]


def test_jsonl_unknown_top_level_keys_go_into_meta():
    content = b'{"text": "x", "source": "crawl", "meta": {"batch": 7}}\n'

    (_, record), *_ = parse(content, "jsonl")

    assert record["meta"] == {"batch": 7, "source": "crawl"}


def test_jsonl_key_both_in_meta_and_top_level_is_an_error():
    content = b'{"text": "x", "source": "crawl", "meta": {"source": "other"}}\n'

    assert [(line, field) for line, field, _ in errors_of(parse(content, "jsonl"))] == [(1, "meta")]


def test_jsonl_text_both_in_data_and_top_level_is_an_error():
    content = b'{"text": "x", "data": {"text": "y"}}\n'

    assert [(line, field) for line, field, _ in errors_of(parse(content, "jsonl"))] == [(1, "data")]


def test_jsonl_ignores_a_byte_order_mark():
    content = b'\xef\xbb\xbf{"text": "x"}\n'

    results = parse(content, "jsonl")

    assert results[0] == (
        1,
        {
            "external_id": None,
            "data": {"text": "x"},
            "meta": {},
            "pre_annotation": None,
            "priority": None,
            "gold": None,
        },
    )


def test_jsonl_lines_cut_across_reads_are_reassembled():
    content = '{"text": "ção 🙂"}\n{"text": "b"}\n'.encode()

    results = list(iter_records(TrickleStream(content, step=3), "jsonl"))

    assert [(line, r["data"]["text"]) for line, r in results] == [(1, "ção 🙂"), (2, "b")]


def test_jsonl_line_longer_than_the_limit_is_an_error_and_the_next_line_is_read():
    content = b'{"text": "' + b"x" * (MAX_RECORD_BYTES + 10) + b'"}\n{"text": "after"}\n'

    results = parse(content, "jsonl")

    assert [(line, field) for line, field, _ in errors_of(results)] == [(1, "")]
    assert [(line, r["data"]["text"]) for line, r in records_of(results)] == [(2, "after")]


# --- CSV ------------------------------------------------------------------------------------


def test_csv_maps_known_columns_to_task_fields():
    content = (
        b"external_id,text,image,width,height,priority,pre_annotation,meta\n"
        b'a-1,hello,https://img.example/1.png,640,480,5,"{""label"": ""pos""}","{""batch"": 2}"\n'
    )

    results = parse(content, "csv")

    assert results == [
        (
            2,
            {
                "external_id": "a-1",
                "data": {
                    "text": "hello",
                    "image": "https://img.example/1.png",
                    "width": 640,
                    "height": 480,
                },
                "meta": {"batch": 2},
                "pre_annotation": {"label": "pos"},
                "priority": 5,
                "gold": None,
            },
        )
    ]


def test_csv_other_columns_go_into_meta_as_strings():
    content = b"text,source,score\nhello,crawl,0.9\n"

    (_, record), *_ = parse(content, "csv")

    assert record["meta"] == {"source": "crawl", "score": "0.9"}


def test_csv_omits_empty_cells():
    content = b"external_id,text,width,source,priority\n,hello,,,\n"

    (_, record), *_ = parse(content, "csv")

    assert record == {
        "external_id": None,
        "data": {"text": "hello"},
        "meta": {},
        "pre_annotation": None,
        "priority": None,
        "gold": None,
    }


def test_csv_converts_whole_numbers_and_leaves_other_values_as_text():
    content = b"text,width,height,priority\nx,640.0,tall,-3\n"

    (_, record), *_ = parse(content, "csv")

    assert record["data"] == {"text": "x", "width": 640, "height": "tall"}
    assert record["priority"] == -3


def test_csv_line_numbers_count_the_header_and_quoted_newlines():
    content = b'text,source\n"line one\nline two\nline three",a\nsecond,b\n\n"x\r\ny",c\r\n'

    results = parse(content, "csv")

    assert [(line, r["data"]["text"]) for line, r in results] == [
        (2, "line one\nline two\nline three"),
        (5, "second"),
        (7, "x\r\ny"),
    ]


def test_csv_reports_bad_rows_with_their_first_line_and_goes_on():
    content = (
        b"external_id,text,meta,pre_annotation\n"
        b"1,ok,,\n"
        b'2,"two lines,\nthe second with a bad byte \xff",,\n'
        b'3,x,"[1, 2]",\n'
        b"4,x,,{broken\n"
        b"" + b"z" * 201 + b",x,,\n"
        b"6,x,,,surplus\n"
        b"7,still read,,\n"
    )

    results = parse(content, "csv")

    assert [(line, field) for line, field, _ in errors_of(results)] == [
        (3, ""),
        (5, "meta"),
        (6, "pre_annotation"),
        (7, "external_id"),
        (8, ""),
    ]
    assert [line for line, _ in records_of(results)] == [2, 9]


@pytest.mark.parametrize(
    ("row", "cells"), [(b"hello,crawl,,", "4 cells"), (b"hello", "1 cell"), (b",", None)]
)
def test_csv_row_with_another_number_of_cells_than_the_header_is_refused(row, cells):
    content = b"text,source\n" + row + b"\nfine,crawl\n"

    results = parse(content, "csv")

    if cells is None:  # ",": two empty cells, as many as the header names
        assert errors_of(results) == []
    else:
        assert errors_of(results) == [
            (2, "", f"The row has {cells} but the header names 2 columns.")
        ]
    assert [line for line, _ in records_of(results)][-1] == 3


@pytest.mark.parametrize(
    "content",
    [
        b'text,meta\n"hello,{}\nworld,{}\n',
        b'text,meta\n"hello,{}\nworld,{}',
        b'text,meta\nok,{}\nx,"{}\n',
        b'text\n"',
    ],
    ids=["rows-swallowed", "no-final-newline", "last-field", "lone-quote"],
)
def test_csv_quote_left_open_until_the_end_of_the_file_is_refused_on_its_line(content):
    results = parse(content, "csv")

    (line, field, message), *_ = errors_of(results)
    assert (field, "closing quote is missing" in message) == ("", True)
    assert line == content.count(b"\n", 0, content.rindex(b'"')) + 1
    assert all(r["meta"] == {} and "\n" not in r["data"]["text"] for _, r in records_of(results))


def test_csv_quote_left_open_that_swallows_rows_up_to_another_quote_names_its_first_line():
    content = b'text,meta\n"hello,{}\nworld,{"a": 1}\nafter,{}\n'

    results = parse(content, "csv")

    assert errors_of(results) == [
        (
            2,
            "",
            "Not valid CSV: the quoted field that starts on this line runs on to line 3, where "
            "text follows its closing quote; is a closing quote missing on this line?",
        )
    ]
    assert [line for line, _ in records_of(results)] == [4]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (b'5" screen,{}', 'a quote (") inside a field that does not start with one'),
        (b'"5" screen,{}', "the closing quote of a field must be followed by a comma"),
        (b'x,{"a": 1}', 'a quote (") inside a field that does not start with one'),
    ],
)
def test_csv_stray_quote_is_refused_with_its_line(row, message):
    content = b"text,meta\nok,{}\n" + row + b"\n"

    results = parse(content, "csv")

    [(line, field, text)] = errors_of(results)
    assert (line, field, message in text) == (3, "", True)
    assert [line for line, _ in records_of(results)] == [2]


def test_csv_quoted_fields_with_doubled_quotes_commas_and_newlines_are_read():
    content = b'text,meta\n"say ""hi"", then\nleave","{""a"": 1}"\r\n"",\n'

    results = parse(content, "csv")

    assert errors_of(results) == []
    assert [(line, r["data"], r["meta"]) for line, r in results] == [
        (2, {"text": 'say "hi", then\nleave'}, {"a": 1}),
        (4, {}, {}),
    ]


def test_csv_column_both_in_meta_json_and_on_its_own_is_an_error():
    content = b'text,source,meta\nx,crawl,"{""source"": ""api""}"\n'

    assert errors_of(parse(content, "csv")) == [
        (2, "meta", "'source' is given both in meta and as a field of its own.")
    ]


def test_csv_ignores_a_byte_order_mark_before_the_header():
    content = b"\xef\xbb\xbftext,external_id\nhello,e-1\n"

    (_, record), *_ = parse(content, "csv")

    assert record["external_id"] == "e-1"
    assert record["data"] == {"text": "hello"}


def test_csv_duplicate_header_column_stops_with_an_error_on_line_one():
    content = b"text,text\na,b\n"

    results = parse(content, "csv")

    assert errors_of(results) == [(1, "", "The column 'text' appears twice in the header.")]
    assert records_of(results) == []


def test_csv_header_that_is_not_utf8_stops_with_an_error_on_line_one():
    results = parse(b"text,s\xe9rie\nhello,1\n", "csv")

    assert errors_of(results) == [(1, "", "The text is not valid UTF-8.")]
    assert records_of(results) == []


def test_csv_empty_file_has_no_records():
    assert parse(b"", "csv") == []
    assert parse(b"text,source\n", "csv") == []


def test_csv_records_cut_across_reads_are_reassembled():
    content = 'text,source\n"multi\nline ção",a\nb,c\n'.encode()

    results = list(iter_records(TrickleStream(content, step=2), "csv"))

    assert [(line, r["data"]["text"]) for line, r in results] == [
        (2, "multi\nline ção"),
        (4, "b"),
    ]


# --- JSON array -----------------------------------------------------------------------------


def test_json_array_elements_carry_the_line_where_they_start():
    content = b'[\n  {"text": "a"},\n  {\n    "text": "b"\n  }, {"text": "c"}\n]\n'

    results = parse(content, "json")

    assert [(line, r["data"]["text"]) for line, r in results] == [(2, "a"), (3, "b"), (5, "c")]


def test_json_array_reports_bad_elements_and_goes_on():
    content = (
        b"[\n"
        b'  {"text": "ok"},\n'
        b"  42,\n"
        b'  {"text": "bad byte \xff"},\n'
        b'  {"text": "x", "meta": [1]},\n'
        b'  {"text": "x",, "oops": 1},\n'
        b'  {"text": "brackets ] and } and \\" in a string"}\n'
        b"]"
    )

    results = parse(content, "json")

    assert [(line, field) for line, field, _ in errors_of(results)] == [
        (3, ""),
        (4, ""),
        (5, "meta"),
        (6, ""),
    ]
    assert [(line, r["data"]["text"]) for line, r in records_of(results)] == [
        (2, "ok"),
        (7, 'brackets ] and } and " in a string'),
    ]


def test_json_array_element_that_is_not_an_object_is_named():
    results = parse(b'[{"text": "a"}, "just a string"]', "json")

    assert errors_of(results) == [(1, "", "Each task must be a JSON object.")]


def test_json_file_that_is_not_an_array_is_one_error():
    results = parse(b'\n{"text": "a"}\n', "json")

    assert [(line, field) for line, field, _ in errors_of(results)] == [(2, "")]
    assert records_of(results) == []


def test_json_array_cut_short_is_an_error_after_the_complete_elements():
    results = parse(b'[{"text": "a"},\n{"text": "b"', "json")

    assert [line for line, _ in records_of(results)] == [1]
    assert errors_of(results) == [
        (2, "", "The file ends inside the task that starts on this line.")
    ]


def test_json_array_with_text_after_it_is_an_error():
    results = parse(b'[{"text": "a"}]\n\n[]', "json")

    assert errors_of(results) == [(3, "", "There is more text after the closing ] of the array.")]


def test_json_empty_array_and_empty_file_have_no_records():
    assert parse(b"[]", "json") == []
    assert parse(b"  \n", "json") == []


def test_json_array_with_byte_order_mark_is_read():
    results = parse(b'\xef\xbb\xbf[{"text": "a"}]', "json")

    assert [line for line, _ in records_of(results)] == [1]


@pytest.mark.parametrize("step", [1, 2, 7, 64])
def test_json_array_elements_cut_across_reads_are_reassembled(step):
    elements = [
        {"text": "première ligne 🙂", "external_id": 1, "priority": 10},
        {"data": {"text": 'escaped \\" quote and [brackets]'}, "meta": {"k": [1, {"a": None}]}},
        {"text": "last", "pre_annotation": {"label": "x"}},
    ]
    content = (
        "[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in elements) + "\n]"
    ).encode()

    results = list(iter_records(TrickleStream(content, step=step), "json"))

    assert [line for line, _ in results] == [2, 3, 4]
    assert errors_of(results) == []
    assert results[1][1]["data"] == {"text": 'escaped \\" quote and [brackets]'}
    assert results[0][1]["external_id"] == "1"


def test_json_array_numbers_cut_by_a_read_are_not_misread():
    content = b'[{"text": "a", "priority": 12345}, 67890]'

    results = list(iter_records(TrickleStream(content, step=5), "json"))

    assert results[0][1]["priority"] == 12345
    assert errors_of(results) == [(1, "", "Each task must be a JSON object.")]


# --- Formats, errors ------------------------------------------------------------------------


def test_unknown_format_names_the_supported_ones():
    with pytest.raises(ValueError, match="jsonl, csv, json"):
        iter_records(io.BytesIO(b""), "xml")


def test_parse_error_survives_pickling_with_its_fields():
    error = ParseError(3, "meta", "The meta must be a JSON object.")

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes, not untrusted input

    assert (copy.line, copy.field, copy.message) == (3, "meta", "The meta must be a JSON object.")


def test_normalise_record_maps_one_decoded_object():
    line, record = normalise_record({"text": "x", "external_id": 7}, line=4)

    assert line == 4
    assert record == {
        "external_id": "7",
        "data": {"text": "x"},
        "meta": {},
        "pre_annotation": None,
        "priority": None,
        "gold": None,
    }


def test_normalise_record_returns_the_error_for_a_bad_object():
    line, error = normalise_record("text", line=2)

    assert isinstance(error, ParseError)
    assert (line, error.line, error.field) == (2, 2, "")


# --- Memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_50_mb_file_is_streamed_in_bounded_memory(file_format):
    source = GeneratedTasks(total=50 * 1024 * 1024, file_format=file_format)
    tracemalloc.start()

    try:
        count = 0
        for _, record in iter_records(source, file_format):
            assert not isinstance(record, ParseError), record
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert source.produced >= 50 * 1024 * 1024
    assert count == source.tasks
    assert peak < 3 * 1024 * 1024


def test_csv_gold_column_holds_the_hidden_answer_as_json():
    content = b'text,gold\nhello,"{""label"": ""pos""}"\n'

    (_, record), *_ = parse(content, "csv")

    assert record["gold"] == {"label": "pos"}
    assert "gold" not in record["meta"]
