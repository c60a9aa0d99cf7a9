"""The local cloud put together: the edge server, provisioning, the Lambda runtime and the event plumbing.

``LocalCloud(options).start()`` binds the edge to 127.0.0.1, creates the synthesized stack in moto through
the edge, starts the workers, pollers and the console, and marks itself ready on ``/_localcloud/health``; ``stop()``
stops all of them, in the reverse order.
"""

import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import BaseWSGIServer, make_server

from localcloud.apigateway import RestApi
from localcloud.assembly import Stack, load_stack
from localcloud.console import create_app
from localcloud.edge import CONSOLE_MOUNT, Edge
from localcloud.email import PREVIOUS_RUN, OutboxLock, lock_outbox, retire_previous_run
from localcloud.hops import hop, reservation_of
from localcloud.lambda_runtime import LambdaRuntime
from localcloud.provision import Provisioned, Provisioner, local_outputs
from localcloud.template import ACCOUNT_ID, REGION

_logger = logging.getLogger("localcloud")

HOST = "127.0.0.1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localcloud", "AWS_SECRET_ACCESS_KEY": "localcloud"}
_CLIENT_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)


@dataclass(frozen=True)
class Options:
    """How to start the local cloud."""

    assembly: Path = Path("cdk.out")
    port: int = 4566
    outbox: Path = Path(".localcloud/outbox")
    log_file: Path = Path(".localcloud/localcloud.log")


class ClientFactory:
    """boto3 clients pointed at the edge, with fake credentials (nothing ever leaves this machine)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        self._lock = threading.Lock()

    def __call__(self, service_name: str) -> BaseClient:
        # NOTE: creating clients is not thread-safe in boto3; using one is.
        with self._lock:
            return self._session.client(service_name, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG)


def _ses_templates(name: str) -> tuple[str, str, str] | None:
    """A template that provisioning stored in moto's SES, as (subject, html, text)."""
    from moto.ses.exceptions import TemplateDoesNotExist
    from moto.ses.models import ses_backends

    try:
        template = ses_backends[ACCOUNT_ID][REGION].get_template(name)
    except TemplateDoesNotExist:
        return None
    return template["subject_part"], template.get("html_part", ""), template.get("text_part", "")


class ExecutionWatcher:
    """Logs one hop when an execution starts and one when it ends, by polling Step Functions."""

    def __init__(self, clients: ClientFactory, state_machines: list[str], interval_s: float = 0.5) -> None:
        self._sfn = clients("stepfunctions")
        self._state_machines = state_machines
        self._interval_s = interval_s
        self._seen: dict[str, str] = {}
        self._reservations: dict[str, str | None] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execution-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            try:
                self.poll_once()
            except Exception:  # a failed poll is logged and retried on the next round
                _logger.exception("execution watcher could not list executions")

    def poll_once(self) -> None:
        """Log what changed since the last round: the newest executions, and older ones still running."""
        listed: dict[str, dict[str, Any]] = {}
        for arn in self._state_machines:
            for execution in self._sfn.list_executions(stateMachineArn=arn, maxResults=100)["executions"]:
                listed[execution["executionArn"]] = execution
        running_elsewhere = [arn for arn, status in self._seen.items() if status == "RUNNING" and arn not in listed]
        for arn in running_elsewhere:
            listed[arn] = self._sfn.describe_execution(executionArn=arn)
        for arn, execution in listed.items():
            status, previous = execution["status"], self._seen.get(arn)
            if status == previous:
                continue
            self._seen[arn] = status
            reservation = self._reservation(arn)
            name = arn.rsplit(":", 1)[-1]
            if previous is None:
                started = execution["startDate"].isoformat(timespec="milliseconds")
                hop("execution", "started", reservation, execution=name, started_at=started)
            if status != "RUNNING":
                hop("execution", status.lower(), reservation, execution=name)

    def _reservation(self, execution_arn: str) -> str | None:
        if execution_arn not in self._reservations:
            described = self._sfn.describe_execution(executionArn=execution_arn)
            self._reservations[execution_arn] = reservation_of(described["input"])
        return self._reservations[execution_arn]


