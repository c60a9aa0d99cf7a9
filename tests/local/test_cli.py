"""``python -m localcloud``'s console: served by the running local cloud, and its terminal views run as a user would."""

import http.client
import json
import logging
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import ASSEMBLY, PROJECT_ROOT, RunningCloud, free_port, wait_for

from localcloud.__main__ import ASL_INTERPRETER_LOGGER, MAX_INTERPRETER_LINE, _configure_logging, _summary
from localcloud.email import PREVIOUS_RUN, lock_outbox

COMMAND_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def localcloud(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m localcloud`` with ``arguments``, as a user would from the project's root."""
    return subprocess.run(  # noqa: S603 - our own CLI with the project's interpreter
        [sys.executable, "-m", "localcloud", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def failed_execution(local_cloud: RunningCloud) -> dict[str, Any]:
    """A finished execution of the booking workflow with a name of our own: an event of a type it does not know."""
    sfn = local_cloud.client("stepfunctions")
    event = {"source": "restaurant.booking", "detail-type": "OnSomethingElse", "detail": {"reservationId": "none"}}
    name = f"cli-{uuid.uuid4()}"
    arn = sfn.start_execution(stateMachineArn=local_cloud.state_machine_arn, name=name, input=json.dumps(event))[
        "executionArn"
    ]

    def stopped() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=arn)
        return described if described["status"] != "RUNNING" else None

    return wait_for(stopped, STOP_TIMEOUT_S, f"execution {name} to stop")


def test_local_cloud_serves_the_console_and_names_it_at_start_and_in_health(local_cloud: RunningCloud) -> None:
    # Given the local cloud started by the session

    # When its console is requested, with and without the trailing slash
    with urllib.request.urlopen(local_cloud.console_url, timeout=10) as response:  # noqa: S310 - loopback URL
        page = response.read().decode()
    connection = http.client.HTTPConnection(local_cloud.endpoint.removeprefix("http://"), timeout=10)
    connection.request("GET", "/_localcloud/console?status=FAILED")
    redirect = connection.getresponse()

    # Then the console answers under its mount point, the bare path redirects there, and start-up and health name it
    assert local_cloud.console_url == f"{local_cloud.endpoint}/_localcloud/console/"
    assert "<title>Executions · local cloud</title>" in page
    assert 'href="/_localcloud/console/outbox"' in page
    assert (redirect.status, redirect.getheader("Location")) == (308, "/_localcloud/console/?status=FAILED")
    assert f"  console        {local_cloud.console_url}\n" in local_cloud.output.read_text()


def test_executions_command_prints_the_newest_executions_of_a_status(
    local_cloud: RunningCloud, failed_execution: dict[str, Any]
) -> None:
    # Given a failed execution, the newest one

    # When the failed executions are printed, one only
    result = localcloud("executions", "--endpoint", local_cloud.endpoint, "--status", "FAILED", "--limit", "1")

    # Then the header and that execution's row are printed, with its duration
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["STATE", "MACHINE", "NAME", "STATUS", "START", "DURATION"]
    machine, name, status = row.split()[:3]
    assert (machine, name, status) == (
        local_cloud.state_machine_arn.rsplit(":", 1)[-1],
        failed_execution["name"],
        "FAILED",
    )
    assert row.endswith(" ms")


@pytest.mark.parametrize("by", ["name", "executionArn"])
def test_history_command_prints_one_execution_by_name_or_arn(
    local_cloud: RunningCloud, failed_execution: dict[str, Any], by: str
) -> None:
    # Given a failed execution

    # When its history is printed, by name or by ARN
    result = localcloud("history", failed_execution[by], "--endpoint", local_cloud.endpoint)

    # Then a title, then one row per event, from its start to the Fail state's error
    assert result.returncode == 0, result.stderr
    title, header, *rows = result.stdout.splitlines()
    assert title.endswith(f" / {failed_execution['name']}: FAILED")
    assert header.split()[:4] == ["ID", "TYPE", "STATE", "ELAPSED"]
    assert [row.split()[1] for row in rows] == [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert "UnknownDetailType: The event's detail-type is not" in rows[-1]  # long cells are cut


def test_history_command_says_so_and_exits_1_for_an_unknown_execution(local_cloud: RunningCloud) -> None:
    # Given no execution by that name

    # When its history is asked for
    result = localcloud("history", "no-such-execution", "--endpoint", local_cloud.endpoint)

    # Then one line says so, and the exit status is 1
    assert (result.returncode, result.stdout, result.stderr) == (1, "No execution no-such-execution.\n", "")


@pytest.mark.parametrize("command", [["executions"], ["history", "any-execution"]])
def test_terminal_views_exit_2_with_one_line_when_nothing_answers(command: list[str]) -> None:
    # Given a loopback port where nothing listens
    endpoint = f"http://127.0.0.1:{free_port()}"

    # When a terminal view is asked to read from it
    result = localcloud(*command, "--endpoint", endpoint)

    # Then it exits 2 with one line on stderr that names the endpoint and how to start the local cloud
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"python -m localcloud {command[0]}: nothing answers at {endpoint} "
        "(start the local cloud with bin/up, or pass --endpoint)\n"
    )


class _StubCloud:
    """What the start-up summary reads of a running local cloud: its health."""

    skipped: list[dict[str, str]] = []  # noqa: RUF012 - replaced, never changed in place

    def health(self) -> dict[str, Any]:
        return {
            "awsEndpoint": "http://127.0.0.1:4566",
            "region": "us-east-1",
            "stackName": "Booking",
            "apiUrl": None,
            "console": "http://127.0.0.1:4566/_localcloud/console/",
            "outbox": "/project/.localcloud/outbox",
            "logFile": "/project/.localcloud/localcloud.log",
            "stateMachines": {},
            "tables": {},
            "skipped": self.skipped,
        }


@pytest.mark.parametrize(
    ("executable", "shown"),
    [
        pytest.param("{cwd}/.venv/bin/python", ".venv/bin/python", id="under the current directory"),
        pytest.param("/opt/python3.12/bin/python3", "/opt/python3.12/bin/python3", id="elsewhere"),
    ],
)
def test_summary_names_the_running_interpreter_for_the_executions_command(
    executable: str, shown: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local cloud run by an interpreter, from a project directory
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", executable.format(cwd=tmp_path))

    # When the start-up summary is written
    summary = _summary(_StubCloud())  # type: ignore[arg-type]

    # Then the executions command names that interpreter, not a bare python
    assert f"  {shown} -m localcloud executions --endpoint http://127.0.0.1:4566\n" in summary
    assert "  python -m" not in summary


def test_summary_lists_an_alarm_that_is_not_evaluated_under_not_emulated() -> None:
    # Given a local cloud whose health lists an alarm it created but does not evaluate
    cloud = _StubCloud()
    reason = "created, but not evaluated locally: alarms stay OK"
    cloud.skipped = [{"logicalId": "FailedAlarm", "type": "AWS::CloudWatch::Alarm", "reason": reason}]

    # When the start-up summary is written
    summary = _summary(cloud)  # type: ignore[arg-type]

    # Then the alarm has its own line under the section of what is not emulated
    section = summary[summary.index("Not emulated locally") :]
    assert f"  FailedAlarm (AWS::CloudWatch::Alarm): {reason}\n" in section


def test_up_without_a_cloud_assembly_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    # Given no cdk.out where up is told to look
    missing, log_file = tmp_path / "cdk.out", tmp_path / "localcloud.log"

    # When the local cloud is started
    result = localcloud("up", "--port", "0", "--assembly", str(missing), "--log-file", str(log_file))

    # Then one line says what is missing and how to make it, with no traceback and no log file opened
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m localcloud up: {missing / 'manifest.json'} not found: synthesize the CDK app first (bin/setup)\n"
    )
    assert not log_file.exists()


def test_up_on_a_taken_port_exits_1_and_writes_nothing_into_the_running_instances_log(tmp_path: Path) -> None:
    # Given a port held by another process and the log file that process writes
    log_file = tmp_path / "localcloud.log"
    log_file.write_text("the running instance's line\n")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        # When a second local cloud is started on that port with the same log file (and an outbox of its own)
        result = localcloud(
            "up",
            "--port",
            str(port),
            "--assembly",
            str(ASSEMBLY),
            "--outbox",
            str(tmp_path / "outbox"),
            "--log-file",
            str(log_file),
        )

    # Then it exits 1 naming the port, and the other instance's log is untouched
    assert result.returncode == 1
    assert f"Port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert log_file.read_text() == "the running instance's line\n"


def test_up_with_an_outbox_in_use_exits_2_and_touches_nothing(tmp_path: Path) -> None:
    # Given an outbox held by a running local cloud, with its live email, its previous run and its log
    outbox, log_file = tmp_path / "outbox", tmp_path / "localcloud.log"
    held = lock_outbox(outbox)
    (outbox / "live.eml").write_text("live")
    (outbox / PREVIOUS_RUN).mkdir()
    (outbox / PREVIOUS_RUN / "old.eml").write_text("old")
    log_file.write_text("the running instance's line\n")

    # When a second local cloud is started on another port with the same outbox and log
    try:
        result = localcloud(
            "up", "--port", "0", "--assembly", str(ASSEMBLY), "--outbox", str(outbox), "--log-file", str(log_file)
        )
    finally:
        held.release()

    # Then it exits 2 with one line naming the outbox and the way out, and nothing of the first was touched
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{outbox} is in use" in result.stderr
    assert "--outbox DIR --log-file FILE" in result.stderr
    assert sorted(str(path.relative_to(outbox)) for path in outbox.rglob("*.eml")) == [
        "live.eml",
        "previous-run/old.eml",
    ]
    assert log_file.read_text() == "the running instance's line\n"


def test_logging_sends_the_asl_interpreters_failure_dumps_to_the_log_file_only_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local cloud's logging, set up as up does it
    log_file = tmp_path / "localcloud.log"
    root, interpreter = logging.getLogger(), logging.getLogger(ASL_INTERPRETER_LOGGER)
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("werkzeug", "botocore", "urllib3", "moto", "localcloud")}
    try:
        _configure_logging(log_file)

        # When moto's ASL interpreter logs a failed state with its parse tree, and a hop is logged
        dump = "FailureEventException at 'StateFail| {\n  'comment': None,\n" + "  'x': 1,\n" * 200 + "}'"
        logging.getLogger(ASL_INTERPRETER_LOGGER + ".asl.component.eval_component").error("%s", dump)
        logging.getLogger("localcloud.hops").info("[execution] failed")
    finally:
        for handler in root.handlers + interpreter.handlers:
            handler.close()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        interpreter.handlers, interpreter.propagate = [], True
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    # Then the terminal has the hop alone, and the log file has the dump as one cut line
    terminal = capsys.readouterr().err
    assert "[execution] failed" in terminal
    assert "FailureEventException" not in terminal
    [line] = [line for line in log_file.read_text().splitlines() if "FailureEventException" in line]
    assert line.endswith("…")
    assert len(line.split(" ", 3)[-1]) <= MAX_INTERPRETER_LINE + 20  # the message, after the time and logger name
