"""Query-string filters of the API: dates and times through `core.timestamps`, ids bounded.

Every filter set of the API derives from `FilterSet` (a test checks it); filters declared by
hand use `TimestampFilter` and `IdFilter` instead of django-filter's date-time and number
filters, which hand the database offsets and numbers it refuses.
"""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework.filterset import FILTER_FOR_DBFIELD_DEFAULTS

from core.converters import MAX_ID
from core.timestamps import TIMESTAMP_HELP, TimestampInvalid, parse_timestamp


class TimestampFormField(forms.Field):
    """An ISO 8601 date or time, returned as an aware UTC datetime (see `parse_timestamp`)."""

    default_error_messages = {"invalid": TIMESTAMP_HELP}

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        try:
            return parse_timestamp(value)
        except TimestampInvalid as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class TimestampFilter(django_filters.Filter):
    """Filter by a date or time; the only date-time filter the API uses."""

    field_class = TimestampFormField


class IdFormField(forms.IntegerField):
    """A database id (1 to 2**63 - 1): a larger number is refused, not sent to the database."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(django_filters.NumberFilter):
    """Filter by the id of a related row (e.g. `?project=12`)."""

    field_class = IdFormField


_FILTER_DEFAULTS = deepcopy(FILTER_FOR_DBFIELD_DEFAULTS)
_FILTER_DEFAULTS[models.DateTimeField] = {"filter_class": TimestampFilter}
for _id_field in (models.AutoField, models.BigAutoField):
    _FILTER_DEFAULTS[_id_field] = {"filter_class": IdFilter}


class FilterSet(django_filters.rest_framework.FilterSet):
    """The base of every API filter set: date-time fields of the model filter strictly."""

    FILTER_DEFAULTS = _FILTER_DEFAULTS


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose filter sets made from `filterset_fields` use `FilterSet`."""

    filterset_base = FilterSet
