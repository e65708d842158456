"""Strict parsing of the dates and times clients send (filters, export windows, expiry times).

Python accepts any UTC offset below 24 hours and any year from 1 to 9999, but the databases do
not: PostgreSQL refuses offsets beyond ±15:59 and both fail on moments that leave the year range
once converted to UTC. Every date or time that comes from a client goes through `parse_timestamp`,
which keeps to the offsets real time zones use and hands the database an aware UTC value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime

# Real time zones range from UTC-12:00 (Baker Island) to UTC+14:00 (Line Islands).
MIN_OFFSET = timedelta(hours=-12)
MAX_OFFSET = timedelta(hours=14)
TIMESTAMP_HELP = "Give a date or a time in ISO 8601, e.g. 2025-01-31 or 2025-01-31T12:00:00Z."


class TimestampInvalid(ValueError):
    """The text is not a date or time Quorum accepts; the message says why, for the client."""


def parse_timestamp(value: str | date | datetime) -> datetime:
    """Return `value` (ISO 8601 date or date and time) as an aware UTC datetime.

    A time without an offset is UTC; a date alone is its midnight, UTC. Raises TimestampInvalid
    for text that is not a date or time, an impossible date (2025-02-30), an offset outside
    -12:00..+14:00, or a moment outside the years 1..9999 in UTC.
    """
    moment = _moment(value)
    offset = moment.utcoffset()
    if offset is None:
        moment = moment.replace(tzinfo=UTC)
    elif not MIN_OFFSET <= offset <= MAX_OFFSET:
        raise TimestampInvalid(
            f"The UTC offset {_offset_text(offset)} is not one any time zone uses "
            "(-12:00 to +14:00)."
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TimestampInvalid("The time is out of range (years 1 to 9999 in UTC).") from None


def _moment(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min)
    text = str(value).strip()
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:  # well-formed but impossible: 2025-02-30, 25:00, an offset of 24 hours
        moment = None
    if moment is None:
        raise TimestampInvalid(f"{text[:60]!r} is not a date or time. {TIMESTAMP_HELP}")
    return moment


def _offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
