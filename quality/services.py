"""Quality rules: write them, evaluate them (after each scored event and by a sweep), act, restore.

A rule measures a person's recent record (the pure `quality.rules` module computes the metric
and the condition from plain items this module loads) and, when the condition holds, takes one
`RuleAction` with its evidence. An action records each effect it had as {"effect", "project",
"skill", "before", "set"}. While several actions hold the same effect (say two rules raised the
same gold rate), the value in force is what they set together, and "before" is the value from
before any of them; when the last one ends, "before" comes back. A value a person changed by hand
in the meantime is left alone. Once a rule has acted on a person it judges only what happened
after: an action that ended (expired, lifted, reversed) is not taken again on the same evidence.

Lock order: the person's WorkerProjectState rows (by pk; the queue's per-person claim lock), the
rule action, then (through the queue and workforce services) leases, slots, tasks, the annotator
profile and skill levels. Every write records an audit event in its transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models import Window as WindowExpression
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record, snapshot
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from labeling.models import (
    Annotation,
    GoldScore,
    Lease,
    LeaseState,
    Project,
    Review,
    Verdict,
    WorkerProjectState,
)
from labeling.services.consensus import consensus_work_discount
from labeling.services.queue import leases_release_for_person
from labeling.services.standing import (
    worker_state_lock_existing,
    worker_state_standing_set,
    worker_states_lock,
    worker_states_lock_in,
)
from quality import rules as metrics
from quality.models import (
    IN_EFFECT_STATES,
    Appeal,
    AppealStatus,
    QualityRule,
    RuleAction,
    RuleActionKind,
    RuleActionState,
    RuleComparator,
    RuleMetric,
    RuleWindow,
)
from quality.selectors import can_manage_quality
from workforce.models import WORKING_STATUSES, AnnotatorProfile, AnnotatorStatus, Skill, SkillLevel
from workforce.services import annotator_status_set, skill_level_grant, skill_level_revoke

# Suspensions for these metrics mean the person's work is not to be trusted: their unreviewed
# consensus work is discounted. A skip streak says nothing about the work itself.
DISCOUNTING_METRICS = frozenset(
    {
        RuleMetric.GOLD_ACCURACY,
        RuleMetric.REVIEW_PASS_RATE,
        RuleMetric.AGREEMENT,
        RuleMetric.FAST_ANSWER_RATE,
        RuleMetric.SUBMISSIONS_24H,
    }
)
SUSPENSIONS = frozenset({RuleActionKind.SUSPEND_PROJECT, RuleActionKind.SUSPEND_EVERYWHERE})
RATE_METRICS = frozenset(
    {
        RuleMetric.GOLD_ACCURACY,
        RuleMetric.REVIEW_PASS_RATE,
        RuleMetric.AGREEMENT,
        RuleMetric.FAST_ANSWER_RATE,
    }
)
# The sweep looks at people who did something, or whose work was judged, this recently.
SWEEP_LOOKBACK = timedelta(hours=24)
SWEEP_BATCH = 500
MAX_WINDOW_ITEMS = 10_000
MAX_WINDOW_DAYS = 366
MAX_DURATION_HOURS = 24 * 366
MAX_TEXT = 5_000

RULE_FIELDS = [
    "project",
    "name",
    "description",
    "metric",
    "window_kind",
    "window_size",
    "min_sample",
    "comparator",
    "threshold",
    "fast_answer_seconds",
    "action",
    "gold_rate",
    "duration_hours",
    "is_active",
]
# The rule as it acted is evidence; these fields say nothing about why it acted.
_NOT_EVIDENCE = ("project", "description", "is_active")
_ACTION_FIELDS = ["state", "expires_at", "ended_at", "ended_by", "end_note"]

# Effects an action can hold, and how the values set by several actions holding one combine.
EFFECT_GOLD_RATE = "gold_rate_override"
EFFECT_RETRAINING = "needs_retraining"
EFFECT_SUSPENSION = "suspension"
EFFECT_STATUS = "status"
EFFECT_SKILL = "skill"
_STATE_EFFECTS = {
    RuleActionKind.RAISE_GOLD_RATE: EFFECT_GOLD_RATE,
    RuleActionKind.REQUIRE_RETRAINING: EFFECT_RETRAINING,
    RuleActionKind.SUSPEND_PROJECT: EFFECT_SUSPENSION,
}

EffectKey = tuple[str, int | None, int | None]  # (effect, project id, skill id)


class RuleHit(NamedTuple):
    """One person in a dry run: their value, how many items it rests on, and whether the rule fires."""

    person: User
    value: float | None
    sample: int
    would_fire: bool


@dataclass
class SweepOutcome:
    expired: int = 0
    people: int = 0
    actions: list[RuleAction] = field(default_factory=list)


# --- Rules ------------------------------------------------------------------------------------


def _require_manager(user: Any) -> None:
    if not can_manage_quality(user):
        raise PermissionDenied("Only managers and administrators manage quality rules.")


def _rule_validate(rule: QualityRule) -> None:
    """Raise ValidationFailed naming every field of `rule` that is wrong."""
    errors: dict[str, list[str]] = {}
    rule.name = (rule.name or "").strip()
    if not rule.name:
        errors["name"] = ["Give the rule a name."]
    elif len(rule.name) > 150:
        errors["name"] = ["At most 150 characters."]
    if rule.metric not in RuleMetric.values:
        errors["metric"] = [f"Choose one of: {', '.join(RuleMetric.values)}."]
    if rule.window_kind not in RuleWindow.values:
        errors["window_kind"] = ["Choose items (last N) or days (last D days)."]
    limit = MAX_WINDOW_DAYS if rule.window_kind == RuleWindow.DAYS else MAX_WINDOW_ITEMS
    if not isinstance(rule.window_size, int) or not 1 <= rule.window_size <= limit:
        errors["window_size"] = [f"From 1 to {limit}."]
    if not isinstance(rule.min_sample, int) or rule.min_sample < 1:
        errors["min_sample"] = ["At least 1."]
    if rule.comparator not in RuleComparator.values:
        errors["comparator"] = ["Choose lt, lte, gt or gte."]
    if rule.threshold is None:
        errors["threshold"] = ["Required."]
    elif rule.metric in RATE_METRICS and not 0 <= rule.threshold <= 1:
        errors["threshold"] = ["This metric is a share: from 0 to 1."]
    elif rule.threshold < 0:
        errors["threshold"] = ["At least 0."]
    if rule.metric == RuleMetric.FAST_ANSWER_RATE:
        if not rule.fast_answer_seconds or rule.fast_answer_seconds < 1:
            errors["fast_answer_seconds"] = ["Say below how many seconds an answer is fast."]
    else:
        rule.fast_answer_seconds = None
    if rule.action not in RuleActionKind.values:
        errors["action"] = [f"Choose one of: {', '.join(RuleActionKind.values)}."]
    if rule.action == RuleActionKind.RAISE_GOLD_RATE:
        if rule.gold_rate is None or not 0 < rule.gold_rate <= 1:
            errors["gold_rate"] = ["The person's gold share: more than 0, at most 1."]
    else:
        rule.gold_rate = None
    if rule.action == RuleActionKind.REMOVE_SKILL_LEVEL:
        if rule.project is None:
            errors["action"] = ["Only a project rule removes a skill level (the project's skill)."]
        elif rule.project.required_skill_id is None:
            errors["action"] = ["This project asks for no skill, so there is no level to remove."]
    if rule.duration_hours is not None and not 1 <= rule.duration_hours <= MAX_DURATION_HOURS:
        errors["duration_hours"] = [f"From 1 to {MAX_DURATION_HOURS} hours, or empty."]
    if len(rule.description or "") > MAX_TEXT:
        errors["description"] = [f"At most {MAX_TEXT} characters."]
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)


def rule_build(**values: Any) -> QualityRule:
    """Return an unsaved, validated rule (for a dry run before saving); raise ValidationFailed."""
    values.setdefault("description", "")
    rule = QualityRule(**values)
    _rule_validate(rule)
    return rule


@transaction.atomic
def rule_create(
    *,
    actor: User,
    name: str,
    metric: str,
    window_kind: str,
    window_size: int,
    min_sample: int,
    comparator: str,
    threshold: float,
    action: str,
    project: Project | None = None,
    description: str = "",
    fast_answer_seconds: int | None = None,
    gold_rate: float | None = None,
    duration_hours: int | None = None,
    is_active: bool = True,
) -> QualityRule:
    """Create a rule (global when `project` is None); raise PermissionDenied or ValidationFailed."""
    _require_manager(actor)
    now = timezone.now()
    rule = rule_build(
        project=project,
        name=name,
        description=description,
        metric=metric,
        window_kind=window_kind,
        window_size=window_size,
        min_sample=min_sample,
        comparator=comparator,
        threshold=threshold,
        fast_answer_seconds=fast_answer_seconds,
        action=action,
        gold_rate=gold_rate,
        duration_hours=duration_hours,
        is_active=is_active,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    rule.save()
    audit_record(
        actor=actor, action="quality_rule.created", target=rule, after=snapshot(rule, RULE_FIELDS)
    )
    return rule


@transaction.atomic
def rule_update(*, rule: QualityRule, actor: User, **changes: Any) -> QualityRule:
    """Change a rule's settings (not its project); actions already taken keep what they did."""
    _require_manager(actor)
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"{sorted(unknown)[0]}: Not a rule setting.",
            fields={name: ["Not a rule setting."] for name in sorted(unknown)},
        )
    locked = (
        QualityRule.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=rule.pk)
    )
    if "project" in changes and changes["project"] != locked.project:
        raise ValidationFailed(
            "project: A rule cannot move to another project; create a new rule.",
            fields={"project": ["Cannot change."]},
        )
    before = snapshot(locked, RULE_FIELDS)
    for name, value in changes.items():
        setattr(locked, name, value)
    _rule_validate(locked)
    after = snapshot(locked, RULE_FIELDS)
    if after == before:
        return locked
    locked.updated_at = timezone.now()
    locked.save()
    changed = [name for name in RULE_FIELDS if before[name] != after[name]]
    audit_record(
        actor=actor,
        action="quality_rule.updated",
        target=locked,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    return locked


@transaction.atomic
def rule_deactivate(*, rule: QualityRule, actor: User) -> QualityRule:
    """Stop evaluating a rule; the actions it took stay until they expire or are lifted."""
    _require_manager(actor)
    locked = QualityRule.objects.select_for_update().get(pk=rule.pk)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.updated_at = timezone.now()
    locked.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor,
        action="quality_rule.deactivated",
        target=locked,
        before={"is_active": True},
        after={"is_active": False},
    )
    return locked


