"""A console for the local cloud: executions with their graph and history, the outbox, and reservations.

Mount ``create_app(...)`` anywhere (the local cloud serves it at ``/_localcloud/console/``); the terminal
views are in ``localcloud.console.cli``.
"""

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from localcloud.console.app import create_console

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def create_app(endpoint_url: str, outbox: Path, api_url: str | None = None, region: str | None = None) -> WsgiApp:
    """The console as a WSGI app, reading the AWS endpoint at ``endpoint_url`` and the ``.eml`` files in ``outbox``.

    ``api_url`` is the booking API's base URL, linked from every page when given; ``region`` is read from
    ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` when not given.
    """
    return create_console(endpoint_url, outbox, api_url, region)


__all__ = ["create_app"]
