"""Template filters of payout runs: whole minor units shown exactly, counts looked up by key."""

from __future__ import annotations

from typing import Any

from django import template

from kit.money import Minor, format_minor

register = template.Library()


@register.filter
def minor(amount: int, currency: str) -> str:
    """`{{ item.amount_minor|minor:run.currency }}` -> "12.34 USD"."""
    return format_minor(Minor(int(amount), currency))


@register.filter
def get_count(counts: dict[str, Any], key: str) -> int:
    return int(counts.get(key, 0))