# --- Measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where a metric's items come from: the rows, and which columns are person, id, time, value."""

    rows: QuerySet[Any]
    user: str
    ref: str
    at: str
    value: Any
    items: str  # what the item ids name


def _one_if(condition: Q) -> Case:
    return Case(When(condition, then=Value(1.0)), default=Value(0.0), output_field=FloatField())


def _source(metric: str) -> _Source:
    own_work = Annotation.objects.filter(corrects__isnull=True)  # not reviewers' corrections
    if metric == RuleMetric.GOLD_ACCURACY:
        return _Source(
            GoldScore.objects.all(),
            "user_id",
            "annotation_id",
            "scored_at",
            F("value"),
            "annotation",
        )
    if metric == RuleMetric.REVIEW_PASS_RATE:
        return _Source(
            Review.objects.filter(author__isnull=False),
            "author_id",
            "id",
            "created_at",
            _one_if(Q(verdict=Verdict.APPROVE)),
            "review",
        )
    if metric == RuleMetric.AGREEMENT:
        return _Source(
            own_work.filter(agreement__isnull=False),
            "author_id",
            "id",
            "submitted_at",
            F("agreement"),
            "annotation",
        )
    if metric == RuleMetric.FAST_ANSWER_RATE:
        return _Source(
            own_work, "author_id", "id", "submitted_at", F("active_seconds"), "annotation"
        )
    if metric == RuleMetric.SKIP_STREAK:
        # Only decisions count: a release or an expiry neither breaks nor extends a streak.
        return _Source(
            Lease.objects.filter(
                state__in=[LeaseState.SUBMITTED, LeaseState.SKIPPED], ended_at__isnull=False
            ),
            "user_id",
            "id",
            "ended_at",
            _one_if(Q(state=LeaseState.SKIPPED)),
            "lease",
        )
    if metric == RuleMetric.SUBMISSIONS_24H:
        return _Source(own_work, "author_id", "id", "submitted_at", Value(1.0), "annotation")
    raise ValueError(f"Unknown metric {metric!r}.")


