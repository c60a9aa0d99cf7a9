"""Small types shared by the pieces of the local cloud, so that each piece can be built and tested alone."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.client import BaseClient


@dataclass(frozen=True)
class InvokeResult:
    """What a Lambda invocation gave back, as the Invoke API reports it."""

    payload: bytes
    function_error: str | None = None  # None when the handler returned; "Unhandled" when it raised or timed out

    @property
    def failed(self) -> bool:
        return self.function_error is not None


# Runs one function synchronously with one event: Invoker("BookingApi...", {...}) -> InvokeResult.
Invoker = Callable[[str, dict[str, Any]], InvokeResult]


class ClientFactory(Protocol):
    """Gives a boto3 client for a service, pointed at the local endpoint."""

    def __call__(self, service_name: str) -> BaseClient: ...
