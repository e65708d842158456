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


def test_a_model_built_from_positional_values_is_the_one_keywords_build():
    values = {
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
    fields = [field.attname for field in Earning._meta.concrete_fields]

    built, keywords = model_built(Earning, **values), Earning(**values)

    assert [getattr(built, name) for name in fields] == [getattr(keywords, name) for name in fields]
    assert built._state.adding
    with pytest.raises(TypeError, match="not fields of Earning: colour"):
        model_built(Earning, colour="red", **values)
    with pytest.raises(TypeError, match="callable default"):
        model_built(User, id=1)  # date_joined defaults to the time of the call