def _window_of(rule: QualityRule) -> metrics.Window:
    if rule.metric == RuleMetric.SUBMISSIONS_24H:
        return metrics.Window(span=metrics.SUBMISSIONS_SPAN)
    return metrics.Window.of(rule.window_kind, rule.window_size)


def _items_by_user(
    rule: QualityRule, *, user_ids: Collection[int] | None, now: datetime
) -> dict[int, list[metrics.Item]]:
    """Load each person's items inside the rule's window with one query (in scope of its project)."""
    source = _source(rule.metric)
    rows = source.rows.filter(**{f"{source.at}__lte": now})
    if rule.project_id is not None:
        rows = rows.filter(project_id=rule.project_id)
    if user_ids is not None:
        rows = rows.filter(**{f"{source.user}__in": list(user_ids)})
    if rule.pk is not None:
        # Once the rule acted on a person it judges only what came after: an action that ended
        # (expired, lifted, reversed on appeal) is not taken again on the same evidence.
        last_action = RuleAction.objects.filter(rule_id=rule.pk, user_id=OuterRef(source.user))
        rows = rows.annotate(
            rule_acted_at=Subquery(last_action.order_by("-taken_at").values("taken_at")[:1])
        ).filter(Q(rule_acted_at__isnull=True) | Q(**{f"{source.at}__gt": F("rule_acted_at")}))
    window = _window_of(rule)
    if window.span is not None:
        rows = rows.filter(**{f"{source.at}__gte": now - window.span})
    else:
        rows = rows.annotate(
            rule_rank=WindowExpression(
                RowNumber(),
                partition_by=[F(source.user)],
                order_by=[F(source.at).desc(), F(source.ref).desc()],
            )
        ).filter(rule_rank__lte=window.items)
    found: dict[int, list[metrics.Item]] = defaultdict(list)
    values = rows.annotate(rule_value=source.value).values_list(
        source.user, source.ref, source.at, "rule_value"
    )
    for user_id, ref, at, value in values:
        found[user_id].append(metrics.Item(ref=ref, at=at, value=float(value)))
    return found


