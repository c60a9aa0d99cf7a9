"""The small HTML pages of the confirmation link. Every dynamic value is HTML-escaped."""

from decimal import Decimal
from html import escape

from shared.formatting import party_description, readable_datetime

# Pages load nothing and may only post their form back to this API.
HTML_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body>
<h1>{title}</h1>
{content}
</body>
</html>
"""


def _page(title: str, content: str) -> str:
    return _PAGE.format(title=escape(title), content=content)


def _party(party_size: object) -> str:
    """The emails' party phrase (``4 guests``); a size that is no whole number, stored around the API, as it is."""
    if isinstance(party_size, Decimal) and party_size.is_finite() and party_size == party_size.to_integral_value():
        party_size = int(party_size)
    if isinstance(party_size, int) and not isinstance(party_size, bool):
        return party_description(party_size)
    return str(party_size)


def _summary(date_time: str, party_size: object) -> str:
    return (
        f"<p>Table for <strong>{escape(_party(party_size))}</strong> "
        f"on <strong>{escape(readable_datetime(date_time))}</strong>.</p>"
    )


def confirmation_form(reservation_id: str, token: str, date_time: str, party_size: object) -> str:
    """The page behind the emailed link: a button that posts the token back. Opening it changes nothing."""
    # The action is relative to .../confirmReservation/{id}, so it survives any stage or host prefix.
    form = (
        f'<form method="post" action="{escape(reservation_id)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm this reservation</button></form>'
    )
    return _page("Confirm the reservation", _summary(date_time, party_size) + form)


def confirmed(date_time: str, party_size: object, already: bool) -> str:
    """The page shown once the reservation is confirmed, now or earlier."""
    title = "This reservation was already confirmed" if already else "Reservation confirmed"
    return _page(title, _summary(date_time, party_size) + "<p>The guest will receive a confirmation email.</p>")


def not_found() -> str:
    """The page for an unknown reservation or a wrong link; it reveals which of the two it was to nobody."""
    return _page("Reservation not found", "<p>This link is not valid. Please check the link in the email.</p>")
