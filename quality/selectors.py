"""Who sees which quality rules, rule actions and appeals, and what of an action's evidence; the
records probation and tiers are computed from, and what a person sees of their standing.

Administrators see and change everything; a manager the rule actions and appeals of the people
of their teams (`workforce.selectors.teams.people_managed_by`); a person sees only the actions
taken on them and their own appeals. Anything outside a person's scope is "not found".
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from core.errors import PermissionDenied
from labeling.models import Annotation, GoldScore, Review, Verdict
from labeling.policy import is_labeling_staff, projects_managed_by
from quality import measures
from quality.models import (
    Appeal,
    QualityRule,
    RuleAction,
    RuleMetric,
)
from quality.standing import (
    ProbationThresholds,
    Share,
    TierRecord,
    TierThresholds,
    share_of_items,
)
from workforce.models import AnnotatorProfile, AnnotatorStatus
from workforce.selectors.teams import people_managed_by, sees_every_team
from workforce.selectors.tiers import (
    standing_decision_latest,
    standing_decisions_of,
    tier_above,
    tier_candidate_pending_of,
    tier_label,
    tier_of,
    tier_review_level,
)

# What a person may see of the evidence against them. The items of a gold-accuracy action are
# left out: they would tell which of the tasks they worked on were gold.
_PERSON_RULE_FIELDS = (
    "name",
    "metric",
    "window_kind",
    "window_size",
    "min_sample",
    "comparator",
    "threshold",
    "fast_answer_seconds",
)


def can_manage_quality(user: Any) -> bool:
    """Managers and administrators write rules, see every action and decide appeals."""
    return bool(getattr(user, "is_authenticated", False)) and is_labeling_staff(user)


def require_quality_manager(user: Any) -> None:
    """Raise PermissionDenied unless `user` manages quality (see `can_manage_quality`)."""
    if not can_manage_quality(user):
        raise PermissionDenied("Only managers and administrators manage quality rules.")


def quality_rules_visible_to(user: Any) -> QuerySet[QualityRule]:
    """Every rule for administrators and managers who see every team; for a manager limited to
    teams, the rules for every project (which apply to their people too) and those of the
    projects they manage; none for anyone else."""
    rules = QualityRule.objects.select_related("project", "created_by")
    if not can_manage_quality(user):
        return rules.none()
    if not sees_every_team(user):
        rules = rules.filter(Q(project__isnull=True) | Q(project__in=projects_managed_by(user)))
    return rules.order_by("-is_active", "name", "pk")


def quality_rules_editable_by(user: Any) -> QuerySet[QualityRule]:
    """The rules `user` may change: those of projects they manage; the rules for every project
    only for those who see every team (such a rule acts on people of every team)."""
    rules = quality_rules_visible_to(user)
    if not sees_every_team(user):
        rules = rules.filter(project__in=projects_managed_by(user))
    return rules


def require_rule_scope(user: Any, project: Any) -> None:
    """Raise PermissionDenied unless `user` may add or change a rule of `project` (None: a rule
    for every project), by the scope of `quality_rules_editable_by`."""
    require_quality_manager(user)
    if sees_every_team(user):
        return
    if project is None:
        message = (
            "Only administrators and managers who see every team set rules for every project;"
            " choose one of your projects."
        )
        raise PermissionDenied(
            f"project: {message}", extra={"field": "project", "fields": {"project": [message]}}
        )
    if not projects_managed_by(user).filter(pk=project.pk).exists():
        message = "You do not manage this project."
        raise PermissionDenied(
            f"project: {message}", extra={"field": "project", "fields": {"project": [message]}}
        )


def _managed_people(user: Any, field: str) -> Q:
    """On rows that name a person by `field`: every row for administrators; for a manager, the
    rows of the people of their teams and their own."""
    if sees_every_team(user):
        return Q()
    return Q(**{f"{field}__in": people_managed_by(user).values("pk")}) | Q(**{field: user.pk})


def in_quality_scope(user: Any, *, person_id: int) -> bool:
    """Whether `user` (a manager or administrator) may act on the quality records of `person_id`."""
    if not can_manage_quality(user):
        return False
    return sees_every_team(user) or people_managed_by(user).filter(pk=person_id).exists()


def rule_actions_visible_to(user: Any) -> QuerySet[RuleAction]:
    """Every action for administrators; a manager's, the actions taken on the people of their
    teams (and on themselves); the actions taken on them for anyone else; newest first."""
    actions = RuleAction.objects.select_related(
        "rule", "user", "project", "ended_by", "appeal"
    ).order_by("-taken_at", "-pk")
    if can_manage_quality(user):
        return actions.filter(_managed_people(user, "user_id"))
    if not getattr(user, "is_authenticated", False):
        return actions.none()
    return actions.filter(user_id=user.pk)


def appeals_visible_to(user: Any) -> QuerySet[Appeal]:
    """Every appeal for administrators; a manager's, the appeals of the people of their teams
    (and their own); their own for anyone else; oldest pending first."""
    appeals = Appeal.objects.select_related(
        "action", "action__rule", "action__user", "action__project", "author", "decided_by"
    ).order_by("created_at", "pk")
    if can_manage_quality(user):
        return appeals.filter(_managed_people(user, "action__user_id"))
    if not getattr(user, "is_authenticated", False):
        return appeals.none()
    return appeals.filter(author_id=user.pk)


def evidence_visible_to(user: Any, action: RuleAction) -> dict[str, Any]:
    """The evidence of `action` that `user` may see: all of it for staff, a safe part for the person."""
    evidence = action.evidence or {}
    if can_manage_quality(user):
        return {
            **evidence,
            "metric_value": action.metric_value,
            "sample_size": action.sample_size,
            "item_ids": action.item_ids,
            "taken": action.taken,
        }
    rule = evidence.get("rule", {})
    shown_items = rule.get("metric") != RuleMetric.GOLD_ACCURACY
    return {
        "rule": {key: rule.get(key) for key in _PERSON_RULE_FIELDS},
        "items": evidence.get("items") if shown_items else None,
        "metric_value": action.metric_value,
        "sample_size": action.sample_size,
        "item_ids": action.item_ids if shown_items else [],
        "discounted_annotation_ids": evidence.get("discounted_annotation_ids", []),
        # A manager's decision (quality.services.retraining): the person is told its reason.
        **(
            {"manager": {"reason": evidence["manager"].get("reason")}}
            if "manager" in evidence
            else {}
        ),
    }


# --- Probation and tiers: the records they are computed from ------------------------------------


def probation_items_of(
    *, user_id: int, since: datetime | None, now: datetime
) -> list[measures.Item]:
    """The person's scored items (gold scores; review verdicts of their work: 1 approve, else 0)
    after `since` and up to `now`, newest first, in two queries."""
    gold = GoldScore.objects.filter(user_id=user_id, scored_at__lte=now)
    reviews = Review.objects.filter(author_id=user_id, created_at__lte=now)
    if since is not None:
        gold = gold.filter(scored_at__gt=since)
        reviews = reviews.filter(created_at__gt=since)
    items = [
        measures.Item(ref=ref, at=at, value=float(value))
        for ref, at, value in gold.values_list("annotation_id", "scored_at", "value")
    ]
    items += [
        measures.Item(ref=ref, at=at, value=1.0 if verdict == Verdict.APPROVE else 0.0)
        for ref, at, verdict in reviews.values_list("id", "created_at", "verdict")
    ]
    return sorted(items, key=lambda item: (item.at, item.ref), reverse=True)


def tier_records_for(
    user_ids: Collection[int], *, since: datetime, now: datetime
) -> dict[int, TierRecord]:
    """Each person's record between `since` and `now`, in four grouped queries."""
    ids = list(user_ids)
    gold = {
        row["user_id"]: (row["n"], row["s"] or 0.0)
        for row in GoldScore.objects.filter(
            user_id__in=ids, scored_at__gt=since, scored_at__lte=now
        )
        .values("user_id")
        .annotate(n=Count("id"), s=Sum("value"))
    }
    reviews = {
        row["author_id"]: (row["n"], row["ok"])
        for row in Review.objects.filter(
            author_id__in=ids, created_at__gt=since, created_at__lte=now
        )
        .values("author_id")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(verdict=Verdict.APPROVE)))
    }
    volume = dict(
        Annotation.objects.filter(
            author_id__in=ids,
            corrects__isnull=True,
            submitted_at__gt=since,
            submitted_at__lte=now,
        )
        .values("author_id")
        .annotate(n=Count("id"))
        .values_list("author_id", "n")
    )
    upheld = {
        row["reviewer_id"]: (row["n"], row["ok"])
        for row in Review.objects.filter(
            reviewer_id__in=ids, upheld__isnull=False, created_at__gt=since, created_at__lte=now
        )
        .values("reviewer_id")
        .annotate(n=Count("id"), ok=Count("id", filter=Q(upheld=True)))
    }
    records = {}
    for user_id in ids:
        gold_n, gold_s = gold.get(user_id, (0, 0.0))
        review_n, review_ok = reviews.get(user_id, (0, 0))
        upheld_n, upheld_ok = upheld.get(user_id, (0, 0))
        records[user_id] = TierRecord(
            accuracy=Share.of(float(gold_s) + review_ok, gold_n + review_n),
            gold=Share.of(float(gold_s), gold_n),
            reviews=Share.of(float(review_ok), review_n),
            volume=int(volume.get(user_id, 0)),
            upheld=Share.of(float(upheld_ok), upheld_n),
        )
    return records


