"""The edge: one WSGI app on 127.0.0.1 that serves the local cloud's own routes and hands the rest to moto.

Requests are told apart as moto tells them apart, by the SigV4 credential scope's service and X-Amz-Target:

- ``/_localcloud/console...``: the console (``localcloud.console``), mounted there as a WSGI app;
- ``/_localcloud/...``: control routes (health; SES fault injection, POST to queue faults and GET to list them);
- until the local cloud is ready, unsigned requests (the API), Lambda ``Invoke`` and SES v2 ``SendEmail``:
  503 ``{"message": "local cloud is starting"}``, never moto's answer for a route it does not know;
- unsigned requests under the REST API's stage path: the API (``apigateway.RestApi``);
- Lambda ``Invoke``: the local Lambda runtime (moto would need Docker);
- SES v2 ``SendEmail``: the outbox;
- EventBridge ``PutEvents``: moto first (it stores and validates), then the accepted entries go to the router,
  which starts the state machines that moto's EventBridge does not deliver to;
- everything else: moto's own WSGI app, in this process.
"""

import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import run_wsgi_app
from werkzeug.wrappers import Request, Response

from localcloud.apigateway import RestApi
from localcloud.email import MAX_FAULTS, SesV2Error
from localcloud.hops import hop, reservation_in_detail
from localcloud.lambda_runtime import FunctionNotFound, LambdaRuntime

_logger = logging.getLogger("localcloud.edge")

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
CONSOLE_MOUNT = "/_localcloud/console"
STARTING = "local cloud is starting"
FAULT_COUNTS = ("throttle", "reject")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Outbox(Protocol):
    """What the edge needs of the SES v2 outbox (``localcloud.email.Outbox``)."""

    def send_email(self, request: dict[str, Any]) -> dict[str, Any]: ...


class Router(Protocol):
    """What the edge needs of the EventBridge fan-out (``localcloud.eventbus.EventRouter``)."""

    def dispatch(self, entries: list[dict[str, Any]], event_ids: list[str | None]) -> int: ...


class InvalidFaults(Exception):
    """A fault injection request the control route refuses; ``key`` names the offending key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def parse_faults(body: bytes) -> dict[str, Any]:
    """The faults asked for: a JSON object of ``clear: true`` and counts ``throttle``/``reject`` from 1 to 1000.

    ``clear`` empties the queue first, wherever it is in the body; the counts are then queued in the body's key
    order, so ``{"reject": 1, "throttle": 2}`` refuses the next call with a rejection, then two throttles.
    """
    try:
        faults = json.loads(body)
    except ValueError as error:
        raise InvalidFaults("the body is not JSON") from error
    if not isinstance(faults, dict):
        raise InvalidFaults("the body is not a JSON object")
    for key, value in faults.items():
        if key == "clear":
            if value is not True:
                raise InvalidFaults("clear must be true", key)
        elif key in FAULT_COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FAULTS:
                raise InvalidFaults(f"{key} must be an integer from 1 to {MAX_FAULTS}", key)
        else:
            raise InvalidFaults(f"unknown key {key!r}: expected clear, throttle or reject", key)
    return faults


def signed_service(environ: dict[str, Any]) -> str | None:
    """The service named in a SigV4 Authorization header's credential scope, or None for an unsigned request."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request", authorization)
    return match.group("service").lower() if match else None


def _error(status: int, code: str, message: str) -> Response:
    response = Response(json.dumps({"__type": code, "message": message}), status, content_type="application/json")
    response.headers["x-amzn-ErrorType"] = code
    return response


def _starting() -> Response:
    """The answer to a request that needs what provisioning has not finished creating."""
    response = Response(json.dumps({"message": STARTING}), 503, content_type="application/json")
    response.headers["Retry-After"] = "1"
    return response


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, left in place for whoever reads the environ next."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _name_unnamed_execution(environ: dict[str, Any]) -> None:
    """Give a StartExecution without a name a UUID name, as Step Functions does.

    NOTE: moto 5.2.5's executing Step Functions backend names such an execution "None", so the second one
    fails with ExecutionAlreadyExists. Maintenance: drop this when moto generates the name itself.
    """
    try:
        request = json.loads(_read_body(environ) or b"{}")
    except ValueError:
        return  # moto answers the malformed request
    if not isinstance(request, dict) or request.get("name"):
        return
    body = json.dumps(request | {"name": str(uuid.uuid4())}).encode()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


