"""The local cloud's command line.

``python -m localcloud up`` runs the synthesized CDK app on 127.0.0.1 until Ctrl-C or SIGTERM;
``executions`` and ``history`` show, in a terminal, what the console shows in a browser.
"""

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path

from localcloud.assembly import AssemblyError
from localcloud.cloud import HOST, LocalCloud, Options
from localcloud.console.cli import EndpointUnavailable, print_executions, print_history
from localcloud.console.pages import STATUSES
from localcloud.email import OutboxInUse
from localcloud.template import REGION

DEFAULT_ENDPOINT = f"http://{HOST}:4566"
# Exit statuses: found and printed, not found, nothing answering at the endpoint (or, for up, no cdk.out or an
# outbox held by another local cloud).
ASL_INTERPRETER_LOGGER = "moto.stepfunctions.parser"
MAX_INTERPRETER_LINE = 300
EXIT_NOT_FOUND = 1
EXIT_UNAVAILABLE = 2


def _configure_logging(log_file: Path) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(name)-18s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr), logging.FileHandler(log_file)]
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    # One line per request from werkzeug and moto's own chatter would drown the hops.
    for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # NOTE: moto's ASL interpreter logs every failed state as an ERROR holding its whole parse tree; the hop
    # line "[execution] failed" already tells the terminal, so this goes to the log file alone, one line each.
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(formatter)
    to_file.addFilter(_one_line)  # a handler's filter sees the records of the logger's children too
    interpreter = logging.getLogger(ASL_INTERPRETER_LOGGER)
    interpreter.propagate = False
    interpreter.handlers = [to_file]
    logging.getLogger("localcloud").info("logging to %s", log_file.resolve())


def _one_line(record: logging.LogRecord) -> bool:
    """Flatten a record's message to one line of at most ``MAX_INTERPRETER_LINE`` characters."""
    message = " ".join(record.getMessage().split())
    record.msg = message if len(message) <= MAX_INTERPRETER_LINE else message[: MAX_INTERPRETER_LINE - 1] + "…"
    record.args = None
    return True


def _interpreter() -> str:
    """The Python running this, as a person would type it: relative when under the current directory.

    A bare ``python`` in a fresh shell is the system's, which has none of the project's packages.
    """
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def _summary(cloud: LocalCloud) -> str:
    health = cloud.health()
    endpoint = health["awsEndpoint"]
    aws = f"aws --endpoint-url {endpoint} --region {health['region']}"
    lines = [
        "",
        f"Local cloud ready: stack {health['stackName']} (bound to {HOST} only)",
        f"  API URL        {health['apiUrl']}",
        f"  AWS endpoint   {endpoint}",
        f"  console        {health['console']}",
        f"  outbox         {health['outbox']}",
        f"  log file       {health['logFile']}",
        f"  health         {endpoint}/_localcloud/health",
        "",
        "Try:",
        "  export AWS_ACCESS_KEY_ID=localcloud AWS_SECRET_ACCESS_KEY=localcloud  # any value: nothing is checked",
    ]
    if health["apiUrl"]:
        booking = '{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",'
        booking += '"dateTime":"2030-01-01T19:30:00+01:00","partySize":4}'
        lines.append(
            f"  curl -s -X POST {health['apiUrl']}bookRestaurant -H 'Content-Type: application/json' "
            f"-d {shlex.quote(booking)}"
        )
    for arn in health["stateMachines"].values():
        lines.append(f"  {aws} stepfunctions list-executions --state-machine-arn {arn}")
    for table in health["tables"].values():
        lines.append(f"  {aws} dynamodb scan --table-name {table}")
    lines.append(f"  {_interpreter()} -m localcloud executions --endpoint {endpoint}")
    if health["skipped"]:
        lines += ["", "Not emulated locally (not created: no local effect or not supported; or created, not run):"]
        lines += [f"  {item['logicalId']} ({item['type']}): {item['reason']}" for item in health["skipped"]]
    return "\n".join(lines) + "\n"


def _up(arguments: argparse.Namespace) -> int:
    options = Options(
        assembly=arguments.assembly, port=arguments.port, outbox=arguments.outbox, log_file=arguments.log_file
    )
    cloud = LocalCloud(options)
    # NOTE: bound before the log file is opened, so that a second ``up`` on a taken port (werkzeug exits 1)
    # writes nothing into the log of the instance that holds it.
    try:
        cloud.bind()
    except (AssemblyError, OutboxInUse) as error:
        print(f"python -m localcloud up: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    _configure_logging(options.log_file)
    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    try:
        cloud.start()
        print(_summary(cloud), flush=True)
        stopping.wait()
    finally:
        logging.getLogger("localcloud").info("stopping")
        cloud.stop()
    return 0


def _executions(arguments: argparse.Namespace) -> int:
    print_executions(arguments.endpoint, status=arguments.status, limit=arguments.limit, region=REGION)
    return 0


def _history(arguments: argparse.Namespace) -> int:
    found = print_history(arguments.endpoint, arguments.execution, region=REGION)
    return 0 if found else EXIT_NOT_FOUND


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return number


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(
        prog="python -m localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run cdk.out on 127.0.0.1 until Ctrl-C")
    up.add_argument("--port", type=int, default=4566, help="edge port on 127.0.0.1 (0 picks a free one)")
    up.add_argument("--outbox", type=Path, default=Path(".localcloud/outbox"), help="where sent emails go")
    up.add_argument("--assembly", type=Path, default=Path("cdk.out"), help="the CDK cloud assembly to run")
    up.add_argument("--log-file", type=Path, default=Path(".localcloud/localcloud.log"), help="hop and Lambda log")
    up.set_defaults(run=_up)

    endpoint_help = f"the local cloud's AWS endpoint (default {DEFAULT_ENDPOINT})"
    executions = commands.add_parser("executions", help="print a table of the newest executions")
    executions.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=endpoint_help)
    executions.add_argument("--status", choices=STATUSES, help="only executions with this status")
    executions.add_argument("--limit", type=_positive, default=20, help="how many to print (default 20)")
    executions.set_defaults(run=_executions)
    history = commands.add_parser("history", help="print one execution's event history")
    history.add_argument("execution", help="the execution's name or ARN")
    history.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=endpoint_help)
    history.set_defaults(run=_history)

    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except EndpointUnavailable as error:
        print(f"{parser.prog} {arguments.command}: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