def probation_thresholds() -> ProbationThresholds:
    return ProbationThresholds(
        min_items=int(settings.QUORUM_PROBATION_MIN_ITEMS),
        pass_lower=float(settings.QUORUM_PROBATION_PASS_LOWER),
        floor_upper=float(settings.QUORUM_PROBATION_FLOOR_UPPER),
    )


def tier_thresholds() -> TierThresholds:
    return TierThresholds(
        promote_lower=float(settings.QUORUM_TIER_PROMOTE_LOWER),
        demote_upper=float(settings.QUORUM_TIER_DEMOTE_UPPER),
        min_volume=int(settings.QUORUM_TIER_MIN_VOLUME),
        upheld_lower=float(settings.QUORUM_TIER_UPHELD_LOWER),
        upheld_demote_upper=float(settings.QUORUM_TIER_UPHELD_DEMOTE_UPPER),
    )


def probation_share(*, user_id: int, now: datetime) -> tuple[Share, dict[str, Any]]:
    """The person's probation accuracy now and the window it covers (for evidence and pages)."""
    latest = standing_decision_latest(user_id=user_id)
    since = latest.created_at if latest is not None else None
    size = int(settings.QUORUM_PROBATION_WINDOW_ITEMS)
    items = probation_items_of(user_id=user_id, since=since, now=now)
    seen = measures.window_apply(items, measures.Window(items=size), now=now)
    window = {
        "items": size,
        "since": since.isoformat() if since is not None else None,
        "until": now.isoformat(),
    }
    return share_of_items(seen), window