def _rule_measures(
    rule: QualityRule, *, user_ids: Collection[int] | None, now: datetime
) -> dict[int, metrics.Measure]:
    window = _window_of(rule)
    return {
        user_id: metrics.measure(
            rule.metric,
            items,
            window=window,
            now=now,
            fast_answer_seconds=rule.fast_answer_seconds,
        )
        for user_id, items in _items_by_user(rule, user_ids=user_ids, now=now).items()
    }


def _fires(rule: QualityRule, measure: metrics.Measure) -> bool:
    return metrics.condition_met(
        measure, comparator=rule.comparator, threshold=rule.threshold, min_sample=rule.min_sample
    )


def rule_dry_run(*, rule: QualityRule, now: datetime | None = None) -> list[RuleHit]:
    """Say whom `rule` would hit on the data as it is now, changing nothing.

    Works for a saved rule, active or not, and for an unsaved one from `rule_build`. Lists
    everyone with at least one item in scope: those it would hit first, then by email.
    """
    now = now or timezone.now()
    measures = _rule_measures(rule, user_ids=None, now=now)
    people = User.objects.in_bulk(list(measures))
    hits = [
        RuleHit(person=people[user_id], value=m.value, sample=m.sample, would_fire=_fires(rule, m))
        for user_id, m in measures.items()
        if user_id in people
    ]
    hits.sort(key=lambda hit: (not hit.would_fire, hit.person.email))
    return hits


# --- Effects: take and give back --------------------------------------------------------------


def _key(entry: dict[str, Any]) -> EffectKey:
    return (entry["effect"], entry.get("project"), entry.get("skill"))


def _combined(effect: str, values: list[Any]) -> Any:
    """The value in force while actions that set `values` all hold `effect`."""
    if effect == EFFECT_GOLD_RATE:
        return max(values)
    if effect == EFFECT_SUSPENSION:
        untils = [value["suspended_until"] for value in values]
        return {
            "is_suspended": True,
            "suspended_until": None if None in untils else max(untils),
        }
    return values[0]  # retraining: True; status: suspended; skill: no level


