"""Runs Lambda functions in warm worker processes, one small pool per function (implements ``types.Invoker``).

Each worker is ``python -m localcloud.lambda_worker`` started in the function's code directory with the
function's environment. Workers are reused between invocations; a pool grows under concurrency up to a bound,
and callers beyond it wait for a free worker. The template's Timeout is enforced: the worker is killed and the
caller gets the Unhandled ``Sandbox.Timedout`` error Lambda returns. A worker that dies is replaced by the next
invocation. The handler's stdout and stderr are logged line by line, prefixed with the function's logical id.
"""

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from localcloud.hops import escape, hop
from localcloud.types import InvokeResult

_logger = logging.getLogger("localcloud.lambda")
_function_logger = logging.getLogger("localcloud.function")

TIMEOUT_ERROR = "Sandbox.Timedout"
INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase of a standard function
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class FunctionNotFound(Exception):
    """No function with that name or ARN was provisioned."""


@dataclass(frozen=True)
class FunctionSpec:
    """What the runtime needs to know of one provisioned function."""

    logical_id: str
    name: str
    handler: str
    code_dir: Path
    timeout_s: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}"


class _WorkerGone(Exception):
    """The worker process exited or closed its response pipe."""


class _Worker:
    """One worker process and its two dedicated pipes."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str]) -> None:
        self.spec = spec
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        env = environment | {"LOCALCLOUD_WORKER_FDS": f"{to_child_read},{from_child_write}"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.lambda_worker"],
            cwd=spec.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(to_child_read, from_child_write),
            # Ctrl-C reaches the local cloud only, which then stops its workers; a worker whose parent is gone
            # sees its request pipe close and exits.
            start_new_session=True,
        )
        os.close(to_child_read)
        os.close(from_child_write)
        self._buffer = b""
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._log_lines, args=(stream,), daemon=True).start()
        ready = self._read_line(time.monotonic() + max(INIT_TIMEOUT_S, spec.timeout_s))
        if ready is None:
            self.kill()
            raise _WorkerGone(f"{spec.logical_id} did not finish its init phase in time")

    def _log_lines(self, stream: IO[bytes] | None) -> None:
        assert stream is not None  # both streams are pipes
        for raw in stream:
            # NOTE: one output line is one log line; a carriage return or a terminal escape in it is written escaped.
            _function_logger.info("%s | %s", self.spec.logical_id, escape(raw.decode(errors="replace").rstrip()))

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        """The next response line, or None when the deadline passes first."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self._from_child], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                raise _WorkerGone(f"{self.spec.logical_id} worker exited with status {self.process.wait()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def call(self, event: Any, request_id: str) -> dict[str, Any] | None:
        """The worker's response to one invocation, or None when it ran past the function's timeout."""
        deadline = time.monotonic() + self.spec.timeout_s
        deadline_ms = int((time.time() + self.spec.timeout_s) * 1000)
        request = json.dumps({"event": event, "requestId": request_id, "deadlineMs": deadline_ms}) + "\n"
        try:
            os.write(self._to_child, request.encode())
        except OSError as error:
            raise _WorkerGone(f"{self.spec.logical_id} worker is not reading requests") from error
        return self._read_line(deadline)

    def kill(self) -> None:
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                _logger.debug("pipe of a worker of %s already closed", self.spec.logical_id)
        self.process.kill()
        self.process.wait(timeout=5)


class _Pool:
    """The warm workers of one function: idle ones are reused, new ones started up to ``limit``."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], limit: int) -> None:
        self.spec = spec
        self._environment = environment
        self._limit = limit
        self._idle: list[_Worker] = []
        self._size = 0
        self._changed = threading.Condition()
        self.closed = False

    def acquire(self) -> _Worker:
        with self._changed:
            while not self._idle and self._size >= self._limit:
                self._changed.wait(timeout=1.0)
            if self._idle:
                return self._idle.pop()
            self._size += 1
        try:
            return _Worker(self.spec, self._environment)
        except BaseException:
            self.release(None)
            raise

    def release(self, worker: _Worker | None) -> None:
        """Give a healthy worker back, or None for one that was killed or never started."""
        with self._changed:
            if worker is not None and not self.closed:
                self._idle.append(worker)
            else:
                self._size -= 1
                if worker is not None:
                    worker.kill()
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
        for worker in idle:
            worker.kill()


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class LambdaRuntime:
    """The local Lambda service: functions by name or ARN, invoked synchronously or as events."""

    def __init__(self, base_environment: dict[str, str], workers_per_function: int = 4) -> None:
        self._base_environment = base_environment
        self._workers_per_function = workers_per_function
        self._pools: dict[str, _Pool] = {}
        self._events = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-event")

    def register(self, spec: FunctionSpec) -> None:
        environment = (
            self._base_environment
            | spec.environment
            | {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
                "LOCALCLOUD_FUNCTION_ARN": spec.arn,
                "LOCALCLOUD_PROJECT_ROOT": str(PROJECT_ROOT),
                "PYTHONPATH": str(PROJECT_ROOT),
                "PYTHONUNBUFFERED": "1",
                "_HANDLER": spec.handler,
            }
        )
        self._pools[spec.name] = _Pool(spec, environment, self._workers_per_function)

    @property
    def functions(self) -> list[FunctionSpec]:
        return [pool.spec for pool in self._pools.values()]

    def find(self, name_or_arn: str) -> FunctionSpec:
        """The function named by its name, its ARN (qualified or not) or its logical id."""
        name = name_or_arn.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in name_or_arn else name_or_arn
        if name in self._pools:
            return self._pools[name].spec
        for pool in self._pools.values():
            if pool.spec.logical_id == name:
                return pool.spec
        raise FunctionNotFound(name_or_arn)

    def invoke(self, name_or_arn: str, event: Any) -> InvokeResult:
        """Run one invocation and wait for it (RequestResponse)."""
        pool = self._pools[self.find(name_or_arn).name]
        request_id = str(uuid.uuid4())
        try:
            worker = pool.acquire()
        except _WorkerGone as error:
            return self._exit_error(pool.spec, request_id, error)
        try:
            response = worker.call(event, request_id)
        except _WorkerGone as error:
            worker.kill()
            pool.release(None)
            return self._exit_error(pool.spec, request_id, error)
        if response is None:
            worker.kill()
            pool.release(None)
            hop("lambda", "timed out", function=pool.spec.logical_id, timeout_s=pool.spec.timeout_s)
            message = f"RequestId: {request_id} Error: Task timed out after {pool.spec.timeout_s:.2f} seconds"
            return InvokeResult(_error_payload(TIMEOUT_ERROR, message), "Unhandled")
        pool.release(worker)
        if response["ok"]:
            return InvokeResult(json.dumps(response["result"]).encode())
        return InvokeResult(json.dumps(response["error"]).encode(), "Unhandled")

    @staticmethod
    def _exit_error(spec: FunctionSpec, request_id: str, error: Exception) -> InvokeResult:
        _logger.warning("worker of %s died: %s", spec.logical_id, error)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {error}"
        return InvokeResult(_error_payload("Runtime.ExitError", message), "Unhandled")

    def invoke_event(self, name_or_arn: str, event: Any) -> None:
        """Queue one asynchronous invocation (InvocationType Event); its outcome is only logged.

        NOTE: Lambda retries a failed asynchronous invocation twice and can send it to a destination; this
        runtime does neither, since nothing in the stack invokes a function asynchronously.
        """
        self.find(name_or_arn)

        def run() -> None:
            result = self.invoke(name_or_arn, event)
            if result.failed:
                _logger.warning(
                    "event invocation of %s failed: %s", name_or_arn, escape(result.payload.decode(errors="replace"))
                )

        self._events.submit(run)

    def stop(self) -> None:
        """Kill every worker; no invocation is accepted afterwards."""
        self._events.shutdown(wait=False, cancel_futures=True)
        for pool in self._pools.values():
            pool.close()
