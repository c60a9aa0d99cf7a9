"""The edge's own routes: health and readiness, SES fault injection, and what it answers while starting."""

import json
from typing import Any

import pytest
from werkzeug.test import Client

from localcloud.edge import Edge
from localcloud.email import Faults

FAULTS = "/_localcloud/ses/faults"
SIGNED = "AWS4-HMAC-SHA256 Credential=localcloud/20300101/us-east-1/{service}/aws4_request, SignedHeaders=host"


@pytest.fixture
def edge() -> Edge:
    edge = Edge()
    edge.faults = Faults()
    edge.health = lambda: {"ready": True, "apiUrl": "http://127.0.0.1:1/prod/"}
    edge.ready = True
    return edge


def post_faults(edge: Edge, body: bytes) -> tuple[int, dict[str, Any]]:
    response = Client(edge).post(FAULTS, data=body, content_type="application/json")
    return response.status_code, response.get_json()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        pytest.param(b"garbage", None, id="not JSON"),
        pytest.param(b"[1]", None, id="not an object"),
        pytest.param(b'{"throttle": -5}', "throttle", id="negative"),
        pytest.param(b'{"throttle": 0}', "throttle", id="zero"),
        pytest.param(b'{"throttle": "x"}', "throttle", id="text"),
        pytest.param(b'{"reject": 1e9}', "reject", id="float"),
        pytest.param(b'{"reject": 1001}', "reject", id="over 1000"),
        pytest.param(b'{"reject": true}', "reject", id="bool"),
        pytest.param(b'{"clear": 1}', "clear", id="clear not true"),
        pytest.param(b'{"throttle": 1, "slow": 2}', "slow", id="unknown key"),
    ],
)
def test_edge_faults_refuse_a_bad_body_with_400_naming_the_key(edge: Edge, body: bytes, key: str | None) -> None:
    # Given an edge with no fault queued

    # When a bad fault request is posted
    status, answer = post_faults(edge, body)

    # Then it is refused as JSON naming the key, and nothing was queued
    assert status == 400
    assert answer["key"] == key
    assert answer["message"]
    assert edge.faults.take_throttle() is False
    assert edge.faults.take_reject() is False


def test_edge_faults_apply_a_valid_body_and_clear_first(edge: Edge) -> None:
    # Given a rejection left over from an earlier test
    edge.faults.reject_next(3)

    # When the queue is cleared and two throttles and one rejection are asked for
    status, answer = post_faults(edge, b'{"clear": true, "throttle": 2, "reject": 1}')

    # Then exactly those are queued
    assert (status, answer) == (200, {"applied": {"clear": True, "throttle": 2, "reject": 1}})
    assert [edge.faults.take_throttle() for _ in range(3)] == [True, True, False]
    assert [edge.faults.take_reject() for _ in range(2)] == [True, False]


def test_edge_faults_queue_the_counts_of_one_body_in_its_key_order(edge: Edge) -> None:
    # Given an edge with no fault queued

    # When one body asks for a rejection and then two throttles
    status, _ = post_faults(edge, b'{"reject": 1, "throttle": 2}')

    # Then they are queued in that order, and the queue says so
    response = Client(edge).get(FAULTS)
    assert status == 200
    assert (response.status_code, response.get_json()) == (200, {"queued": ["reject", "throttle", "throttle"]})


def test_edge_faults_list_an_empty_queue(edge: Edge) -> None:
    # Given an edge with no fault queued

    # When the queue is read
    response = Client(edge).get(FAULTS)

    # Then it is empty
    assert response.get_json() == {"queued": []}


def test_edge_health_answers_503_with_the_same_json_until_ready() -> None:
    # Given an edge still provisioning
    edge = Edge()

    # When its health is asked for
    response = Client(edge).get("/_localcloud/health")

    # Then curl -f fails on it, and the body still says why
    assert (response.status_code, response.get_json()) == (503, {"ready": False})


def test_edge_health_answers_200_once_ready(edge: Edge) -> None:
    # Given a ready edge

    # When its health is asked for
    response = Client(edge).get("/_localcloud/health")

    # Then it is 200 with the endpoints
    assert (response.status_code, response.get_json()["apiUrl"]) == (200, "http://127.0.0.1:1/prod/")


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        pytest.param("POST", "/prod/bookRestaurant", None, id="API"),
        pytest.param("GET", "/prod/confirm/r1", None, id="API GET"),
        pytest.param("POST", "/2015-03-31/functions/booking/invocations", "lambda", id="Lambda invoke"),
        pytest.param("POST", "/v2/email/outbound-emails", "ses", id="SES send"),
    ],
)
def test_edge_answers_503_json_to_the_api_lambda_and_ses_while_starting(
    method: str, path: str, service: str | None
) -> None:
    # Given an edge still provisioning
    edge = Edge()
    headers = {"Authorization": SIGNED.format(service=service)} if service else {}

    # When the API, a Lambda invoke or an email send arrives
    response = Client(edge).open(path, method=method, data=b"{}", headers=headers, content_type="application/json")

    # Then it is told to come back, in JSON, rather than getting moto's HTML error
    assert (response.status_code, json.loads(response.data)) == (503, {"message": "local cloud is starting"})
    assert response.headers["Retry-After"] == "1"


def test_edge_faults_answer_503_while_the_outbox_is_not_running() -> None:
    # Given an edge with no outbox yet
    edge = Edge()

    # When faults are posted
    status, answer = post_faults(edge, b'{"throttle": 1}')

    # Then it is told the local cloud is starting
    assert (status, answer) == (503, {"message": "local cloud is starting"})