def _holders(user_id: int, *, exclude: int | None) -> dict[EffectKey, list[dict[str, Any]]]:
    """The effects the person's other actions in force hold, oldest action first."""
    held: dict[EffectKey, list[dict[str, Any]]] = defaultdict(list)
    actions = RuleAction.objects.filter(user_id=user_id, state__in=IN_EFFECT_STATES)
    if exclude is not None:
        actions = actions.exclude(pk=exclude)
    for taken in actions.order_by("taken_at", "pk").values_list("taken", flat=True):
        for entry in taken or []:
            held[_key(entry)].append(entry)
    return held


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state_value(state: WorkerProjectState, effect: str) -> Any:
    if effect == EFFECT_SUSPENSION:
        return {
            "is_suspended": state.is_suspended,
            "suspended_until": _iso(state.suspended_until),
        }
    return getattr(state, effect)


def _state_write(state: WorkerProjectState, effect: str, value: Any, now: datetime) -> None:
    if effect == EFFECT_SUSPENSION:
        until = value["suspended_until"]
        changes = {
            "is_suspended": value["is_suspended"],
            "suspended_until": datetime.fromisoformat(until) if until else None,
        }
    else:
        changes = {effect: value}
    worker_state_standing_set(state_id=state.pk, now=now, **changes)


def _same(effect: str, current: Any, expected: Any) -> bool:
    if effect == EFFECT_SUSPENSION:
        return bool(current["is_suspended"]) == bool(expected["is_suspended"]) and _instant(
            current["suspended_until"]
        ) == _instant(expected["suspended_until"])
    return bool(current == expected)


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _take(
    *,
    action: RuleAction,
    rule: QualityRule,
    user: User,
    states: list[WorkerProjectState],
    now: datetime,
) -> list[dict[str, Any]]:
    """Apply the action's effects to the person and return what was taken."""
    holders = _holders(user.pk, exclude=action.pk)
    taken: list[dict[str, Any]] = []

    def hold(key: EffectKey, current: Any, value: Any) -> Any:
        others = holders.get(key, [])
        before = others[0]["before"] if others else current
        taken.append(
            {"effect": key[0], "project": key[1], "skill": key[2], "before": before, "set": value}
        )
        return _combined(key[0], [entry["set"] for entry in others] + [value])

    effect = _STATE_EFFECTS.get(RuleActionKind(action.kind))
    if effect is not None:
        value: Any = {
            EFFECT_GOLD_RATE: rule.gold_rate,
            EFFECT_RETRAINING: True,
            EFFECT_SUSPENSION: {"is_suspended": True, "suspended_until": _iso(action.expires_at)},
        }[effect]
        for state in states:
            key = (effect, state.project_id, None)
            combined = hold(key, _state_value(state, effect), value)
            _state_write(state, effect, combined, now)
    elif action.kind == RuleActionKind.SUSPEND_EVERYWHERE:
        profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
        if profile is not None:
            hold((EFFECT_STATUS, None, None), profile.status, AnnotatorStatus.SUSPENDED.value)
            annotator_status_set(
                profile=profile,
                status=AnnotatorStatus.SUSPENDED,
                actor=None,
                reason=f"Quality rule “{rule.name}” (action {action.pk}).",
            )
    elif action.kind == RuleActionKind.REMOVE_SKILL_LEVEL and rule.project is not None:
        skill_id = rule.project.required_skill_id
        if skill_id is not None:
            level = (
                SkillLevel.objects.filter(user_id=user.pk, skill_id=skill_id)
                .values_list("level", flat=True)
                .first()
            )
            hold((EFFECT_SKILL, None, skill_id), level, None)
            if level is not None:
                skill_level_revoke(user=user, skill=Skill.objects.get(pk=skill_id), actor=None)
    return taken


def _give_back(*, action: RuleAction, actor: User | None, now: datetime) -> list[dict[str, Any]]:
    """Undo the action's effects where nobody changed them since; return what was restored."""
    holders = _holders(action.user_id, exclude=action.pk)
    restored: list[dict[str, Any]] = []
    user = User.objects.get(pk=action.user_id)
    for entry in action.taken or []:
        key = _key(entry)
        effect, project_id, skill_id = key
        others = holders.get(key, [])
        expected = _combined(effect, [other["set"] for other in others] + [entry["set"]])
        value = _combined(effect, [other["set"] for other in others]) if others else entry["before"]
        if effect in (EFFECT_GOLD_RATE, EFFECT_RETRAINING, EFFECT_SUSPENSION):
            if project_id is None:
                continue
            state = worker_state_lock_existing(user_id=action.user_id, project_id=project_id)
            if state is None or not _same(effect, _state_value(state, effect), expected):
                continue
            _state_write(state, effect, value, now)
        elif effect == EFFECT_STATUS:
            profile = AnnotatorProfile.objects.filter(user_id=action.user_id).first()
            if profile is None or profile.status != expected:
                continue
            annotator_status_set(
                profile=profile,
                status=value,
                actor=actor,
                reason=f"Quality rule action {action.pk} ended.",
            )
        elif effect == EFFECT_SKILL and skill_id is not None:
            held = SkillLevel.objects.filter(user_id=action.user_id, skill_id=skill_id).exists()
            if held or value is None:
                continue
            skill_level_grant(
                user=user, skill=Skill.objects.get(pk=skill_id), level=value, actor=actor
            )
        restored.append({**entry, "restored_to": value})
    return restored