class Edge:
    """The WSGI app of the local cloud; its collaborators are attached once provisioning has created them."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.runtime: LambdaRuntime | None = None
        self.api: RestApi | None = None
        self.outbox: Outbox | None = None
        self.faults: Any = None
        self.router: Router | None = None
        self.console: WsgiApp | None = None
        self.health: Callable[[], dict[str, Any]] = lambda: {"ready": False}
        self.ready = False  # set once provisioning is done and every collaborator above is attached

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        service = signed_service(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if path == CONSOLE_MOUNT or path.startswith(CONSOLE_MOUNT + "/"):
            return self._console(environ, start_response)
        if path.startswith("/_localcloud/"):
            return self._control(Request(environ))(environ, start_response)
        invoke = _INVOKE_PATH.match(path)
        is_invoke = service == "lambda" and invoke is not None and environ["REQUEST_METHOD"] == "POST"
        is_send = service == "ses" and path.rstrip("/") == "/v2/email/outbound-emails"
        if not self.ready and (service is None or is_invoke or is_send):
            return _starting()(environ, start_response)
        if service is None and self.api is not None and self.api.serves(path):
            return self.api.handle(Request(environ))(environ, start_response)
        if is_invoke and invoke is not None:
            return self._invoke(Request(environ), invoke.group("function"))(environ, start_response)
        if is_send:
            return self._send_email(environ)(environ, start_response)
        if target == "AWSEvents.PutEvents":
            return self._put_events(environ)(environ, start_response)
        if target == "AWSStepFunctions.StartExecution":
            _name_unnamed_execution(environ)
        if target.startswith("DynamoDB_") and target.endswith(_WRITES):
            self._log_table_write(target.split(".", 1)[1], _read_body(environ))
        return self.moto(environ, start_response)

    def _console(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """The console, told its mount point through SCRIPT_NAME so that every link it builds stays under it."""
        if self.console is None:
            return _error(503, "NotReady", "the console is not running yet")(environ, start_response)
        if environ["PATH_INFO"] == CONSOLE_MOUNT:
            location = CONSOLE_MOUNT + "/" + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
            return Response(status=308, headers={"Location": location})(environ, start_response)
        mounted = environ | {
            "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + CONSOLE_MOUNT,
            "PATH_INFO": environ["PATH_INFO"][len(CONSOLE_MOUNT) :],
        }
        return self.console(mounted, start_response)

    def _control(self, request: Request) -> Response:
        if request.path == "/_localcloud/health":
            health = self.health()
            status = 200 if self.ready and health.get("ready") else 503
            return Response(json.dumps(health, default=str), status, content_type="application/json")
        if request.path == "/_localcloud/ses/faults" and request.method in ("GET", "POST"):
            if self.faults is None:
                return _starting()
            if request.method == "GET":
                return Response(json.dumps({"queued": self.faults.queued()}), content_type="application/json")
            try:
                faults = parse_faults(request.get_data())
            except InvalidFaults as error:
                answer = {"__type": "BadRequest", "message": error.message, "key": error.key}
                return Response(json.dumps(answer), 400, content_type="application/json")
            if faults.get("clear"):
                self.faults.clear()
            for key, count in faults.items():  # queued in the body's key order
                if key == "throttle":
                    self.faults.throttle_next(count)
                elif key == "reject":
                    self.faults.reject_next(count)
            return Response(json.dumps({"applied": faults}), content_type="application/json")
        return _error(404, "NotFound", f"no control route {request.method} {request.path}")

    def _invoke(self, request: Request, function: str) -> Response:
        if self.runtime is None:
            return _error(503, "ServiceException", "the Lambda runtime is not running yet")
        try:
            spec = self.runtime.find(function)
        except FunctionNotFound:
            return _error(404, "ResourceNotFoundException", f"Function not found: {function}")
        body = request.get_data() or b"{}"
        try:
            event = json.loads(body)
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return Response(status=204)
        if invocation_type == "Event":
            self.runtime.invoke_event(spec.name, event)
            return Response(status=202)
        result = self.runtime.invoke(spec.name, event)
        response = Response(result.payload, status=200, content_type="application/json")
        response.headers["X-Amz-Executed-Version"] = "$LATEST"
        if result.function_error:
            response.headers["X-Amz-Function-Error"] = result.function_error
        return response

    def _send_email(self, environ: dict[str, Any]) -> Response:
        if self.outbox is None:
            return _error(503, "ServiceException", "the outbox is not running yet")
        try:
            email_request = json.loads(_read_body(environ) or b"{}")
        except ValueError:
            return _error(400, "BadRequestException", "the request body is not JSON")
        try:
            answer = self.outbox.send_email(email_request)
        except SesV2Error as error:
            return _error(error.status, error.code, error.message)
        return Response(json.dumps(answer), content_type="application/json")

    def _put_events(self, environ: dict[str, Any]) -> Response:
        body = _read_body(environ)
        app_iter, status, headers = run_wsgi_app(self.moto, environ, buffered=True)
        answer = b"".join(app_iter)
        response = Response(answer, status=status, headers=headers)
        if self.router is None or not status.startswith("200"):
            return response
        entries = json.loads(body).get("Entries", [])
        results = json.loads(answer).get("Entries", [])
        event_ids = [result.get("EventId") for result in results]
        accepted = [entry for entry, event_id in zip(entries, event_ids, strict=False) if event_id]
        for entry in accepted:
            reservation_id = reservation_in_detail(entry.get("Detail"))
            hop("bus", "event accepted", reservation_id, detail_type=entry.get("DetailType"))
        if len(accepted) < len(entries):
            hop("bus", "events refused by PutEvents", refused=len(entries) - len(accepted))
        self.router.dispatch(entries, event_ids)
        return response

    @staticmethod
    def _log_table_write(operation: str, body: bytes) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            return
        key = request.get("Item") or request.get("Key") or {}
        reservation = key.get("reservationId", {}).get("S")
        if reservation:
            hop("table", operation, reservation, table=request.get("TableName"))
