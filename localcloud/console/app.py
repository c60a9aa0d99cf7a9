"""The console's WSGI app: pages, their JSON, the sandboxed email frame and the static script and style.

It works mounted under any prefix: every link is built from the request's script root.
"""

import json
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from localcloud.console import pages
from localcloud.console.data import CloudReader, ExecutionDetail, is_missing
from localcloud.console.timeline import history_rows, state_outcomes

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# The email frame: no script, nothing fetched, its own opaque origin; links may open a new tab.
EMAIL_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    f"sandbox {pages.EMAIL_SANDBOX}"
)
STATIC_TYPES = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}

_routes = Map(
    [
        Rule("/", endpoint="executions"),
        Rule("/executions", endpoint="executions"),
        Rule("/execution", endpoint="execution"),
        Rule("/outbox", endpoint="outbox"),
        Rule("/outbox/html", endpoint="email_html"),
        Rule("/reservations", endpoint="reservations"),
        Rule("/api/executions", endpoint="api_executions"),
        Rule("/api/execution", endpoint="api_execution"),
        Rule("/static/<name>", endpoint="static"),
    ]
)


class Console:
    """The console app: one instance per local cloud, reading through one ``CloudReader``."""

    def __init__(self, reader: CloudReader, api_url: str | None = None) -> None:
        self._reader = reader
        self._api_url = api_url

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, arguments = _routes.bind_to_environ(environ).match()
            response = getattr(self, f"_{endpoint}")(request, **arguments)
        except HTTPException as error:
            response = self._error(request, error.code or 500, error.name, error.description or "")
        except (BotoCoreError, ClientError) as error:
            # NOTE: the local cloud may still be starting, or an execution may be gone after a restart.
            if is_missing(error):
                response = self._error(request, 404, "Not Found", str(error))
            else:
                message = f"The local AWS endpoint did not answer as expected: {error}"
                response = self._error(request, 503, "Unavailable", message)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        return response(environ, start_response)

    def _executions(self, request: Request) -> Response:
        status = _status(request)
        executions = self._reader.executions(status)
        return self._html(pages.executions_page(request.script_root, executions, status, self._api_url))

    def _execution(self, request: Request) -> Response:
        detail = self._execution_detail(request)
        return self._html(pages.execution_page(request.script_root, detail, self._api_url))

    def _outbox(self, request: Request) -> Response:
        emails = self._reader.emails()
        wanted = request.args.get("email")
        chosen = next((email for email in emails if email.name == wanted), None) if wanted else None
        if wanted and chosen is None:
            raise NotFound(f"No email {wanted} in the outbox.")
        shown = chosen or next(iter(emails), None)  # the newest, when none was chosen
        return self._html(pages.outbox_page(request.script_root, emails, shown, self._api_url))

    def _email_html(self, request: Request) -> Response:
        email = self._reader.email(request.args.get("email", ""))
        if email is None or email.html is None:
            raise NotFound("No such email with an HTML body in the outbox.")
        response = self._html(pages.email_document(email))
        response.headers["Content-Security-Policy"] = EMAIL_POLICY
        return response

    def _reservations(self, request: Request) -> Response:
        return self._html(pages.reservations_page(request.script_root, self._reader.reservations(), self._api_url))

    def _api_executions(self, request: Request) -> Response:
        executions = self._reader.executions(_status(request))
        return _json({"executions": [execution.as_json() for execution in executions]})

    def _api_execution(self, request: Request) -> Response:
        detail = self._execution_detail(request)
        return _json(
            {
                "execution": detail.summary.as_json(),
                "outcomes": state_outcomes(detail.events, detail.summary.status),
                "history": [row.as_json() for row in history_rows(detail.events)],
            }
        )

    def _static(self, request: Request, name: str) -> Response:
        if name not in STATIC_TYPES:  # only the files listed, never a path taken from the request
            raise NotFound()
        content = resources.files("localcloud.console").joinpath("static", name).read_bytes()
        return Response(content, content_type=STATIC_TYPES[name])

    def _execution_detail(self, request: Request) -> ExecutionDetail:
        """The execution asked for by ``arn`` or ``name``; a 404 when there is none, or the ARN names none."""
        wanted = request.args.get("arn") or request.args.get("name") or ""
        arn = self._reader.execution_arn(wanted) if wanted else None
        if arn is None:
            raise NotFound(f"No execution {wanted}.")
        try:
            return self._reader.execution(arn)
        except ClientError as error:
            if is_missing(error):
                raise NotFound(f"No execution {wanted}.") from error
            raise

    def _error(self, request: Request, status: int, name: str, message: str) -> Response:
        """An error as the route asked for would answer: JSON under ``api/``, a page everywhere else."""
        if request.path.startswith("/api/"):
            response = _json({"error": name, "message": message})
        else:
            response = self._html(pages.message_page(request.script_root, name, message))
        response.status_code = status
        return response

    @staticmethod
    def _html(text: str) -> Response:
        return Response(text, content_type="text/html; charset=utf-8")


def create_console(endpoint_url: str, outbox: Path, api_url: str | None = None, region: str | None = None) -> Console:
    """The console for the local cloud at ``endpoint_url``, showing the emails written to ``outbox``."""
    return Console(CloudReader(endpoint_url, outbox, region), api_url)


def _status(request: Request) -> str | None:
    status = request.args.get("status") or None
    if status is not None and status not in pages.STATUSES:
        raise BadRequest(f"Unknown status {status}.")
    return status


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, default=str), content_type="application/json")
