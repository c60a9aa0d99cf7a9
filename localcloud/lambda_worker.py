"""One warm Lambda sandbox: imports a handler once, then runs one invocation per request line.

Started by ``lambda_runtime`` as ``python -m localcloud.lambda_worker`` with the function's code directory
as working directory. Requests and responses are JSON lines on two dedicated pipes (file descriptors named
in ``LOCALCLOUD_WORKER_FDS``), so whatever the handler prints on stdout or stderr is only ever log output.

Request: ``{"event": ..., "requestId": "...", "deadlineMs": <epoch ms>}``.
Response: ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"errorType", "errorMessage", "stackTrace"}}``.
"""

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

# NOTE: no import from the localcloud package: this module must not put the project on the handler's path.


class LambdaContext:
    """The context object with the attributes AWS documents for the Python runtime."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["LOCALCLOUD_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _isolate_code_path() -> None:
    """Make the function's code directory sys.path[0] and drop the project root that started this module."""
    project_root = os.environ.pop("LOCALCLOUD_PROJECT_ROOT", None)
    os.environ.pop("PYTHONPATH", None)
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd(), project_root)]
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])


def main() -> None:
    """Serve invocations until the request pipe closes."""
    read_fd, write_fd = (int(fd) for fd in os.environ.pop("LOCALCLOUD_WORKER_FDS").split(","))
    requests = os.fdopen(read_fd, "r", encoding="utf-8")
    responses = os.fdopen(write_fd, "w", encoding="utf-8")
    _isolate_code_path()

    def respond(message: dict[str, Any]) -> None:
        responses.write(json.dumps(message, default=str) + "\n")
        responses.flush()

    # An init error is reported on every invocation, as Lambda does.
    handler, init_error = None, None
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as error:
        traceback.print_exc()
        init_error = _error(error)
        if isinstance(error, ImportError):
            init_error["errorType"] = "Runtime.ImportModuleError"
    respond({"ready": True})

    for line in requests:
        request = json.loads(line)
        if handler is None or init_error is not None:
            respond({"ok": False, "error": init_error})
            continue
        context = LambdaContext(request["requestId"], request["deadlineMs"])
        try:
            result = handler(request["event"], context)
            respond({"ok": True, "result": json.loads(json.dumps(result))})
        except Exception as error:  # the runtime reports any handler error to the caller
            traceback.print_exc()
            respond({"ok": False, "error": _error(error)})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


if __name__ == "__main__":
    main()
