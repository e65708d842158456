"""Evaluate quality rules: measure people's recent records, and act on those a rule hits.

A rule measures a person's recent record (the pure `quality.measures` module computes the metric
and the condition from plain items this module loads) and, when the condition holds, takes one
`RuleAction` with its evidence and its effects (`quality.services.effects`). Rules are evaluated
for one person after each scored event (`rules_evaluate`) and for everyone recently active by a
periodic sweep (`rules_sweep`). Once a rule has acted on a person it judges only what happened
after: an action that ended (expired, lifted, reversed) is not taken again on the same evidence.
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
from kit.spam import spammer_score
from labeling.models import (
    Annotation,
    ConsensusPriors,
    GoldScore,
    Lease,
    LeaseState,
    Project,
    Review,
    Verdict,
    WorkerConfusion,
    WorkerProjectState,
)
from labeling.services.consensus import consensus_work_discount
from labeling.services.leases import leases_release_for_person
from labeling.services.standing import worker_states_lock
from quality import measures
from quality.models import (
    IN_EFFECT_STATES,
    QualityRule,
    RuleAction,
    RuleActionKind,
    RuleMetric,
)
from quality.services.actions import rule_actions_expire
from quality.services.effects import STATE_EFFECTS, effects_take
from quality.services.rules import RULE_FIELDS
from workforce.models import WORKING_STATUSES

# Suspensions for these metrics mean the person's work is not to be trusted: their unreviewed
# consensus work is discounted. A skip streak says nothing about the work itself.
DISCOUNTING_METRICS = frozenset(
    {
        RuleMetric.GOLD_ACCURACY,
        RuleMetric.REVIEW_PASS_RATE,
        RuleMetric.AGREEMENT,
        RuleMetric.FAST_ANSWER_RATE,
        RuleMetric.SUBMISSIONS_24H,
        RuleMetric.SPAMMER_SCORE,
        RuleMetric.CONSENSUS_AGREEMENT,
        RuleMetric.GOLD_ACCURACY_UPPER,
    }
)
# The consensus model's metrics need the project's classes or estimates: project rules only.
MODEL_METRICS = frozenset(
    {RuleMetric.SPAMMER_SCORE, RuleMetric.CONSENSUS_AGREEMENT, RuleMetric.GOLD_ACCURACY_UPPER}
)
# Agreement with the consensus counts only tasks whose final label is at least this probable.
CONFIDENT_CONSENSUS = 0.9
SUSPENSIONS = frozenset({RuleActionKind.SUSPEND_PROJECT, RuleActionKind.SUSPEND_EVERYWHERE})
# The sweep looks at people who did something, or whose work was judged, this recently.
SWEEP_LOOKBACK = timedelta(hours=24)
SWEEP_BATCH = 500

# The rule as it acted is evidence; these fields say nothing about why it acted.
_NOT_EVIDENCE = ("project", "description", "is_active")


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
    if metric in (RuleMetric.GOLD_ACCURACY, RuleMetric.GOLD_ACCURACY_UPPER):
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
    if metric == RuleMetric.CONSENSUS_AGREEMENT:
        confident = own_work.filter(
            task__is_gold=False,
            task__result__isnull=False,
            task__confidence__gte=CONFIDENT_CONSENSUS,
        )
        return _Source(
            confident,
            "author_id",
            "id",
            "submitted_at",
            _one_if(Q(result__label=F("task__result__label"))),
            "annotation",
        )
    if metric == RuleMetric.SPAMMER_SCORE:
        return _Source(own_work, "author_id", "id", "submitted_at", Value(1.0), "annotation")
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


def _window_of(rule: QualityRule) -> measures.Window:
    if rule.metric == RuleMetric.SUBMISSIONS_24H:
        return measures.Window(span=measures.SUBMISSIONS_SPAN)
    return measures.Window.of(rule.window_kind, rule.window_size)


def _items_by_user(
    rule: QualityRule, *, user_ids: Collection[int] | None, now: datetime
) -> dict[int, list[measures.Item]]:
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
    found: dict[int, list[measures.Item]] = defaultdict(list)
    values = rows.annotate(rule_value=source.value).values_list(
        source.user, source.ref, source.at, "rule_value"
    )
    for user_id, ref, at, value in values:
        found[user_id].append(measures.Item(ref=ref, at=at, value=float(value)))
    return found


def spammer_scores(*, project_id: int, user_ids: Collection[int] | None = None) -> dict[int, float]:
    """Each person's spammer score in the project, from their estimated confusion matrix and the
    project's class priors (`kit.spam.spammer_score`); people without an estimate are left out."""
    priors = ConsensusPriors.objects.filter(project_id=project_id).first()
    rows = WorkerConfusion.objects.filter(project_id=project_id)
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    scores = {}
    for row in rows:
        weights = None
        if priors is not None and priors.classes == row.classes:
            weights = priors.class_priors
        try:
            scores[row.user_id] = spammer_score(row.matrix, weights)
        except ValueError:
            continue  # a malformed estimate judges nobody
    return scores


def _rule_measures(
    rule: QualityRule, *, user_ids: Collection[int] | None, now: datetime
) -> dict[int, measures.Measure]:
    window = _window_of(rule)
    if rule.metric in MODEL_METRICS and rule.project is None:
        return {}  # the model's scores exist per project (rule validation refuses these)
    items_by_user = _items_by_user(rule, user_ids=user_ids, now=now)
    n_classes = scores = None
    if rule.metric == RuleMetric.GOLD_ACCURACY_UPPER and rule.project is not None:
        n_classes = max(len(rule.project.labels or []), 2)
    if rule.metric == RuleMetric.SPAMMER_SCORE and rule.project_id is not None:
        scores = spammer_scores(project_id=rule.project_id, user_ids=list(items_by_user))
    return {
        user_id: measures.measure(
            rule.metric,
            items,
            window=window,
            now=now,
            fast_answer_seconds=rule.fast_answer_seconds,
            n_classes=n_classes,
            spammer_score=scores.get(user_id) if scores is not None else None,
        )
        for user_id, items in items_by_user.items()
    }


def _fires(rule: QualityRule, measure: measures.Measure) -> bool:
    return measures.condition_met(
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
    measure: measures.Measure,
    now: datetime,
    event_project_id: int | None = None,
) -> RuleAction | None:
    """Take the rule's action on the person, unless an action of the rule is already in force."""
    with transaction.atomic():
        user = User.objects.get(pk=user_id)
        scope = rule.project_id
        states: list[WorkerProjectState] = []
        if rule.action in STATE_EFFECTS:
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
        action.taken = effects_take(action=action, rule=rule, user=user, states=states, now=now)
        if action.kind in SUSPENSIONS:
            released = leases_release_for_person(user=user, project_id=scope, now=now)
            action.evidence["released_lease_ids"] = released
            if rule.metric in DISCOUNTING_METRICS:
                action.evidence["discounted_annotation_ids"] = consensus_work_discount(
                    user=user, project=rule.project, now=now, rule_action_id=action.pk
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
