"""API Gateway REST API with Lambda proxy integrations, served under its stage path on the edge.

``RestApi`` matches a request to the template's resources and methods, rejects what API Gateway rejects before
any Lambda runs (unknown path or method: 403 "Missing Authentication Token"; body over 10 MB: 413), builds the
Lambda proxy event in API Gateway's documented shape, and maps the function's answer back to HTTP (a function
error or a malformed answer: 502; a timeout: 504).
"""

import base64
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localcloud.hops import hop
from localcloud.lambda_runtime import TIMEOUT_ERROR
from localcloud.template import ACCOUNT_ID
from localcloud.types import Invoker, InvokeResult

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class Route:
    """One method of one API resource, integrated with one function (by name or ARN)."""

    resource_id: str
    resource_path: str  # as in the template, e.g. /confirmReservation/{reservationId}
    http_method: str  # GET, POST, ... or ANY
    function: str

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` (without the stage) is this resource's path, else None."""
        pattern = [part for part in self.resource_path.split("/") if part]
        parts = [part for part in path.split("/") if part]
        parameters: dict[str, str] = {}
        for index, segment in enumerate(pattern):
            if segment.startswith("{") and segment.endswith("+}"):
                if index >= len(parts):
                    return None
                parameters[segment[1:-2]] = "/".join(parts[index:])
                return parameters
            if index >= len(parts):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                parameters[segment[1:-1]] = parts[index]
            elif segment != parts[index]:
                return None
        return parameters if len(parts) == len(pattern) else None

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal segments over parameters, and parameters over greedy ones."""
        segments = [part for part in self.resource_path.split("/") if part]
        literal = sum(1 for part in segments if not part.startswith("{"))
        greedy = sum(1 for part in segments if part.endswith("+}"))
        return (-greedy, literal)


def _json_response(status: int, message: str, error_type: str | None = None) -> Response:
    response = Response(json.dumps({"message": message}), status=status, content_type="application/json")
    if error_type:
        response.headers["x-amzn-ErrorType"] = error_type
    return response


def proxy_event(
    request: Request, route: Route, path_parameters: dict[str, str], api_id: str, stage: str, body: bytes
) -> dict[str, Any]:
    """The Lambda proxy integration event for one request, as API Gateway REST APIs send it."""
    resource_path = request.path[len(stage) + 1 :] or "/"
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string.decode(), keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    host = request.host
    return {
        "resource": route.resource_path,
        "path": resource_path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": route.resource_id,
            "resourcePath": route.resource_path,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": request.path,
            "accountId": ACCOUNT_ID,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": stage,
            "domainPrefix": host.split(".", 1)[0],
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.remote_addr,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.headers.get("User-Agent"),
                "user": None,
            },
            "domainName": host,
            "apiId": api_id,
        },
        "body": text if body else None,
        "isBase64Encoded": encoded and bool(body),
    }


class MalformedProxyResponse(Exception):
    """The function's answer is not a valid Lambda proxy response."""


def proxy_response(result: InvokeResult) -> Response:
    """The HTTP response for a function's answer, or 502/504 as API Gateway answers a failed integration."""
    if result.failed:
        error = json.loads(result.payload or b"{}")
        if isinstance(error, dict) and error.get("errorType") == TIMEOUT_ERROR:
            return _json_response(504, "Endpoint request timed out")
        return _json_response(502, "Internal server error")
    try:
        return _to_response(json.loads(result.payload))
    except (MalformedProxyResponse, ValueError, TypeError):
        return _json_response(502, "Internal server error")


def _to_response(answer: Any) -> Response:
    if not isinstance(answer, dict) or isinstance(answer.get("statusCode"), bool):
        raise MalformedProxyResponse("not an object with a statusCode")
    status = int(answer.get("statusCode", 200))
    body = answer.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse("body is not a string")
    headers = Headers()
    for name, value in (answer.get("headers") or {}).items():
        headers[name] = str(value)
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers.remove(name)
        for value in values:
            headers.add(name, str(value))
    raw = base64.b64decode(body) if body and answer.get("isBase64Encoded") else (body or "").encode()
    return Response(raw, status=status, headers=headers)


class RestApi:
    """One REST API stage with its routes, answering on ``/<stage>/...``."""

    def __init__(self, api_id: str, stage: str, routes: list[Route], invoke: Invoker) -> None:
        self.api_id = api_id
        self.stage = stage
        self.routes = sorted(routes, key=lambda route: route.specificity, reverse=True)
        self._invoke = invoke

    def serves(self, path: str) -> bool:
        return path == f"/{self.stage}" or path.startswith(f"/{self.stage}/")

    def handle(self, request: Request) -> Response:
        path = request.path[len(self.stage) + 1 :] or "/"
        matched = self._find(path, request.method)
        if matched is None:
            hop("api", "rejected", method=request.method, path=request.path, status=403)
            return _json_response(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        route, parameters = matched
        length = request.content_length or 0
        body = request.stream.read(MAX_BODY_BYTES + 1) if length <= MAX_BODY_BYTES else b""
        if length > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
            hop("api", "rejected", method=request.method, path=request.path, status=413)
            return _json_response(413, "Request Too Long")
        event = proxy_event(request, route, parameters, self.api_id, self.stage, body)
        response = proxy_response(self._invoke(route.function, event))
        hop(
            "api",
            f"{request.method} {route.resource_path}",
            parameters.get("reservationId") or _reservation_id(response),
            status=response.status_code,
        )
        return response

    def _find(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """The resource that matches the path most specifically, then its method (API Gateway's order)."""
        for route in self.routes:
            parameters = route.match(path)
            if parameters is None:
                continue
            methods = [other for other in self.routes if other.resource_path == route.resource_path]
            for candidate in sorted(methods, key=lambda other: other.http_method == "ANY"):
                if candidate.http_method in (method, "ANY"):
                    return candidate, parameters
            return None
        return None


def _reservation_id(response: Response) -> str | None:
    if response.mimetype != "application/json":
        return None
    try:
        answer = json.loads(response.get_data())
    except ValueError:
        return None
    return answer.get("reservationId") if isinstance(answer, dict) else None
