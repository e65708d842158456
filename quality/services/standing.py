"""Probation and tiers decided from evidence, applied through workforce's services.

Probation (`probation_evaluate`, after each scored item of a person on probation, and
`probation_sweep`): over the newest scored items since their last standing decision, a lower
bound of accuracy above the pass threshold with enough items makes them active; an upper bound
below the floor sends them back to training through the quality-rule action "require retraining"
(its effect function, on a built-in inactive rule, so it is listed, appealable and liftable like
any rule action). Each decision is recorded in workforce with the numbers that caused it.
Sending back to training is one service, `person_send_back_to_training`, which a manager's
decision (`quality.services.retraining.person_retrain`) takes too, with a rule of its own.

Tiers (`tier_candidates_compute`, weekly and on a manager's request): each working person's
record over the window gives this week's verdict (promote, demote, hold); a candidate is proposed
when last week's verdict was the same (hysteresis), and managers approve or decline it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.audit import audit_record
from labeling.services.standing import worker_states_lock
from quality.models import QualityRule, RuleAction, RuleActionKind, RuleComparator, RuleMetric
from quality.selectors import (
    probation_share,
    probation_thresholds,
    tier_records_for,
    tier_thresholds,
)
from quality.services.effects import effects_take
from quality.standing import (
    PASS,
    PROMOTE,
    RETRAIN,
    probation_outcome,
    tier_change_due,
    tier_signal,
)
from workforce.models import (
    WORKING_STATUSES,
    AnnotatorProfile,
    AnnotatorStatus,
    StandingDecision,
    StandingDecisionKind,
    TierCandidate,
)
from workforce.selectors.tiers import (
    ANNOTATOR,
    tier_above,
    tier_below,
    tier_readings_in_week,
    tiers_of,
)
from workforce.services.people import annotator_status_set
from workforce.services.tiers import (
    standing_decision_record,
    tier_candidate_propose,
    tier_candidates_supersede,
    tier_reading_record,
)

# The built-in rule whose "require retraining" action sends a person on probation back to
# training. It is inactive so the rule sweep never evaluates it: the probation check does.
PROBATION_RULE_NAME = "Probation: accuracy below the floor"
BATCH = 500


def builtin_retraining_rule(
    *, name: str, description: str, window_size: int, threshold: float
) -> QualityRule:
    """The global, inactive "require retraining" rule named `name` that a built-in decision
    (probation's floor, a manager's) records its actions under; made, and audited, on first use.
    The rule sweep never evaluates it."""
    rule = (
        QualityRule.objects.filter(
            name=name, project__isnull=True, action=RuleActionKind.REQUIRE_RETRAINING
        )
        .order_by("pk")
        .first()
    )
    if rule is not None:
        return rule
    rule = QualityRule.objects.create(
        name=name,
        description=description,
        metric=RuleMetric.GOLD_ACCURACY,
        window_kind="items",
        window_size=window_size,
        min_sample=1,
        comparator=RuleComparator.LT,
        threshold=threshold,
        action=RuleActionKind.REQUIRE_RETRAINING,
        is_active=False,
    )
    audit_record(actor=None, action="quality_rule.created", target=rule, after={"name": rule.name})
    return rule


def _probation_rule() -> QualityRule:
    return builtin_retraining_rule(
        name=PROBATION_RULE_NAME,
        description=(
            "Built in: a person on probation whose accuracy's 95% upper bound falls below the "
            "floor is sent back to training. Evaluated by the probation check, not the rule sweep."
        ),
        window_size=int(settings.QUORUM_PROBATION_WINDOW_ITEMS),
        threshold=probation_thresholds().floor_upper,
    )


@transaction.atomic
def person_send_back_to_training(
    *,
    user: User,
    rule: QualityRule,
    evidence: dict[str, Any],
    metric_value: float,
    sample_size: int,
    project_id: int | None,
    also: int | None = None,
    actor: User | None = None,
    note: str = "",
    now: datetime,
) -> RuleAction | None:
    """Send the person back to training: take `rule`'s "require retraining" action on them.

    The one way anyone is sent back to training (probation's floor, a manager's decision): the
    person's standing in `project_id` (in every project when None; `also` names a project whose
    standing is created then, see `worker_states_lock`) needs retraining, so the claim refuses
    them work there until the action ends (lifted by a manager, or an appeal upheld); they are
    notified (with `note`, if any); audited as `rule_action.taken` by `actor` (None: decided
    from the evidence). `evidence` is kept beside the rule as it was.

    Returns None when `rule` already holds an action in force on the person. Takes the person's
    WorkerProjectState locks first (the queue's order).
    """
    states = worker_states_lock(user_id=user.pk, project_id=project_id, also=also)
    try:
        with transaction.atomic():
            action = RuleAction.objects.create(
                rule=rule,
                user=user,
                kind=RuleActionKind.REQUIRE_RETRAINING,
                metric_value=metric_value,
                sample_size=sample_size,
                item_ids=[],  # gold items are never shown: the numbers are the evidence
                evidence={
                    "rule": {
                        "id": rule.pk,
                        "project": None,
                        "name": rule.name,
                        "metric": rule.metric,
                        "window_kind": rule.window_kind,
                        "window_size": rule.window_size,
                        "min_sample": rule.min_sample,
                        "comparator": rule.comparator,
                        "threshold": evidence.get("threshold", rule.threshold),
                    },
                    "items": "annotation",
                    **{key: value for key, value in evidence.items() if key != "threshold"},
                },
                taken_at=now,
            )
    except IntegrityError:
        return None
    action.taken = effects_take(
        action=action, rule=rule, user=user, states=states, now=now, note=note
    )
    action.save(update_fields=["taken"])
    audit_record(
        actor=actor,
        action="rule_action.taken",
        target=action,
        after={
            "rule": rule.pk,
            "user": user.pk,
            "kind": action.kind,
            "metric_value": action.metric_value,
            "sample_size": action.sample_size,
            "taken": action.taken,
            **({"note": note} if note else {}),
        },
    )
    return action


@transaction.atomic
def probation_evaluate(
    *, user: User, now: datetime | None = None, project_id: int | None = None
) -> StandingDecision | None:
    """Decide whether a person on probation passes it or goes back to training; record why.

    Locks the person's profile (one evaluation at a time per person). Does nothing for someone
    not on probation or while the evidence decides neither way. `project_id` names the project of
    the event that led here (a person with no standing there yet gets one to retrain in).
    """
    now = now or timezone.now()
    profile = AnnotatorProfile.objects.select_for_update().filter(user_id=user.pk).first()
    if profile is None or profile.status != AnnotatorStatus.PROBATION:
        return None
    thresholds = probation_thresholds()
    share, window = probation_share(user_id=user.pk, now=now)
    outcome = probation_outcome(share, thresholds)
    if outcome not in (PASS, RETRAIN):
        return None
    evidence: dict[str, Any] = {
        **share.as_dict(),
        "min_items": thresholds.min_items,
        "window": window,
        "interval": "wilson-95",
    }
    if outcome == PASS:
        evidence["threshold"] = thresholds.pass_lower
        annotator_status_set(
            profile=profile,
            status=AnnotatorStatus.ACTIVE,
            actor=None,
            reason=(
                f"Probation passed: {share.successes:g} of {share.n} scored items right; the 95% "
                f"interval's lower bound {share.low:.3f} is above {thresholds.pass_lower}."
            ),
            evidence=evidence,
        )
        return standing_decision_record(
            user=user, kind=StandingDecisionKind.PROBATION_PASSED, evidence=evidence, now=now
        )
    evidence["threshold"] = thresholds.floor_upper
    action = person_send_back_to_training(
        user=user,
        rule=_probation_rule(),
        evidence={"threshold": thresholds.floor_upper, "probation": evidence},
        metric_value=evidence["accuracy"],
        sample_size=evidence["n"],
        project_id=None,
        also=project_id,
        now=now,
    )
    if action is None:
        return None  # already sent back and not yet retrained
    evidence["rule_action"] = action.pk
    return standing_decision_record(
        user=user, kind=StandingDecisionKind.RETRAINING, evidence=evidence, now=now
    )


def probation_sweep(*, now: datetime | None = None) -> int:
    """Evaluate everyone on probation (the periodic sweep); return how many decisions were taken.

    Each person is evaluated in a transaction of their own."""
    now = now or timezone.now()
    people = User.objects.filter(annotator_profile__status=AnnotatorStatus.PROBATION).order_by("pk")
    decided = 0
    for person in people.iterator(chunk_size=BATCH):
        if probation_evaluate(user=person, now=now) is not None:
            decided += 1
    return decided


# --- Tiers ------------------------------------------------------------------------------------


@dataclass
class TierComputation:
    week: date
    people: int = 0
    candidates: list[TierCandidate] = field(default_factory=list)
    superseded: int = 0


def week_of(now: datetime) -> date:
    """The Monday (UTC) of the week `now` falls in: readings are kept one per person and week."""
    day = now.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def tier_candidates_compute(*, now: datetime, actor: User | None = None) -> TierComputation:
    """Compute this week's verdict on every working person and propose the moves now due.

    A move is proposed when this week's verdict (promote or demote) is the same as last week's;
    a person's pending candidate is superseded by each computation. Computing again in the same
    week replaces that week's readings (a manager's button cannot fast-forward hysteresis).
    Each person is written in a transaction of their own (this is a batch over everyone).
    """
    week = week_of(now)
    since = now - timedelta(days=int(settings.QUORUM_TIER_WINDOW_DAYS))
    thresholds = tier_thresholds()
    outcome = TierComputation(week=week)
    people = list(
        User.objects.filter(annotator_profile__status__in=WORKING_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(people), BATCH):
        batch = people[start : start + BATCH]
        tiers = tiers_of(batch)
        records = tier_records_for(batch, since=since, now=now)
        previous = tier_readings_in_week(batch, week - timedelta(days=7))
        users = User.objects.in_bulk(batch)
        for user_id in batch:
            tier = tiers[user_id]
            above, below = tier_above(tier), tier_below(tier)
            record = records[user_id]
            signal = tier_signal(
                record,
                thresholds,
                is_reviewer=tier != ANNOTATOR,  # a lead reviews at the top level
                can_promote=above is not None,
                can_demote=below is not None,
            )
            last = previous.get(user_id)
            last_signal = last.signal if last is not None and last.tier == tier else None
            evidence = {
                **record.as_dict(),
                "tier": tier,
                "signal": signal,
                "previous_week_signal": last_signal,
                "window_days": int(settings.QUORUM_TIER_WINDOW_DAYS),
                "since": since.isoformat(),
                "until": now.isoformat(),
                "thresholds": vars(thresholds),
                "interval": "wilson-95",
                "computed_by": actor.pk if actor is not None else None,
            }
            person = users[user_id]
            tier_reading_record(
                user=person, week=week, tier=tier, signal=signal, evidence=evidence, now=now
            )
            outcome.people += 1
            target = above if signal == PROMOTE else below
            if target is not None and tier_change_due(signal, last_signal):
                outcome.candidates.append(
                    tier_candidate_propose(
                        user=person, from_tier=tier, to_tier=target, evidence=evidence, now=now
                    )
                )
            else:
                outcome.superseded += tier_candidates_supersede(user=person, now=now)
    return outcome