class LocalCloud:
    """Starts and stops every piece of the local cloud."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.edge = Edge()
        self.server: BaseWSGIServer | None = None
        self.runtime: LambdaRuntime | None = None
        self.provisioned: Provisioned | None = None
        self._services: list[Any] = []  # started pollers, router, watcher: each has stop()
        self._server_thread: threading.Thread | None = None
        self._stack: Stack | None = None
        self._outbox_lock: OutboxLock | None = None

    @property
    def endpoint_url(self) -> str:
        assert self.server is not None, "start() binds the server"
        return f"http://{HOST}:{self.server.server_port}"

    @property
    def console_url(self) -> str:
        return f"{self.endpoint_url}{CONSOLE_MOUNT}/"

    @property
    def api_url(self) -> str | None:
        if self.provisioned is None or self.provisioned.stage is None:
            return None
        return f"{self.endpoint_url}/{self.provisioned.stage}/"

    def bind(self) -> None:
        """Read the cloud assembly and bind the port: what can fail at once, before anything starts or logs.

        Raises ``AssemblyError`` for a missing or unreadable ``cdk.out`` and ``OutboxInUse`` when another local
        cloud holds the outbox; werkzeug exits with status 1 and a message of its own when the port is taken.
        """
        if self.server is not None:
            return
        self._stack = load_stack(self.options.assembly)
        if self._outbox_lock is None:
            self._outbox_lock = lock_outbox(self.options.outbox)
        self.server = make_server(HOST, self.options.port, self.edge, threaded=True, request_handler=MotoRequestHandler)

    def start(self) -> None:
        """Bind, provision and start everything; returns once the health route says ready."""
        self.bind()
        assert self.server is not None and self._stack is not None
        stack = self._stack
        # Our ASL runs for real (Retry, Catch, history); its Lambda and DynamoDB calls come back to the edge.
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        os.environ["MOTO_PORT"] = str(self.server.server_port)
        moved = retire_previous_run(self.options.outbox)
        if moved:
            _logger.info(
                "outbox emptied: %d emails of the previous run moved to %s", moved, self.options.outbox / PREVIOUS_RUN
            )
        self._server_thread = threading.Thread(target=self.server.serve_forever, name="edge", daemon=True)
        self._server_thread.start()
        hop("setup", "edge listening", endpoint=self.endpoint_url)

        clients = ClientFactory(self.endpoint_url)
        self.provisioned = Provisioner(stack, clients, self.endpoint_url).run()
        self.runtime = LambdaRuntime(self._lambda_environment())
        for spec in self.provisioned.functions:
            self.runtime.register(spec)
        self.edge.runtime = self.runtime
        if self.provisioned.api_id and self.provisioned.stage:
            self.edge.api = RestApi(
                self.provisioned.api_id, self.provisioned.stage, self.provisioned.routes, self.runtime.invoke
            )
        self._start_event_plumbing(clients)
        self.edge.console = create_app(self.endpoint_url, self.options.outbox, self.api_url, REGION)
        watcher = ExecutionWatcher(clients, list(self.provisioned.state_machines.values()))
        watcher.start()
        self._services.append(watcher)
        self.edge.health = self.health
        self.edge.ready = True

    def _lambda_environment(self) -> dict[str, str]:
        return FAKE_CREDENTIALS | {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # NOTE: there is no X-Ray daemon locally; Powertools Tracer is switched off rather than failing.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
        }

    def _start_event_plumbing(self, clients: ClientFactory) -> None:
        assert self.provisioned is not None and self.runtime is not None
        # NOTE: imported here: these modules are built alongside this one and may be missing while they are.
        try:
            from localcloud.email import Outbox
            from localcloud.eventbus import EventRouter, limit_moto_delivery
            from localcloud.streams import StreamMapping, StreamPoller
        except ImportError:
            _logger.exception("the event plumbing is missing: no stream, bus or email delivery in this run")
            return
        outbox = Outbox(self.options.outbox, _ses_templates)
        self.edge.outbox = outbox
        self.edge.faults = outbox.faults
        limit_moto_delivery()
        router = EventRouter(clients, account=ACCOUNT_ID, region=REGION)
        router.start()
        self._services.append(router)
        self.edge.router = router
        for properties, function_name in self.provisioned.stream_mappings:
            poller = StreamPoller(StreamMapping.from_template(properties, function_name), self.runtime.invoke, clients)
            poller.start()
            self._services.append(poller)

    def health(self) -> dict[str, Any]:
        """Readiness and every endpoint a script or a person needs."""
        assert self.provisioned is not None
        return {
            "ready": True,
            "apiUrl": self.api_url,
            "awsEndpoint": self.endpoint_url,
            "console": self.console_url,
            "region": REGION,
            "outbox": str(self.options.outbox.resolve()),
            "logFile": str(self.options.log_file.resolve()),
            "stackName": self.provisioned.stack_name,
            "stateMachines": self.provisioned.state_machines,
            "tables": self.provisioned.tables,
            "eventBuses": self.provisioned.event_buses,
            "functions": {spec.logical_id: spec.name for spec in self.provisioned.functions},
            "outputs": local_outputs(self.provisioned.outputs, self.console_url),
            "renderingFailures": [asdict(failure) for failure in getattr(self.edge.outbox, "rendering_failures", [])],
            "skipped": [
                {"logicalId": logical_id, "type": kind, "reason": why}
                for logical_id, kind, why in self.provisioned.skipped
            ],
        }

    def stop(self) -> None:
        """Stop pollers, router and watcher, then the server, then every Lambda worker."""
        for service in reversed(self._services):
            try:
                service.stop()
            except Exception:  # one piece failing to stop must not keep the others running
                _logger.exception("could not stop %s", type(service).__name__)
        self._services.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.runtime is not None:
            self.runtime.stop()
        if self._outbox_lock is not None:
            self._outbox_lock.release()
            self._outbox_lock = None