# --- Firing -----------------------------------------------------------------------------------


def _evidence(rule: QualityRule) -> dict[str, Any]:
    return {
        "rule": {
            "id": rule.pk,
            "project": rule.project_id,
            **snapshot(rule, [f for f in RULE_FIELDS if f not in _NOT_EVIDENCE]),
        },
        "items": _source(rule.metric).items,
    }


def _rule_fire(
    *,
    rule: QualityRule,
    user_id: int,
    measure: metrics.Measure,
    now: datetime,
    event_project_id: int | None = None,
) -> RuleAction | None:
    """Take the rule's action on the person, unless an action of the rule is already in force."""
    with transaction.atomic():
        user = User.objects.get(pk=user_id)
        scope = rule.project_id
        states: list[WorkerProjectState] = []
        if rule.action in _STATE_EFFECTS:
            states = worker_states_lock(user_id=user_id, project_id=scope, also=event_project_id)
        expires_at = now + timedelta(hours=rule.duration_hours) if rule.duration_hours else None
        try:
            with transaction.atomic():
                action = RuleAction.objects.create(
                    rule=rule,
                    user_id=user_id,
                    project_id=rule.project_id,
                    kind=rule.action,
                    metric_value=measure.value if measure.value is not None else 0.0,
                    sample_size=measure.sample,
                    item_ids=list(measure.refs),
                    evidence=_evidence(rule),
                    taken_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:
            return None  # an action of this rule is already in force on them
        action.taken = _take(action=action, rule=rule, user=user, states=states, now=now)
        if action.kind in SUSPENSIONS:
            released = leases_release_for_person(user=user, project_id=scope, now=now)
            action.evidence["released_lease_ids"] = released
            if rule.metric in DISCOUNTING_METRICS:
                action.evidence["discounted_annotation_ids"] = consensus_work_discount(
                    user=user, project=rule.project, now=now
                )
        action.save(update_fields=["taken", "evidence"])
        audit_record(
            actor=None,
            action="rule_action.taken",
            target=action,
            after={
                "rule": rule.pk,
                "user": user_id,
                "kind": action.kind,
                "metric": rule.metric,
                "metric_value": action.metric_value,
                "sample_size": action.sample_size,
                "item_ids": action.item_ids,
                "expires_at": action.expires_at,
                "taken": action.taken,
                "discounted_annotation_ids": action.evidence.get("discounted_annotation_ids", []),
            },
        )
        return action


def _rules_in_force_for(user_id: int) -> set[int]:
    return set(
        RuleAction.objects.filter(user_id=user_id, state__in=IN_EFFECT_STATES).values_list(
            "rule_id", flat=True
        )
    )


def rules_evaluate(
    *, user: User, project: Project | None, now: datetime | None = None
) -> list[RuleAction]:
    """Evaluate the active rules of `project` and the global ones for `user`; return new actions.

    A rule whose action is in force on the person is skipped (no duplicate actions).
    """
    now = now or timezone.now()
    scope = Q(project__isnull=True)
    if project is not None:
        scope |= Q(project_id=project.pk)
    rules = list(
        QualityRule.objects.filter(scope, is_active=True).select_related("project").order_by("pk")
    )
    in_force = _rules_in_force_for(user.pk) if rules else set()
    taken = []
    for rule in rules:
        if rule.pk in in_force:
            continue
        measure = _rule_measures(rule, user_ids=[user.pk], now=now).get(user.pk)
        if measure is None or not _fires(rule, measure):
            continue
        action = _rule_fire(
            rule=rule,
            user_id=user.pk,
            measure=measure,
            now=now,
            event_project_id=project.pk if project is not None else None,
        )
        if action is not None:
            taken.append(action)
    return taken


def _recently_active(now: datetime) -> QuerySet[User]:
    """Working people who did something, or whose work was judged, since the lookback."""
    since = now - SWEEP_LOOKBACK
    person = OuterRef("pk")
    return (
        User.objects.filter(annotator_profile__status__in=WORKING_STATUSES)
        .filter(
            Exists(Annotation.objects.filter(author_id=person, submitted_at__gte=since))
            | Exists(Lease.objects.filter(user_id=person, claimed_at__gte=since))
            | Exists(GoldScore.objects.filter(user_id=person, scored_at__gte=since))
            | Exists(Review.objects.filter(author_id=person, created_at__gte=since))
            | Exists(Annotation.objects.filter(author_id=person, task__completed_at__gte=since))
        )
        .order_by("pk")
    )


def rules_sweep(*, now: datetime | None = None) -> SweepOutcome:
    """End timed actions that ran out (restoring what they took), then evaluate every active rule
    for every working person with recent activity, in batches."""
    now = now or timezone.now()
    outcome = SweepOutcome(expired=rule_actions_expire(now=now))
    people = list(_recently_active(now).values_list("pk", flat=True))
    outcome.people = len(people)
    rules = list(
        QualityRule.objects.filter(is_active=True).select_related("project").order_by("pk")
    )
    for start in range(0, len(people), SWEEP_BATCH):
        batch = people[start : start + SWEEP_BATCH]
        for rule in rules:
            in_force = set(
                RuleAction.objects.filter(
                    rule=rule, user_id__in=batch, state__in=IN_EFFECT_STATES
                ).values_list("user_id", flat=True)
            )
            for user_id, measure in _rule_measures(rule, user_ids=batch, now=now).items():
                if user_id in in_force or not _fires(rule, measure):
                    continue
                action = _rule_fire(rule=rule, user_id=user_id, measure=measure, now=now)
                if action is not None:
                    outcome.actions.append(action)
    return outcome


# --- Ending actions: expiry, lift, appeal -----------------------------------------------------


def _action_for_update(action_id: int) -> RuleAction:
    action = (
        RuleAction.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(pk=action_id)
        .first()
    )
    if action is None:
        raise NotFound("There is no such rule action.")
    return action


def _states_of_action_locked(action: RuleAction) -> None:
    """Take the person's state locks first (the queue's order) before the action's own lock."""
    projects = {entry.get("project") for entry in action.taken or []} - {None}
    worker_states_lock_in(user_id=action.user_id, project_ids=projects)


def _action_end(
    *, action: RuleAction, state: str, actor: User | None, note: str, now: datetime, audit: str
) -> RuleAction:
    before = snapshot(action, _ACTION_FIELDS)
    restored = _give_back(action=action, actor=actor, now=now)
    action.state = state
    action.ended_at = now
    action.ended_by = actor
    action.end_note = note
    action.save(update_fields=["state", "ended_at", "ended_by", "end_note"])
    audit_record(
        actor=actor,
        action=audit,
        target=action,
        before=before,
        after={**snapshot(action, _ACTION_FIELDS), "restored": restored},
    )
    return action


def rule_actions_expire(*, now: datetime | None = None) -> int:
    """End every timed action whose time ran out and restore what it took; return how many."""
    now = now or timezone.now()
    due = list(
        RuleAction.objects.filter(state__in=IN_EFFECT_STATES, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    ended = 0
    for action_id in due:
        with transaction.atomic():
            _states_of_action_locked(RuleAction.objects.get(pk=action_id))
            action = _action_for_update(action_id)
            if action.state not in IN_EFFECT_STATES or action.expires_at is None:
                continue
            if action.expires_at > now:
                continue
            _action_end(
                action=action,
                state=RuleActionState.EXPIRED,
                actor=None,
                note="",
                now=now,
                audit="rule_action.expired",
            )
            ended += 1
    return ended


def _clean_text(text: str, name: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise ValidationFailed(f"{name}: Required.", fields={name: ["Required."]})
    if len(text) > MAX_TEXT:
        message = f"At most {MAX_TEXT} characters."
        raise ValidationFailed(f"{name}: {message}", fields={name: [message]})
    return text


@transaction.atomic
def rule_action_lift(*, action: RuleAction, manager: User, note: str = "") -> RuleAction:
    """End an action in force now and restore what it took; a pending appeal of it is upheld.

    Raises PermissionDenied (not a manager) or Conflict `action_not_in_effect`.
    """
    _require_manager(manager)
    note = _clean_text(note, "note", required=False)
    now = timezone.now()
    _states_of_action_locked(action)
    locked = _action_for_update(action.pk)
    if locked.state not in IN_EFFECT_STATES:
        raise Conflict(
            f"This action is already {locked.get_state_display().lower()}.",
            code="action_not_in_effect",
            extra={"state": locked.state},
        )
    _action_end(
        action=locked,
        state=RuleActionState.REVERSED,
        actor=manager,
        note=note,
        now=now,
        audit="rule_action.lifted",
    )
    appeal = Appeal.objects.select_for_update().filter(action=locked).first()
    if appeal is not None and appeal.status == AppealStatus.PENDING:
        _appeal_close(
            appeal=appeal,
            manager=manager,
            status=AppealStatus.UPHELD,
            note=note or "The action was lifted.",
            now=now,
        )
    return locked


@transaction.atomic
def rule_action_appeal(*, action: RuleAction, user: User, reason: str) -> Appeal:
    """File the person's appeal against an action taken on them (once, while it is active).

    Raises NotFound (not their action), ValidationFailed (no reason), Conflict `appeal_exists`
    or `action_not_appealable`.
    """
    if action.user_id != user.pk:
        raise NotFound("There is no such action of yours.")
    reason = _clean_text(reason, "reason", required=True)
    locked = _action_for_update(action.pk)
    if Appeal.objects.filter(action=locked).exists():
        raise Conflict("You have already appealed this action.", code="appeal_exists")
    if locked.state != RuleActionState.ACTIVE:
        raise Conflict(
            f"This action is {locked.get_state_display().lower()}; there is nothing to appeal.",
            code="action_not_appealable",
            extra={"state": locked.state},
        )
    appeal = Appeal.objects.create(action=locked, author=user, reason=reason)
    audit_record(
        actor=user,
        action="appeal.filed",
        target=appeal,
        after={"action": locked.pk, "rule": locked.rule_id, "reason": reason},
    )
    return appeal


def _appeal_close(
    *, appeal: Appeal, manager: User, status: str, note: str, now: datetime
) -> Appeal:
    before = snapshot(appeal, ["status"])
    appeal.status = status
    appeal.decided_by = manager
    appeal.decided_at = now
    appeal.decision_note = note
    appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=manager,
        action="appeal.decided",
        target=appeal,
        before=before,
        after={"status": status, "note": note, "action": appeal.action_id},
    )
    return appeal


@transaction.atomic
def appeal_decide(*, appeal: Appeal, manager: User, uphold: bool, note: str = "") -> Appeal:
    """Decide an appeal: upholding it reverses the action and restores what it took; rejecting
    it keeps the action in force (a rejection needs a note that tells the person why).

    Raises PermissionDenied (not a manager), ValidationFailed, or Conflict `appeal_decided`.
    """
    _require_manager(manager)
    note = _clean_text(note, "note", required=not uphold)
    now = timezone.now()
    action = RuleAction.objects.get(pk=appeal.action_id)
    _states_of_action_locked(action)
    action = _action_for_update(action.pk)
    locked = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if locked.status != AppealStatus.PENDING:
        raise Conflict(
            f"This appeal was already decided ({locked.get_status_display().lower()}).",
            code="appeal_decided",
        )
    if uphold:
        if action.state in IN_EFFECT_STATES:
            _action_end(
                action=action,
                state=RuleActionState.REVERSED,
                actor=manager,
                note=note,
                now=now,
                audit="rule_action.reversed",
            )
        return _appeal_close(
            appeal=locked, manager=manager, status=AppealStatus.UPHELD, note=note, now=now
        )
    if action.state == RuleActionState.ACTIVE:
        action.state = RuleActionState.UPHELD
        action.save(update_fields=["state"])
        audit_record(
            actor=manager,
            action="rule_action.upheld",
            target=action,
            before={"state": RuleActionState.ACTIVE},
            after={"state": RuleActionState.UPHELD, "appeal": locked.pk},
        )
    return _appeal_close(
        appeal=locked, manager=manager, status=AppealStatus.REJECTED, note=note, now=now
    )
