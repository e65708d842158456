"""The people table: scoped to the manager's teams, sorted and filtered on hand data, paginated,
a fixed number of statements whatever the number of people, and a CSV equal to the table."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from dashboards.people_selectors import PeopleFilters, people_table, period_of
from quality.performance.models import PersonHour, RollupMark
from quality.performance.rollups import ROLLUP_NAME
from tests.dashboards.people_data import add_people, make_world
from tests.factories import make_user
from workforce.services.teams import team_member_remove

pytestmark = pytest.mark.django_db
URL = "/dashboards/people/"


@pytest.fixture
def world():
    return make_world()


def shown_ids(response):
    return [row.user_id for row, _, _ in response.context["rows"]]


def test_a_manager_sees_only_the_people_of_their_teams(client, world):
    client.force_login(world.manager)

    response = client.get(URL)

    assert response.status_code == 200
    assert set(shown_ids(response)) == {world.a.pk, world.b.pk}
    assert b"c@example.test" not in response.content


def test_an_administrator_sees_everyone_with_work(client, world):
    client.force_login(world.admin)

    response = client.get(URL)

    assert set(shown_ids(response)) == {world.a.pk, world.b.pk, world.c.pk}


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CUSTOMER, Role.FINANCE])
def test_people_without_people_to_manage_are_refused(client, world, role):
    client.force_login(make_user(role, mfa=True))

    assert client.get(URL).status_code == 403
    assert client.get("/dashboards/people.csv").status_code == 403


def test_the_table_holds_every_measure_as_defined(client, world):
    client.force_login(world.manager)

    response = client.get(URL)

    [a_row] = [row for row, _, _ in response.context["rows"] if row.user_id == world.a.pk]
    assert a_row.measures["submissions"] == 10
    assert a_row.measures["final_tasks"] == 8
    assert a_row.measures["active_hours"] == pytest.approx(1.0)
    assert a_row.measures["gold_accuracy"] == pytest.approx(0.75)
    assert a_row.measures["review_pass_rate"] == pytest.approx(0.75)
    # 6 in [10, 15), 2 in [20, 30), 2 in [30, 45): the median's rank 5 lies in [10, 15)
    assert a_row.measures["time_per_task_median"] == pytest.approx(10 + 5 * 5 / 6)
    assert a_row.team == "Alpha"


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-submissions", ["a", "b"]),
        ("submissions", ["b", "a"]),
        ("-gold_accuracy", ["b", "a"]),  # 1.0 over 0.75
        ("gold_accuracy", ["a", "b"]),
        ("-final_tasks_per_active_hour", ["a", "b"]),  # 8/h over 2/h
        ("-time_per_task_median", ["b", "a"]),
    ],
)
def test_sorting_orders_by_the_measure(client, world, sort, expected):
    client.force_login(world.manager)

    response = client.get(URL, {"sort": sort})

    by_letter = {world.a.pk: "a", world.b.pk: "b"}
    assert [by_letter[pk] for pk in shown_ids(response)] == expected


def test_people_without_a_value_come_last_either_way(client, world):
    client.force_login(world.manager)

    for sort in ("review_pass_rate", "-review_pass_rate"):
        response = client.get(URL, {"sort": sort})

        assert shown_ids(response) == [world.a.pk, world.b.pk]  # B has no reviews


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"standing": "probation"}, ["b"]),
        ({"standing": "active"}, ["a"]),
        ({"skill": "SKILL"}, ["a"]),
        ({"project": "P2"}, ["a"]),
        ({"team": "TEAM"}, ["a", "b"]),
        ({"team": "OTHER"}, []),  # another manager's team: nobody of theirs is in scope
    ],
)
def test_filters_narrow_the_people(client, world, filters, expected):
    client.force_login(world.manager)
    ids = {
        "SKILL": world.skill.pk,
        "P2": world.p2.pk,
        "TEAM": world.team.pk,
        "OTHER": world.other_team.pk,
    }
    query = {k: ids.get(v, v) for k, v in filters.items()}

    response = client.get(URL, {**query, "sort": "-submissions"})

    by_letter = {world.a.pk: "a", world.b.pk: "b"}
    assert [by_letter[pk] for pk in shown_ids(response)] == expected


def test_a_project_filter_counts_only_that_projects_work(client, world):
    client.force_login(world.manager)

    response = client.get(URL, {"project": world.p2.pk})

    [(row, _, _)] = response.context["rows"]
    assert row.measures["submissions"] == 2


def test_the_sparkline_is_the_daily_final_tasks(world):
    period = period_of("7d", now=timezone.now())

    table = people_table(world.manager, period=period, filters=PeopleFilters())

    [a_row] = [row for row in table.rows if row.user_id == world.a.pk]
    day = period.days.index(world.hour.date())
    assert a_row.sparkline[day : day + 2] == [6, 2]
    assert sum(a_row.sparkline) == 8
    assert len(a_row.sparkline) == len(period.days)


def test_fifty_people_a_page(client, world):
    add_people(world.team, 55, world.p1, world.hour)
    client.force_login(world.manager)

    first = client.get(URL, {"sort": "-submissions"})
    second = client.get(URL, {"sort": "-submissions", "page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 7
    assert first.context["table"].total == 57
    assert not set(shown_ids(first)) & set(shown_ids(second))


def _statements(client, url, query=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, query or {})
    assert response.status_code == 200
    return len(queries)


def test_the_table_reads_the_rollups_never_the_raw_work(client, world):
    client.force_login(world.manager)

    with CaptureQueriesContext(connection) as queries:
        client.get(URL, {"sort": "-agreement"})

    tables = " ".join(q["sql"] for q in queries)
    assert "quality_personhour" in tables
    for raw in ("labeling_annotation", "labeling_lease", "labeling_goldscore", "labeling_review"):
        assert raw not in tables


def test_statements_do_not_grow_with_people_or_rows(client, world):
    client.force_login(world.manager)
    few = _statements(client, URL, {"sort": "-gold_accuracy"})

    add_people(world.team, 60, world.p1, world.hour)
    add_people(world.team, 5, world.p2, world.hour)
    many = _statements(client, URL, {"sort": "-gold_accuracy"})

    assert many == few
    assert few <= 15


def test_the_csv_equals_the_table(client, world):
    add_people(world.team, 8, world.p1, world.hour)
    client.force_login(world.manager)
    query = {"sort": "-time_per_task_median", "standing": "active"}

    table = client.get(URL, query)
    download = client.get("/dashboards/people.csv", query)

    assert download["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [int(line["person"]) for line in lines] == shown_ids(table)
    for (row, _, _), line in zip(table.context["rows"], lines, strict=True):
        assert line["name"] == row.name
        for name, value in row.measures.items():
            assert line[name] == (
                "" if value is None else repr(value) if isinstance(value, float) else str(value)
            )


def test_the_csv_quotes_a_name_a_spreadsheet_would_run(client, world):
    world.a.full_name = "=HYPERLINK(1)"
    world.a.save(update_fields=["full_name"])
    client.force_login(world.manager)

    download = client.get("/dashboards/people.csv")

    assert "'=HYPERLINK(1)" in download.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "salary"}, "sort"),
        ({"period": "forever"}, "period"),
        ({"period": "custom"}, "since"),
        ({"period": "custom", "since": "2026-12-01", "until": "2026-11-01"}, "since"),
        ({"period": "custom", "since": "yesterday", "until": "2026-11-01"}, "since"),
        ({"team": "abc"}, "team"),
        ({"standing": "emperor"}, "standing"),
    ],
)
def test_bad_input_is_refused_naming_the_field(client, world, query, field):
    client.force_login(world.manager)

    response = client.get(URL, query)

    assert response.status_code == 400
    assert field in response.context["errors"]
    assert client.get("/dashboards/people.csv", query).status_code == 400


def test_custom_dates_include_the_last_day(client, world):
    client.force_login(world.manager)
    day = world.hour.date()

    response = client.get(
        URL, {"period": "custom", "since": day.isoformat(), "until": day.isoformat()}
    )

    [a_row] = [row for row, _, _ in response.context["rows"] if row.user_id == world.a.pk]
    assert a_row.measures["submissions"] == 8  # day 0 only


def _rollup_job_ran(at):
    RollupMark.objects.update_or_create(
        name=ROLLUP_NAME,
        defaults={"rolled_until": at, "gold_fixed_until": at, "updated_at": at},
    )


def test_cached_sums_are_renewed_when_the_rollup_job_runs(client, world):
    _rollup_job_ran(timezone.now() - timedelta(minutes=5))
    client.force_login(world.manager)
    client.get(URL)  # the sums are cached now
    PersonHour.objects.filter(user=world.b).update(submissions=40)

    before = client.get(URL, {"sort": "-submissions"})
    _rollup_job_ran(timezone.now())
    after = client.get(URL, {"sort": "-submissions"})

    assert shown_ids(before) == [world.a.pk, world.b.pk]  # still the cached sums
    assert shown_ids(after) == [world.b.pk, world.a.pk]


def test_scope_is_never_taken_from_the_cache(client, world):
    _rollup_job_ran(timezone.now())
    client.force_login(world.manager)
    client.get(URL)  # the sums and order are cached now

    team_member_remove(team=world.team, user=world.b, actor=None)
    response = client.get(URL)

    assert shown_ids(response) == [world.a.pk]
