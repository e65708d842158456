"""Template filter of journey states: `{{ event.to_status|status_label }}` reads "Terms accepted",
not "terms_accepted" (the labels' one place is `workforce.selectors.onboarding_steps`)."""

from __future__ import annotations

from django import template

from workforce.selectors.onboarding_steps import status_label as _status_label

register = template.Library()


@register.filter
def status_label(status: str | None) -> str:
    """A journey state's name for people; empty for no state."""
    return _status_label(status) if status else ""
