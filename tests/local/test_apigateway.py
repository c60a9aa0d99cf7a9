"""The local REST API: the proxy event's shape and what API Gateway answers before and after the Lambda."""

import base64
import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from localcloud.apigateway import MAX_BODY_BYTES, RestApi, Route
from localcloud.types import InvokeResult

ROUTES = [
    Route("r1", "/bookRestaurant", "POST", "Booking"),
    Route("r2", "/confirmReservation/{reservationId}", "GET", "Booking"),
    Route("r2", "/confirmReservation/{reservationId}", "POST", "Booking"),
    Route("r3", "/confirmReservation/special", "GET", "Special"),
    Route("r4", "/files/{path+}", "ANY", "Files"),
]
TIMED_OUT = b'{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}'


class RecordingFunction:
    """Answers every invocation with one scripted result and keeps the events it got."""

    def __init__(self, result: InvokeResult) -> None:
        self.result = result
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> InvokeResult:
        self.calls.append((function, event))
        return self.result


def proxy_answer(status: int = 200, body: str = "{}", **extra: Any) -> InvokeResult:
    return InvokeResult(json.dumps({"statusCode": status, "body": body, **extra}).encode())


def request(method: str, path: str, **options: Any) -> Request:
    builder = EnvironBuilder(method=method, path=path, base_url="http://127.0.0.1:4566", **options)
    environ = builder.get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return Request(environ)


@pytest.fixture
def function() -> RecordingFunction:
    return RecordingFunction(
        proxy_answer(201, '{"reservationId": "r-1"}', headers={"Content-Type": "application/json"})
    )


@pytest.fixture
def api(function: RecordingFunction) -> RestApi:
    return RestApi("api123", "prod", ROUTES, function)


def test_rest_api_proxy_event_has_api_gateway_shape(api: RestApi, function: RecordingFunction) -> None:
    # Given a POST with headers, a repeated query parameter, a path parameter and a JSON body
    incoming = request(
        "POST",
        "/prod/confirmReservation/abc",
        query_string="token=t1&token=t2&x=1",
        headers={"X-Trace": "one", "User-Agent": "pytest"},
        data='{"a": 1}',
        content_type="application/json",
    )

    # When the API handles it
    api.handle(incoming)

    # Then the function gets the documented proxy event
    (name, event), *_ = function.calls
    assert name == "Booking"
    assert event["resource"] == "/confirmReservation/{reservationId}"
    assert event["path"] == "/confirmReservation/abc"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Trace"] == "one"
    assert event["multiValueHeaders"]["X-Trace"] == ["one"]
    assert event["queryStringParameters"] == {"token": "t2", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"token": ["t1", "t2"], "x": ["1"]}
    assert event["pathParameters"] == {"reservationId": "abc"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/confirmReservation/{reservationId}"
    assert context["httpMethod"] == "POST"
    assert context["path"] == "/prod/confirmReservation/abc"
    assert context["stage"] == "prod"
    assert context["apiId"] == "api123"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "pytest"
    assert context["requestId"]


def test_rest_api_proxy_event_without_query_or_body_has_nulls(api: RestApi, function: RecordingFunction) -> None:
    # Given a GET with no query string and no body on a literal path
    incoming = request("GET", "/prod/confirmReservation/special")

    # When the API handles it
    api.handle(incoming)

    # Then the literal resource wins over the parameter, and the empty parts are null as API Gateway sends them
    (name, event), *_ = function.calls
    assert name == "Special"
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None


def test_rest_api_binary_body_is_base64_encoded(api: RestApi, function: RecordingFunction) -> None:
    # Given a body that is not UTF-8
    raw = b"\xff\xfe\x00binary"
    incoming = request("POST", "/prod/bookRestaurant", data=raw, content_type="application/octet-stream")

    # When the API handles it
    api.handle(incoming)

    # Then the body arrives base64-encoded and flagged
    (_, event), *_ = function.calls
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_rest_api_greedy_path_parameter_takes_the_rest(api: RestApi, function: RecordingFunction) -> None:
    # Given a path under a {path+} resource with ANY
    incoming = request("DELETE", "/prod/files/a/b/c.txt")

    # When the API handles it
    api.handle(incoming)

    # Then the greedy parameter holds every remaining segment
    (name, event), *_ = function.calls
    assert name == "Files"
    assert event["pathParameters"] == {"path": "a/b/c.txt"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/prod/unknown"), ("DELETE", "/prod/bookRestaurant"), ("GET", "/prod"), ("GET", "/prod/bookRestaurant/x")],
)
def test_rest_api_unknown_path_or_method_is_missing_authentication_token(
    api: RestApi, function: RecordingFunction, method: str, path: str
) -> None:
    # Given a path or method the API does not define
    incoming = request(method, path)

    # When the API handles it
    response = api.handle(incoming)

    # Then API Gateway's 403 comes back and no function runs
    assert response.status_code == 403
    assert json.loads(response.get_data()) == {"message": "Missing Authentication Token"}
    assert function.calls == []


def test_rest_api_body_over_10_mb_is_rejected_with_413(api: RestApi, function: RecordingFunction) -> None:
    # Given a body one byte over API Gateway's limit
    incoming = request("POST", "/prod/bookRestaurant", data=b"x" * (MAX_BODY_BYTES + 1))

    # When the API handles it
    response = api.handle(incoming)

    # Then it is refused before any function runs
    assert response.status_code == 413
    assert function.calls == []


def test_rest_api_maps_the_proxy_response_back(api: RestApi) -> None:
    # Given a function answering 201 with a JSON body and a header (fixture)
    incoming = request("POST", "/prod/bookRestaurant", json={"firstName": "Ada"})

    # When the API handles it
    response = api.handle(incoming)

    # Then status, header and body are the function's
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.get_data()) == {"reservationId": "r-1"}


def test_rest_api_multi_value_headers_and_base64_body_are_decoded() -> None:
    # Given a function answering with multiValueHeaders and a base64 body
    answer = proxy_answer(
        200,
        base64.b64encode(b"\x00\x01").decode(),
        isBase64Encoded=True,
        multiValueHeaders={"Set-Cookie": ["a=1", "b=2"]},
    )
    api = RestApi("api123", "prod", ROUTES, RecordingFunction(answer))

    # When a request is handled
    response = api.handle(request("POST", "/prod/bookRestaurant"))

    # Then every header value is sent and the body is decoded
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.get_data() == b"\x00\x01"


@pytest.mark.parametrize(
    ("result", "status", "message"),
    [
        (InvokeResult(b'{"errorType": "KeyError", "errorMessage": "x"}', "Unhandled"), 502, "Internal server error"),
        (InvokeResult(b'"just a string"'), 502, "Internal server error"),
        (InvokeResult(b'{"statusCode": 200, "body": {"not": "a string"}}'), 502, "Internal server error"),
        (
            InvokeResult(b'{"errorType": "Sandbox.Timedout", "errorMessage": "t"}', "Unhandled"),
            504,
            "Endpoint request timed out",
        ),
    ],
    ids=["function-error", "not-an-object", "body-not-string", "timeout"],
)
def test_rest_api_failed_integration_is_502_or_504(result: InvokeResult, status: int, message: str) -> None:
    # Given a function that fails, answers malformed, or times out
    api = RestApi("api123", "prod", ROUTES, RecordingFunction(result))

    # When a request is handled
    response = api.handle(request("POST", "/prod/bookRestaurant"))

    # Then API Gateway's gateway error comes back
    assert response.status_code == status
    assert json.loads(response.get_data()) == {"message": message}
