"""Unit-test fixtures: moto in-process AWS, the tables built from the contract's key names, handler loading.

Handlers read their configuration at import, so each fixture sets the environment first and then imports (or
re-imports) the handler module inside moto.
"""

import importlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from shared.contract import PARTITION_KEY, EnvVar
from shared.observability import logger

RESERVATION_TABLE = "Reservations"
IDEMPOTENCY_TABLE = "Idempotency"
EVENT_BUS = "booking-bus"
FAILED_RECORDS_QUEUE = "stream-target-failed-records"
SENDER = "bookings@restaurant.example"
RESTAURANT_EMAIL = "owner@restaurant.example"
RESTAURANT_NAME = "Chez Test"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"


@pytest.fixture(autouse=True)
def _unit_environment(aws_environment: None) -> None:
    """Every unit test runs with fake credentials and a fixed region."""


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process AWS for the duration of one test."""
    with mock_aws():
        yield


@pytest.fixture
def reservations(aws: None) -> Any:
    """The reservation table, keyed as the stack keys it (contract.PARTITION_KEY)."""
    resource = boto3.resource("dynamodb")
    table = resource.create_table(
        TableName=RESERVATION_TABLE,
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    return table


@pytest.fixture
def idempotency_table(aws: None) -> Any:
    """Powertools' idempotency table (partition key ``id``)."""
    table = boto3.resource("dynamodb").create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    return table


def load_handler(monkeypatch: pytest.MonkeyPatch, module_name: str, environment: dict[str, str]) -> ModuleType:
    """Set ``environment``, then import ``module_name`` afresh so its cold-start code reads it."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    module = importlib.import_module(module_name)
    return importlib.reload(module)


@pytest.fixture
def booking_api(monkeypatch: pytest.MonkeyPatch, reservations: Any, lambda_context: Any) -> Callable[..., "HttpAnswer"]:
    """Call booking_api.handler, bound to the moto reservation table, with a proxy event; get its answer."""
    module = load_handler(monkeypatch, "booking_api.handler", {EnvVar.TABLE_NAME: RESERVATION_TABLE})

    def call(request: dict[str, Any]) -> HttpAnswer:
        return as_http_answer(module.handler(request, lambda_context))

    call.module = module  # type: ignore[attr-defined]
    return call


@pytest.fixture
def stream_target(monkeypatch: pytest.MonkeyPatch, aws: None) -> ModuleType:
    """stream_target.handler bound to a moto event bus and a moto failed-records queue."""
    boto3.client("events").create_event_bus(Name=EVENT_BUS)
    queue_url = boto3.client("sqs").create_queue(QueueName=FAILED_RECORDS_QUEUE)["QueueUrl"]
    environment = {EnvVar.EVENT_BUS_NAME: EVENT_BUS, EnvVar.FAILED_RECORDS_QUEUE_URL: queue_url}
    return load_handler(monkeypatch, "stream_target.handler", environment)


@pytest.fixture
def restaurant_email(monkeypatch: pytest.MonkeyPatch, reservations: Any, idempotency_table: Any) -> ModuleType:
    """emails.restaurant bound to the moto tables."""
    environment = {
        EnvVar.TABLE_NAME: RESERVATION_TABLE,
        EnvVar.IDEMPOTENCY_TABLE_NAME: IDEMPOTENCY_TABLE,
        EnvVar.SENDER_EMAIL: SENDER,
        EnvVar.RESTAURANT_EMAIL: RESTAURANT_EMAIL,
        EnvVar.RESTAURANT_NAME: RESTAURANT_NAME,
        EnvVar.TEMPLATE_NAME: "BookingStack-restaurant_booking_request",
        EnvVar.API_URL: API_URL,
    }
    return load_handler(monkeypatch, "emails.restaurant", environment)


@pytest.fixture
def guest_email(monkeypatch: pytest.MonkeyPatch, reservations: Any, idempotency_table: Any) -> ModuleType:
    """emails.guest bound to the moto tables."""
    environment = {
        EnvVar.TABLE_NAME: RESERVATION_TABLE,
        EnvVar.IDEMPOTENCY_TABLE_NAME: IDEMPOTENCY_TABLE,
        EnvVar.SENDER_EMAIL: SENDER,
        EnvVar.RESTAURANT_NAME: RESTAURANT_NAME,
        EnvVar.TEMPLATE_NAME: "BookingStack-guest_booking_confirmed",
    }
    return load_handler(monkeypatch, "emails.guest", environment)


@dataclass(frozen=True)
class HttpAnswer:
    """An API Gateway proxy response, with its headers flattened (REST answers use multiValueHeaders)."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def as_http_answer(response: dict[str, Any]) -> HttpAnswer:
    """Flatten a proxy response returned by the booking API handler."""
    headers = {name: ", ".join(values) for name, values in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return HttpAnswer(status=response["statusCode"], headers=headers, body=response.get("body") or "")


def pytest_configure(config: pytest.Config) -> None:
    """Handlers that record no metric on a path (a 400, a skipped email) make Powertools warn; that is expected."""
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the handlers' Powertools logger writes during the test, as JSON lines."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield buffer
    logger.registered_handler.setStream(previous)
