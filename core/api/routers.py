"""The API's router: a viewset's id in its URLs is an `id` path segment (see core.converters)."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    """DRF's SimpleRouter with path converters; a viewset's lookup is an `id` unless it sets
    `lookup_value_converter` (e.g. "slug"). Extra actions write their `url_path` as a path
    (`skills/<slug:slug>`), not a regular expression."""

    def __init__(self, trailing_slash: bool = True) -> None:
        super().__init__(trailing_slash=trailing_slash, use_regex_path=False)
        self._default_value_pattern = "id"
