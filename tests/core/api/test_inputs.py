"""Every way into the API reads ids, dates and JSON through the one strict reader of each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import django_filters
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.settings import api_settings

from core.api.filters import FilterBackend, IdFilter, TimestampFilter
from core.api.parsers import JsonInvalid, JSONParser, json_loads
from core.converters import IdConverter
from core.timestamps import TimestampInvalid, parse_timestamp

# Third-party URLconfs: their ids are not ours to read.
_FOREIGN = ("django-admin/", "accounts/")


def _patterns(
    resolvers: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, URLPattern | URLResolver]]:
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        if route.startswith(_FOREIGN):
            continue
        yield route, entry
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, route)


def _is_id(name: str) -> bool:
    return name in {"pk", "id"} or name.endswith("_id")


def test_every_id_in_a_url_is_read_by_the_id_converter():
    loose = []
    for route, entry in _patterns(get_resolver().url_patterns):
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            loose += [
                f"{route} ({name})"
                for name, converter in pattern.converters.items()
                if _is_id(name) and not isinstance(converter, IdConverter)
            ]
        elif isinstance(pattern, RegexPattern):
            loose += [f"{route} ({name})" for name in pattern.regex.groupindex if _is_id(name)]

    assert loose == []


def _api_views() -> Iterator[type]:
    for _route, entry in _patterns(get_resolver().url_patterns):
        if isinstance(entry, URLPattern) and str(entry.pattern).startswith("api/"):
            view = getattr(entry.callback, "cls", None)
            if view is not None:
                yield view


def test_every_api_filter_reads_dates_and_ids_strictly():
    loose = []
    for view_class in set(_api_views()):
        if not (
            getattr(view_class, "filterset_class", None)
            or getattr(view_class, "filterset_fields", None)
        ):
            continue
        view = view_class()
        view.swagger_fake_view = True  # get_queryset without a request, as the schema does
        view.request = None
        view.action = "list"
        view.kwargs = {}
        queryset = view_class.queryset
        if queryset is None:
            queryset = view.get_queryset()
        filterset = FilterBackend().get_filterset_class(view, queryset)
        for name, declared in filterset.base_filters.items():
            if isinstance(
                declared, django_filters.IsoDateTimeFilter | django_filters.DateTimeFilter
            ):
                loose.append(f"{view_class.__name__}.{name}")
            if (
                isinstance(declared, django_filters.NumberFilter)
                and not isinstance(declared, IdFilter)
                and _is_id(declared.field_name)
            ):
                loose.append(f"{view_class.__name__}.{name}")
            if declared.field_name in {"created_at", "occurred_at", "revoked_at"}:
                assert isinstance(declared, TimestampFilter), f"{view_class.__name__}.{name}"

    assert loose == []


def test_the_api_reads_json_with_the_strict_parser():
    assert api_settings.DEFAULT_PARSER_CLASSES[0] is JSONParser
    for view_class in set(_api_views()):
        for parser in getattr(view_class, "parser_classes", []):
            if parser.media_type == "application/json":
                assert issubclass(parser, JSONParser), view_class.__name__


def test_the_hot_path_reads_json_with_the_same_function():
    from labeling.api import hotpath

    assert hotpath.json_loads is json_loads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=UTC)),
        ("2025-01-31T12:00:00", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T12:00:00Z", datetime(2025, 1, 31, 12, tzinfo=UTC)),
        ("2025-01-31T12:00:00+14:00", datetime(2025, 1, 30, 22, tzinfo=UTC)),
        ("2025-01-31T12:00:00-12:00", datetime(2025, 2, 1, 0, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_returns_utc(text, expected):
    parsed = parse_timestamp(text)

    assert parsed == expected
    assert parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2025-02-30",
        "2025-01-31T25:00:00",
        "2025-01-31T12:00:00+14:01",
        "2025-01-31T12:00:00+16:00",
        "2025-01-31T12:00:00-12:30",
        "9999-12-31T23:00:00-10:00",
        "",
    ],
)
def test_parse_timestamp_refuses_what_no_database_stores(text):
    with pytest.raises(TimestampInvalid):
        parse_timestamp(text)


@pytest.mark.parametrize("body", ["NaN", "[Infinity]", '{"a": -Infinity}', "[" * 65 + "]" * 65])
def test_json_loads_refuses_non_finite_numbers_and_deep_nesting(body):
    with pytest.raises(JsonInvalid):
        json_loads(body)


def test_json_loads_reads_ordinary_json():
    assert json_loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
