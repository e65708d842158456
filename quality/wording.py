"""Say quality rules, and what their actions did, in words: for the portal pages and for the
evidence other apps show (payments' holds of discarded work). Pure functions of the models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quality.models import QualityRule, RuleMetric


def _number(value: float) -> str:
    return f"{value:g}"


def rule_condition(rule: QualityRule | dict[str, Any]) -> str:
    """Say a rule's condition in words, e.g. “Gold accuracy < 0.6 over the last 20 items (10+)”."""

    def get(name: str) -> Any:
        return rule.get(name) if isinstance(rule, dict) else getattr(rule, name)

    metric = get("metric")
    label = RuleMetric(metric).label if metric in RuleMetric.values else str(metric)
    symbol = {"lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}.get(get("comparator"), "?")
    if metric == RuleMetric.SUBMISSIONS_24H:
        window = "in the last 24 hours"
    elif get("window_kind") == "days":
        window = f"over the last {get('window_size')} days"
    else:
        window = f"over the last {get('window_size')} items"
    fast = f" (answers under {get('fast_answer_seconds')} s)" if get("fast_answer_seconds") else ""
    return (
        f"{label}{fast} {symbol} {_number(get('threshold'))} {window}, "
        f"once at least {get('min_sample')} are seen"
    )


def rule_consequence(rule: QualityRule) -> str:
    """Say what a rule does, e.g. “Suspend from the project for 24 h”."""
    what = rule.get_action_display()
    if rule.gold_rate is not None:
        what += f" to {_number(rule.gold_rate)}"
    duration = f"for {rule.duration_hours} h" if rule.duration_hours else "until lifted"
    return f"{what}, {duration}" if rule.action != "notify" else what


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M") if value else ""


def effect_text(entry: dict[str, Any]) -> str:
    """Say one effect an action took, and what it was before, in words."""
    effect: Any = entry.get("effect")
    before: Any = entry.get("before")
    value: Any = entry.get("set")
    where = f" in project #{entry.get('project')}" if entry.get("project") else ""
    if effect == "gold_rate_override":
        was = _number(before) if before is not None else "the project's rate"
        return f"Gold rate{where} set to {_number(value)} (was {was})"
    if effect == "needs_retraining":
        return f"Retraining required{where} (was {'required' if before else 'not required'})"
    if effect == "suspension":
        until = _when(value.get("suspended_until")) if value else ""
        was = "suspended" if before and before.get("is_suspended") else "not suspended"
        return f"Suspended{where} {f'until {until} UTC' if until else 'until lifted'} (was {was})"
    if effect == "status":
        return f"Account status set to {value} (was {before})"
    if effect == "skill":
        skill = f"skill #{entry.get('skill')}"
        if before is None:
            return f"No level in {skill} to remove"
        return f"Level {before} in {skill} removed"
    return str(entry)
