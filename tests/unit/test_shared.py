"""Shared pieces: configuration at cold start, date formatting, numbers from DynamoDB."""

import importlib
import json
import sys
from decimal import Decimal

import pytest
from shared.errors import ConfigurationMissing
from shared.formatting import readable_datetime
from shared.reservations import plain_numbers


def _cold_start(module_name: str) -> None:
    if module_name in sys.modules:
        importlib.reload(sys.modules[module_name])
    else:
        importlib.import_module(module_name)


@pytest.mark.parametrize(
    ("module", "missing"),
    [
        ("booking_api.handler", "TABLE_NAME"),
        ("stream_target.handler", "EVENT_BUS_NAME"),
        ("emails.guest", "IDEMPOTENCY_TABLE_NAME"),
    ],
)
def test_config_missing_variable_fails_import_with_its_name(monkeypatch, module, missing):
    # GIVEN an environment lacking one variable the function needs
    for name in ("TABLE_NAME", "EVENT_BUS_NAME", "SENDER_EMAIL", "RESTAURANT_NAME", "TEMPLATE_NAME"):
        monkeypatch.setenv(name, "set")
    monkeypatch.delenv(missing, raising=False)

    # WHEN the handler module is imported (its cold start)
    with pytest.raises(ConfigurationMissing) as raised:
        _cold_start(module)

    # THEN the error names the variable
    assert str(raised.value) == f"environment variable {missing} is not set"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T19:30:00+01:00", "Tuesday 1 January 2030 at 19:30 (+01:00)"),
        ("2030-07-14T12:05:00Z", "Sunday 14 July 2030 at 12:05 (+00:00)"),
        ("2030-03-02T08:00:00-05:30", "Saturday 2 March 2030 at 08:00 (-05:30)"),
        ("not a date", "not a date"),
    ],
)
def test_readable_datetime_keeps_the_booked_offset(value, expected):
    # GIVEN a stored dateTime

    # WHEN it is formatted for people
    text = readable_datetime(value)

    # THEN it reads naturally, in the offset it was booked with
    assert text == expected


def test_plain_numbers_turns_decimals_into_json_numbers():
    # GIVEN an image as DynamoDB returns it
    image = {"partySize": Decimal("4"), "ratio": Decimal("2.5"), "nested": [{"n": Decimal("7")}], "s": "x"}

    # WHEN its numbers are made plain
    plain = plain_numbers(image)

    # THEN whole numbers are int, others float, and it serializes as JSON numbers
    assert json.dumps(plain) == '{"partySize": 4, "ratio": 2.5, "nested": [{"n": 7}], "s": "x"}'
    assert type(plain["partySize"]) is int
