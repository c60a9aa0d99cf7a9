"""The hop log: one line per hop, whatever a request puts into its values."""

import logging

import pytest

from localcloud.hops import escape, hop, reservation_of

FORGED = "x\n2026-12-04 16:00:00,000 localcloud.hops [execution] reservation=FORGED succeeded"


def hop_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "localcloud.hops"]


def test_hop_escapes_a_reservation_id_that_tries_to_forge_a_line(caplog: pytest.LogCaptureFixture) -> None:
    # Given a reservation id from a URL path that carries a newline and a whole forged log line

    # When the API hop is logged with it
    with caplog.at_level(logging.INFO, logger="localcloud.hops"):
        hop("api", "request", FORGED, path=f"/prod/confirm/{FORGED}")

    # Then it is one line, with the newline written as \n
    [line] = hop_lines(caplog)
    assert "\n" not in line
    assert line.startswith("[api] reservation=x\\n2026-12-04 16:00:00,000 localcloud.hops [execution] ")
    assert line.endswith(
        "request path=/prod/confirm/x\\n2026-12-04 16:00:00,000 localcloud.hops [execution] "
        "reservation=FORGED succeeded"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("a\x00b", "a\\x00b"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("line\u2028separator\u0085next", "line\\u2028separator\\x85next"),
        ("back\\slash", "back\\\\slash"),
        ("caf\u00e9 \U0001f37d", "caf\u00e9 \U0001f37d"),
        (42, "42"),
    ],
)
def test_hop_escape_writes_what_is_not_printable_and_keeps_what_is(value: object, written: str) -> None:
    # Given a value with control characters, line separators, a backslash or printable non-ASCII text

    # When it is escaped for the hop log
    text = escape(value)

    # Then only the unprintable characters and the backslash are escaped
    assert text == written


def test_hop_escapes_the_message_and_every_key(caplog: pytest.LogCaptureFixture) -> None:
    # Given a table write whose operation name and table name came from a request body

    # When the table hop is logged
    with caplog.at_level(logging.INFO, logger="localcloud.hops"):
        hop("table", "PutItem\nforged", "r1", table="t\x00able")

    # Then the whole hop is one line
    assert hop_lines(caplog) == ["[table] reservation=r1 PutItem\\nforged table=t\\x00able"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"detail": {"reservationId": "r-1"}}, "r-1"),
        ('{"detail": {"reservationId": "r-2"}}', "r-2"),
        ({"detail": '{"reservationId": "r-3"}'}, "r-3"),
        ({"detail": {"reservationId": 7}}, None),
        ({"detail": []}, None),
        ("not json", None),
        ([], None),
    ],
    ids=["dict", "json-text", "detail-as-text", "not-a-string", "not-an-object", "bad-json", "not-an-event"],
)
def test_reservation_of_reads_detail_reservation_id_or_none(event, expected):
    # Given an event as an execution input, a routed event or something else

    # When its reservation is looked up
    found = reservation_of(event)

    # Then it is the detail's reservationId when that is text, else None
    assert found == expected
