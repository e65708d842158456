"""core.statements: each prepared statement's name stands for its text, constants and types."""

import datetime

import pytest

from accounts.models import User
from core.statements import _statement_name, model_built
from payments.models import Earning

SQL = "SELECT %s, %s"


def test_the_same_statement_has_the_same_name_and_another_constant_another():
    params = (("a", None), (None, "open"))
    arguments = {"a": "bigint"}
    name = _statement_name(SQL, params, arguments, "quorum")

    assert _statement_name(SQL, (("a", None), (None, "open")), dict(arguments), "quorum") == name
    assert _statement_name(SQL, (("a", None), (None, "done")), arguments, "quorum") != name
    assert _statement_name(SQL, params, {"a": "text"}, "quorum") != name
    assert _statement_name(SQL, params, arguments, "payments").startswith("payments_")


def test_a_constant_that_cannot_be_hashed_still_names_its_statement():
    one = _statement_name(SQL, (("a", None), (None, ["open", "done"])), {"a": "bigint"}, "quorum")
    other = _statement_name(SQL, (("a", None), (None, ["open"])), {"a": "bigint"}, "quorum")

    assert one.startswith("quorum_") and one != other
    assert one == _statement_name(
        SQL, (("a", None), (None, ["open", "done"])), {"a": "bigint"}, "quorum"
    )


EARNING_VALUES = {
    "user_id": 7,
    "project_id": 3,
    "work_kind": "annotation",
    "unit": "per_task",
    "earned_on": datetime.date(2026, 12, 8),
    "currency": "USD",
    "amount_micros": 3_500,
    "rate_version_id": 2,
    "rate_id": 5,
    "task_id": 11,
}


def test_a_model_built_from_positional_values_is_the_one_keywords_build():
    fields = [field.attname for field in Earning._meta.concrete_fields]

    built, keywords = model_built(Earning, **EARNING_VALUES), Earning(**EARNING_VALUES)

    assert [getattr(built, name) for name in fields] == [getattr(keywords, name) for name in fields]
    assert built._state.adding


def test_a_model_built_with_a_name_that_is_not_a_field_is_refused_naming_it():
    with pytest.raises(TypeError, match="not fields of Earning: colour"):
        model_built(Earning, colour="red", **EARNING_VALUES)


def test_a_model_with_a_callable_default_is_not_built_from_positional_values():
    with pytest.raises(TypeError, match="callable default"):
        model_built(User, id=1)  # date_joined defaults to the time of the call
