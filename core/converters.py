"""Ids in URLs: the `id` path converter (registered in CoreConfig.ready).

Ids are positive 64-bit integers (`BigAutoField`). A path segment that is not one, such as
`abc` or a number beyond 2**63 - 1, matches no URL and is answered 404 before any view or query
runs; no id that the database would refuse reaches it.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


class IdConverter:
    """A database id: 1 to 2**63 - 1, written in decimal digits."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(f"{value} is not an id")  # Django: this URL does not match
        return number

    def to_url(self, value: int | str) -> str:
        return str(int(value))


def id_or_none(text: str) -> int | None:
    """`text` as an id when it is one (see IdConverter), else None."""
    try:
        return IdConverter().to_python(text) if text.isdecimal() and len(text) <= 19 else None
    except ValueError:
        return None
