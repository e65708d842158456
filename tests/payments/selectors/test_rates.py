"""The rate lookup: which card, which version, which rate prices a piece of work."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Role
from kit.money import Micros, format_micros, parse_micros
from payments.models import Rate
from payments.selectors.rates import WorkProfile, rate_best, rate_lookup
from tests.factories import make_user
from tests.labeling.factories import make_project
from tests.payments.factories import rate, rate_version
from workforce.services.people import skill_create, skill_level_grant

pytestmark = pytest.mark.django_db


def amount_of(match):
    return match.amount.amount if match is not None else None


def test_a_project_card_wins_over_the_customer_default(person, project):
    rate_version(rate(amount_micros=1_000), customer=project.customer)
    rate_version(rate(amount_micros=2_000), project=project)

    match = rate_lookup(project=project, person=person, work_kind="annotation")

    assert amount_of(match) == 2_000 and match.is_project_card


def test_the_customer_default_prices_projects_without_a_card(person, project):
    default = rate_version(rate(amount_micros=1_000), customer=project.customer)
    sibling = make_project(project.customer)
    rate_version(rate(amount_micros=2_000), project=sibling)

    match = rate_lookup(project=project, person=person, work_kind="annotation")

    assert amount_of(match) == 1_000 and match.version == default


def test_a_project_card_replaces_the_default_as_a_whole(person, project):
    rate_version(rate("review", 9_000), customer=project.customer)
    rate_version(rate("annotation", 2_000), project=project)

    assert rate_lookup(project=project, person=person, work_kind="review", review_level=1) is None


def test_no_card_means_no_rate(person, project):
    assert rate_lookup(project=project, person=person, work_kind="annotation") is None


def test_a_tier_rate_wins_over_a_generic_one():
    project = make_project()
    reviewer = make_user(Role.REVIEWER, level=2)
    annotator = make_user(Role.ANNOTATOR)
    rate_version(
        rate("review", 10_000),
        rate("review", 20_000, tier="reviewer-2"),
        project=project,
    )

    mine = rate_lookup(project=project, person=reviewer, work_kind="review", review_level=1)
    theirs = rate_lookup(project=project, person=annotator, work_kind="review", review_level=1)

    assert amount_of(mine) == 20_000 and amount_of(theirs) == 10_000


def test_an_exact_review_level_wins_over_a_tier_rate():
    project = make_project()
    reviewer = make_user(Role.REVIEWER, level=2)
    rate_version(
        rate("review", 20_000, tier="reviewer-2"),
        rate("review", 30_000, review_level=2),
        project=project,
    )

    level_2 = rate_lookup(project=project, person=reviewer, work_kind="review", review_level=2)
    level_1 = rate_lookup(project=project, person=reviewer, work_kind="review", review_level=1)

    assert amount_of(level_2) == 30_000 and amount_of(level_1) == 20_000


def test_the_highest_skill_level_reached_wins(person):
    skill = skill_create(slug="sentiment", name="Sentiment", actor=None)
    project = make_project(required_skill=skill)
    skill_level_grant(user=person, skill=skill, level=3, actor=None)
    rate_version(
        rate(amount_micros=1_000),
        rate(amount_micros=2_000, min_skill_level=2),
        rate(amount_micros=3_000, min_skill_level=3),
        rate(amount_micros=4_000, min_skill_level=4),
        project=project,
    )

    match = rate_lookup(project=project, person=person, work_kind="annotation")

    assert amount_of(match) == 3_000


def test_a_tier_rate_wins_over_a_skill_rate(person):
    skill = skill_create(slug="boxes", name="Boxes", actor=None)
    project = make_project(required_skill=skill)
    skill_level_grant(user=person, skill=skill, level=5, actor=None)
    rate_version(
        rate(amount_micros=2_000, min_skill_level=5),
        rate(amount_micros=1_500, tier="annotator"),
        project=project,
    )

    assert amount_of(rate_lookup(project=project, person=person, work_kind="annotation")) == 1_500


def test_a_change_applies_from_its_date_and_not_before(person, project):
    now = timezone.now()
    old = rate_version(rate(amount_micros=1_000), project=project, now=now - timedelta(days=10))
    new = rate_version(
        rate(amount_micros=2_000), project=project, effective_from=now + timedelta(days=2)
    )

    today = rate_lookup(project=project, person=person, work_kind="annotation")
    before_old = rate_lookup(
        project=project, person=person, work_kind="annotation", at=now - timedelta(days=11)
    )
    just_before = rate_lookup(
        project=project,
        person=person,
        work_kind="annotation",
        at=new.effective_from - timedelta(microseconds=1),
    )
    from_then = rate_lookup(
        project=project, person=person, work_kind="annotation", at=new.effective_from
    )

    assert today.version == old and just_before.version == old
    assert before_old is None
    assert from_then.version == new and amount_of(from_then) == 2_000


def test_work_done_under_an_old_version_still_finds_that_version(person, project):
    now = timezone.now()
    first = rate_version(rate(amount_micros=1_000), project=project, now=now - timedelta(days=10))
    second = rate_version(rate(amount_micros=2_000), project=project, now=now - timedelta(days=5))
    moment = now - timedelta(days=7)

    match = rate_lookup(project=project, person=person, work_kind="annotation", at=moment)

    assert match.version == first and match.version.number == 1 and second.number == 2
    assert match.rate.version_id == first.pk


def test_a_withdrawn_version_never_applies(finance, person, project):
    from payments.services.rates import rate_card_version_withdraw

    rate_version(rate(amount_micros=1_000), project=project)
    scheduled = rate_version(
        rate(amount_micros=2_000),
        project=project,
        effective_from=timezone.now() + timedelta(days=1),
    )
    rate_card_version_withdraw(version=scheduled, actor=finance, reason="wrong amount")

    later = rate_lookup(
        project=project,
        person=person,
        work_kind="annotation",
        at=timezone.now() + timedelta(days=2),
    )

    assert amount_of(later) == 1_000


def test_a_project_card_starting_later_leaves_the_default_until_then(person, project):
    rate_version(rate(amount_micros=1_000), customer=project.customer)
    starts = timezone.now() + timedelta(days=1)
    rate_version(rate(amount_micros=2_000), project=project, effective_from=starts)

    now = rate_lookup(project=project, person=person, work_kind="annotation")
    then = rate_lookup(project=project, person=person, work_kind="annotation", at=starts)

    assert amount_of(now) == 1_000 and amount_of(then) == 2_000


@pytest.mark.parametrize("kind", ["training", "test"])
def test_training_and_tests_are_unpaid_while_training_time_is_not_paid(
    settings, person, project, kind
):
    settings.QUORUM_TRAINING_TIME_PAID = False
    rate_version(rate(kind, 4_000_000, unit="per_hour"), project=project)

    assert rate_lookup(project=project, person=person, work_kind=kind) is None


@pytest.mark.parametrize("kind", ["training", "test"])
def test_training_and_tests_are_priced_when_training_time_is_paid(settings, person, project, kind):
    settings.QUORUM_TRAINING_TIME_PAID = True
    rate_version(rate(kind, 4_000_000, unit="per_hour"), project=project)

    match = rate_lookup(project=project, person=person, work_kind=kind)

    assert amount_of(match) == 4_000_000 and match.unit == "per_hour"


def test_the_setting_does_not_touch_annotation(settings, person, project):
    settings.QUORUM_TRAINING_TIME_PAID = False
    rate_version(rate("annotation", 5_000), project=project)

    assert amount_of(rate_lookup(project=project, person=person, work_kind="annotation")) == 5_000


@pytest.mark.parametrize(
    ("currency", "typed", "micros", "shown"),
    [
        ("JPY", "1.5", 1_500_000, "1.5 JPY"),
        ("JPY", "12", 12_000_000, "12 JPY"),
        ("KWD", "0.125", 125_000, "0.125 KWD"),
        ("KWD", "0.0125", 12_500, "0.0125 KWD"),
        ("USD", "0.0035", 3_500, "0.0035 USD"),
    ],
)
def test_rates_keep_the_version_currency_exactly(person, project, currency, typed, micros, shown):
    rate_version(
        rate(amount_micros=parse_micros(typed, currency).amount), project=project, currency=currency
    )

    match = rate_lookup(project=project, person=person, work_kind="annotation")

    assert match.amount == Micros(micros, currency)
    assert format_micros(match.amount) == shown


def test_a_sub_cent_rate_is_kept_in_micros(person, project):
    rate_version(rate(amount_micros=3_500), project=project)

    match = rate_lookup(project=project, person=person, work_kind="annotation")

    assert match.amount.times(3) == Micros(10_500, "USD")


def test_the_lookup_takes_a_fixed_number_of_queries(person, project, django_assert_max_num_queries):
    rate_version(
        *(rate(amount_micros=n + 1, min_skill_level=n) for n in range(10)), project=project
    )

    with django_assert_max_num_queries(5):
        rate_lookup(project=project, person=person, work_kind="annotation")


# --- the choice of rate, against a plain reimplementation -------------------------------------

TIERS = ["annotator", "reviewer-1", "reviewer-2", "lead"]
KINDS = ["annotation", "review"]


@st.composite
def rates_and_work(draw):
    keys = draw(
        st.sets(
            st.tuples(
                st.sampled_from(KINDS),
                st.integers(0, 2),
                st.sampled_from(["", *TIERS]),
                st.integers(0, 4),
            ).filter(lambda key: key[0] == "review" or key[1] == 0),
            max_size=12,
        )
    )
    rates = [
        Rate(work_kind=k, review_level=r, tier=t, min_skill_level=s, amount_micros=n + 1)
        for n, (k, r, t, s) in enumerate(sorted(keys))
    ]
    kind = draw(st.sampled_from(KINDS))
    work = WorkProfile(
        work_kind=kind,
        review_level=draw(st.integers(1, 2)) if kind == "review" else 0,
        tier=draw(st.sampled_from(TIERS)),
        skill_level=draw(st.integers(0, 4)),
    )
    return rates, work


def plain_choice(rates, work):
    """The documented order, spelled out as nested loops over what a rate could be keyed by."""
    by_key = {(r.work_kind, r.review_level, r.tier, r.min_skill_level): r for r in rates}
    levels = [work.review_level, 0] if work.review_level else [0]
    for level in levels:
        for tier in [work.tier, ""]:
            for skill in range(work.skill_level, -1, -1):
                found = by_key.get((work.work_kind, level, tier, skill))
                if found is not None:
                    return found
    return None


@given(rates_and_work())
def test_the_chosen_rate_is_the_documented_one(case):
    rates, work = case

    assert rate_best(rates, work) is plain_choice(rates, work)
