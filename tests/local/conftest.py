"""The whole system on the local cloud: one ``python -m localcloud up`` per test session, shared by its tests."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.client import BaseClient
from moto import mock_aws

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ASSEMBLY = PROJECT_ROOT / "cdk.out"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """The first truthy value ``probe`` returns, polling until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class RunningCloud:
    """A local cloud started for the session: its endpoints and clients pointed at it."""

    health: dict[str, Any]
    outbox: Path
    log_file: Path
    output: Path  # what ``up`` printed: the start-up summary, then the log

    @property
    def console_url(self) -> str:
        return self.health["console"]

    @property
    def endpoint(self) -> str:
        return self.health["awsEndpoint"]

    @property
    def api_url(self) -> str:
        return self.health["apiUrl"]

    @property
    def state_machine_arn(self) -> str:
        (arn,) = self.health["stateMachines"].values()
        return arn

    def table_name(self, logical_prefix: str) -> str:
        return next(name for logical, name in self.health["tables"].items() if logical.startswith(logical_prefix))

    def client(self, service: str) -> BaseClient:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",
        )


def _health(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback URL we built
            health = json.loads(response.read())
    except OSError:
        return None
    return health if health.get("ready") else None


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """``python -m localcloud up`` on a free loopback port, ready, and stopped with SIGTERM at the end."""
    if not (ASSEMBLY / "manifest.json").is_file():
        pytest.fail("cdk.out/ is missing: run bin/setup (it synthesizes the CDK app) before the local tests")
    work = tmp_path_factory.mktemp("localcloud")
    outbox, log_file, console = work / "outbox", work / "localcloud.log", work / "console.txt"
    port = free_port()
    command = [sys.executable, "-m", "localcloud", "up", "--port", str(port), "--outbox", str(outbox)]
    command += ["--log-file", str(log_file), "--assembly", str(ASSEMBLY)]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    with console.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI with the project's interpreter
            command, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )

    def ready() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise AssertionError(f"local cloud exited with {process.returncode}:\n{console.read_text()[-4000:]}")
        return _health(f"http://127.0.0.1:{port}/_localcloud/health")

    try:
        health = wait_for(ready, START_TIMEOUT_S, "the local cloud's health route", interval=0.25)
        yield RunningCloud(health=health, outbox=outbox, log_file=log_file, output=console)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            pytest.fail(f"local cloud did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM")


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> tuple[int, str]:
    """Status and text of one request to the local API."""
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback URLs only
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URLs only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def book(cloud: RunningCloud, guest_email: str) -> str:
    """Book a table for four over the local API; the new reservation id."""
    booking = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": guest_email,
        "dateTime": "2031-06-01T19:30:00+01:00",
        "partySize": 4,
    }
    status, text = http("POST", cloud.api_url + "bookRestaurant", json.dumps(booking).encode(), "application/json")
    assert status == 201, text
    return json.loads(text)["reservationId"]


def _reservation_of(execution: dict[str, Any]) -> str | None:
    return json.loads(execution["input"]).get("detail", {}).get("reservationId")


def executions_for(cloud: RunningCloud, reservation_id: str) -> list[dict[str, Any]]:
    """The executions started for one reservation, oldest first, described."""
    sfn = cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=cloud.state_machine_arn, maxResults=1000)["executions"]
    described = [sfn.describe_execution(executionArn=item["executionArn"]) for item in listed]
    mine = [item for item in described if _reservation_of(item) == reservation_id]
    return sorted(mine, key=lambda item: item["startDate"])


@pytest.fixture
def in_process_aws(aws_environment: None) -> Iterator[None]:
    """moto in this process, with fake credentials, for the local cloud's pieces tested alone."""
    with mock_aws():
        yield
