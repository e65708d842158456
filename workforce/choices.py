"""Choices offered to annotators: time zones (standard library) and languages (ISO 639-1)."""

from __future__ import annotations

import zoneinfo
from functools import cache

import pycountry


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    )
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in names)]


@cache
def language_choices() -> list[tuple[str, str]]:
    """ISO 639-1 languages (two-letter codes), by name."""
    pairs = {(lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")}
    return sorted(pairs, key=lambda pair: pair[1])


def is_time_zone(name: str) -> bool:
    return name in dict(time_zone_choices())


def is_language(code: str) -> bool:
    return code in dict(language_choices())
