"""Fixtures shared by every test folder: fake AWS credentials, stored events, a Lambda context."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """The stored event ``tests/events/<name>.json``."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    """Load a stored event by name; each call returns a fresh copy the test may change."""
    return load_event


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region, so no test can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "RestaurantBooking")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "restaurant-booking-tests")


@dataclass
class FakeLambdaContext:
    """The parts of the Lambda context that Powertools reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty of time left."""
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    """A Lambda context for calling handlers directly."""
    return FakeLambdaContext()
