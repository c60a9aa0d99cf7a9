"""The local Lambda runtime: warm workers, the context object, errors, timeouts and crashes as Lambda reports them."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for

from localcloud.lambda_runtime import FunctionSpec, LambdaRuntime

HANDLER = '''
import os
import sys
import time

COLD_STARTS = []


class BookingRefused(Exception):
    """A named error, as the email functions raise them."""


def handler(event, context):
    COLD_STARTS.append(1)
    action = event.get("action")
    if action == "fail":
        raise BookingRefused("no table left")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "crash":
        os._exit(3)
    print("handled", event.get("n"))
    return {
        "invocationsInThisWorker": len(COLD_STARTS),
        "pid": os.getpid(),
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "requestId": context.aws_request_id,
        "logGroup": context.log_group_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "tableName": os.environ["TABLE_NAME"],
        "taskRoot": os.environ["LAMBDA_TASK_ROOT"],
        "pathZero": sys.path[0],
        "cwd": os.getcwd(),
    }
'''


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("asset")
    (directory / "toy.py").write_text(HANDLER)
    return directory


@pytest.fixture(scope="module")
def runtime(code_dir: Path) -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime({"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "PATH": "/usr/bin:/bin"}, workers_per_function=2)
    runtime.register(
        FunctionSpec(
            logical_id="ToyFunction",
            name="Stack-ToyFunction",
            handler="toy.handler",
            code_dir=code_dir,
            timeout_s=2.0,
            memory_mb=256,
            environment={"TABLE_NAME": "Reservations"},
        )
    )
    yield runtime
    runtime.stop()


def test_lambda_runtime_runs_the_handler_with_context_and_environment(runtime: LambdaRuntime, code_dir: Path) -> None:
    # Given a registered function

    # When it is invoked by its ARN
    result = runtime.invoke("arn:aws:lambda:us-east-1:123456789012:function:Stack-ToyFunction", {"n": 1})

    # Then the handler's answer comes back with the documented context and the template's environment
    assert result.function_error is None
    answer = json.loads(result.payload)
    assert answer["functionName"] == "Stack-ToyFunction"
    assert answer["functionVersion"] == "$LATEST"
    assert answer["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Stack-ToyFunction"
    assert answer["memory"] == 256
    assert answer["logGroup"] == "/aws/lambda/Stack-ToyFunction"
    assert 0 < answer["remainingMs"] <= 2000
    assert answer["requestId"]
    assert answer["endpoint"] == "http://127.0.0.1:1"
    assert answer["tableName"] == "Reservations"
    assert answer["taskRoot"] == answer["pathZero"] == answer["cwd"] == str(code_dir)


def test_lambda_runtime_reuses_a_warm_worker(runtime: LambdaRuntime) -> None:
    # Given a function invoked once
    first = json.loads(runtime.invoke("Stack-ToyFunction", {"n": 1}).payload)

    # When it is invoked again
    second = json.loads(runtime.invoke("Stack-ToyFunction", {"n": 2}).payload)

    # Then the same process served both, keeping its module state
    assert second["pid"] == first["pid"]
    assert second["invocationsInThisWorker"] == first["invocationsInThisWorker"] + 1


def test_lambda_runtime_handler_error_is_unhandled_with_its_type(runtime: LambdaRuntime) -> None:
    # Given a handler that raises a named error

    # When it is invoked
    result = runtime.invoke("Stack-ToyFunction", {"action": "fail"})

    # Then the error is reported as Lambda reports it, so a Retry or Catch can match the name
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "BookingRefused"
    assert error["errorMessage"] == "no table left"


def test_lambda_runtime_timeout_kills_the_worker_and_reports_sandbox_timedout(runtime: LambdaRuntime) -> None:
    # Given a handler that runs past the function's 2 s timeout
    before = json.loads(runtime.invoke("Stack-ToyFunction", {}).payload)["pid"]

    # When it is invoked
    result = runtime.invoke("Stack-ToyFunction", {"action": "sleep", "seconds": 30})

    # Then Lambda's timeout error comes back and the next invocation gets a fresh worker
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    after = json.loads(runtime.invoke("Stack-ToyFunction", {}).payload)["pid"]
    assert after != before


def test_lambda_runtime_crashed_worker_is_replaced(runtime: LambdaRuntime) -> None:
    # Given a handler that kills its own process

    # When it is invoked, then invoked again
    crashed = runtime.invoke("Stack-ToyFunction", {"action": "crash"})
    recovered = runtime.invoke("Stack-ToyFunction", {"n": 3})

    # Then the crash is a Runtime.ExitError and a new worker serves the next call
    assert crashed.function_error == "Unhandled"
    assert json.loads(crashed.payload)["errorType"] == "Runtime.ExitError"
    assert recovered.function_error is None


def test_lambda_runtime_logs_handler_output_prefixed_with_logical_id(
    runtime: LambdaRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a handler that prints
    caplog.set_level(logging.INFO, logger="localcloud.function")

    # When it is invoked
    runtime.invoke("Stack-ToyFunction", {"n": 42})

    # Then its output is logged under the function's logical id (a thread reads it: wait, bounded)
    assert wait_for(lambda: "ToyFunction | handled 42" in caplog.text, 5.0, "the handler's output in the log")


def test_lambda_runtime_missing_handler_module_is_an_import_error(code_dir: Path) -> None:
    # Given a function whose handler module does not exist in its code
    runtime = LambdaRuntime({"PATH": "/usr/bin:/bin"})
    spec = FunctionSpec(logical_id="Broken", name="Stack-Broken", handler="absent.handler", code_dir=code_dir)
    runtime.register(spec)

    # When it is invoked
    try:
        result = runtime.invoke("Stack-Broken", {})
    finally:
        runtime.stop()

    # Then Lambda's init error comes back on the invocation
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload)["errorType"] == "Runtime.ImportModuleError"


def test_lambda_runtime_logs_a_carriage_return_or_terminal_escape_in_handler_output_escaped(
    runtime: LambdaRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a handler that prints a value with a carriage return and a terminal colour code
    caplog.set_level(logging.INFO, logger="localcloud.function")

    # When it is invoked
    runtime.invoke("Stack-ToyFunction", {"n": "a\rFORGED \x1b[31mred"})

    # Then the output line is logged with both escaped (a thread reads it: wait, bounded)
    expected = "ToyFunction | handled a\\rFORGED \\x1b[31mred"
    assert wait_for(lambda: expected in caplog.text, 5.0, "the handler's escaped output in the log")
