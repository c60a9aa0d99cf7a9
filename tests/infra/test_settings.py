"""The context checks of app.py: a missing or malformed value stops the synthesis and names itself."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App
from infra_support import CONTEXT

from workflow.settings import BookingSettings, SettingsError, read_settings

ROOT = Path(__file__).resolve().parents[2]
APP_TIMEOUT_SECONDS = 120


def test_read_settings_returns_the_context_values() -> None:
    # Given an app with every setting
    app = App(context=CONTEXT)

    # When the settings are read
    settings = read_settings(app.node)

    # Then each value is kept as given
    assert settings == BookingSettings(
        restaurant_email=CONTEXT["restaurantEmail"],
        sender_email=CONTEXT["senderEmail"],
        restaurant_name=CONTEXT["restaurantName"],
        alarm_email=CONTEXT["alarmEmail"],
    )


def test_read_settings_treats_an_empty_alarm_email_as_none() -> None:
    # Given the example cdk.json value of the optional alarm email
    app = App(context={**CONTEXT, "alarmEmail": ""})

    # When the settings are read
    settings = read_settings(app.node)

    # Then no subscription is asked for
    assert settings.alarm_email is None


@pytest.mark.parametrize("key", ["restaurantEmail", "senderEmail", "restaurantName"])
def test_read_settings_names_a_missing_value(key: str) -> None:
    # Given an app whose context lacks one required setting
    app = App(context={k: v for k, v in CONTEXT.items() if k != key})

    # When the settings are read
    with pytest.raises(SettingsError) as raised:
        read_settings(app.node)

    # Then the error names it
    assert f"Missing context value '{key}'" in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("restaurantEmail", "not-an-address"),
        ("senderEmail", "two@at@example.com"),
        ("restaurantName", "   "),
        ("restaurantName", "x" * 101),
        ("restaurantName", "Line\nbreak"),
        ("senderEmail", 42),
        ("alarmEmail", "oncall"),
    ],
)
def test_read_settings_names_a_malformed_value(key: str, value: object) -> None:
    # Given an app with one malformed setting
    app = App(context={**CONTEXT, key: value})

    # When the settings are read
    with pytest.raises(SettingsError) as raised:
        read_settings(app.node)

    # Then the error names it
    assert f"'{key}'" in str(raised.value)


def test_app_exits_with_a_message_naming_the_missing_value(tmp_path: Path) -> None:
    # Given app.py run outside the CDK CLI with context lacking the restaurant name (so no synthesis happens)
    context = {k: v for k, v in CONTEXT.items() if k != "restaurantName"}
    environment = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
    }

    # When it runs
    result = subprocess.run(  # noqa: S603 - this repository's app, with this interpreter
        [sys.executable, str(ROOT / "app.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=APP_TIMEOUT_SECONDS,
        check=False,
    )

    # Then it fails with a message naming the value, before writing any template
    assert result.returncode == 1
    assert "Missing context value 'restaurantName'" in result.stderr
    assert not list(tmp_path.glob("*.template.json"))
