"""core.statements: each prepared statement's name stands for its text, constants and types."""

from core.statements import _statement_name

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
