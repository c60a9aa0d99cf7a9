"""One log line per hop of a booking (api, table, stream, bus, execution, email), keyed by reservation id.

A person follows one booking through the local cloud by grepping its reservation id in this log.
"""

import logging
from typing import Any

_logger = logging.getLogger("localcloud.hops")

HOPS = ("api", "table", "stream", "bus", "execution", "email", "lambda", "setup")


def hop(stage: str, message: str, reservation_id: str | None = None, **context: Any) -> None:
    """Log one hop: ``[stage] reservation=<id> message key=value ...``."""
    keys = " ".join(f"{key}={value}" for key, value in context.items() if value is not None)
    reservation = f"reservation={reservation_id} " if reservation_id else ""
    _logger.info("[%s] %s%s%s", stage, reservation, message, f" {keys}" if keys else "")