def standing_summary_of(*, user: Any, now: datetime) -> dict[str, Any]:
    """What a person sees of their own standing: their tier, what the next one needs and how far
    they are, their probation numbers while on probation, and the decisions taken about them."""
    profile = AnnotatorProfile.objects.filter(user_id=user.pk).first()
    tier = tier_of(user=user)
    window_days = int(settings.QUORUM_TIER_WINDOW_DAYS)
    record = tier_records_for([user.pk], since=now - timedelta(days=window_days), now=now)[user.pk]
    t = tier_thresholds()
    above = tier_above(tier)
    next_tier = None
    if above is not None:
        is_reviewer = tier_review_level(tier) is not None
        next_tier = {
            "tier": above,
            "tier_label": tier_label(above),
            "needs": {
                "accuracy_low_at_least": t.promote_lower,
                "volume_at_least": t.min_volume,
                "upheld_low_at_least": t.upheld_lower if is_reviewer else None,
                "weeks_in_a_row": 2,
            },
            "current": {
                "accuracy_low": record.accuracy.low,
                "volume": record.volume,
                "upheld_low": record.upheld.low if is_reviewer else None,
            },
        }
    probation = None
    if profile is not None and profile.status == AnnotatorStatus.PROBATION:
        share, window = probation_share(user_id=user.pk, now=now)
        p = probation_thresholds()
        probation = {
            **share.as_dict(),
            "min_items": p.min_items,
            "pass_low_above": p.pass_lower,
            "floor_high_below": p.floor_upper,
            "window": window,
        }
    pending = tier_candidate_pending_of(user=user)
    return {
        "status": profile.status if profile is not None else None,
        "tier": tier,
        "tier_label": tier_label(tier),
        "window_days": window_days,
        "record": record.as_dict(),
        "next_tier": next_tier,
        "probation": probation,
        "pending_candidate": (
            {"to_tier": pending.to_tier, "direction": pending.direction}
            if pending is not None
            else None
        ),
        "decisions": [
            {
                "kind": d.kind,
                "kind_label": d.get_kind_display(),
                "created_at": d.created_at,
                "evidence": d.evidence,
            }
            for d in standing_decisions_of(user=user)[:20]
        ],
    }
