"""How a reservation's date, time and party read to people, in emails and on the confirmation page."""

from datetime import datetime, timedelta

# Fixed English names: the strftime names depend on the process locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def readable_datetime(value: str) -> str:
    """Turn ``2030-01-01T19:30:00+01:00`` into ``Tuesday 1 January 2030 at 19:30 (+01:00)``.

    The time stays in the offset the guest booked with, since that is the restaurant's local time. A value that
    does not parse is returned unchanged rather than failing an email over presentation.
    """
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    weekday = _WEEKDAYS[moment.weekday()]
    month = _MONTHS[moment.month - 1]
    return f"{weekday} {moment.day} {month} {moment.year} at {moment:%H:%M} ({_offset_text(moment.utcoffset())})"


def party_description(size: int) -> str:
    """``1 guest`` or ``4 guests``: the party size as a phrase, so a template never writes "1 guests"."""
    return "1 guest" if size == 1 else f"{size} guests"
