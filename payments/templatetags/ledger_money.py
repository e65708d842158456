"""Template filters that show integer money amounts exactly (no float ever reaches a template)."""

from __future__ import annotations

from django import template

from kit.money import Micros, format_micros

register = template.Library()


@register.filter
def micros(amount: int, currency: str) -> str:
    """`{{ entry.amount_micros|micros:account.currency }}` -> "0.0035 USD"."""
    return format_micros(Micros(int(amount), currency))
