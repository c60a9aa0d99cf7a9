"""The console in a terminal: recent executions, and one execution's history, as plain text tables."""

import sys
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from localcloud.console.data import CloudReader, format_time, is_missing
from localcloud.console.timeline import history_rows

MAX_CELL = 60


class EndpointUnavailable(Exception):
    """Nothing answered at the endpoint, or it did not answer as the AWS APIs do."""

    def __init__(self, endpoint_url: str, error: Exception) -> None:
        if isinstance(error, EndpointConnectionError):
            message = f"nothing answers at {endpoint_url} (start the local cloud with bin/up, or pass --endpoint)"
        else:
            message = f"{endpoint_url} did not answer as the local cloud does: {' '.join(str(error).split())}"
        super().__init__(message)


def print_executions(
    endpoint_url: str, out: TextIO = sys.stdout, status: str | None = None, limit: int = 20, region: str | None = None
) -> None:
    """Print the newest ``limit`` executions, optionally of one status only, as a table.

    Columns: state machine, name, status, start and duration. Raises ``EndpointUnavailable``.
    """
    try:
        executions = _reader(endpoint_url, region).executions(status)[:limit]
    except (BotoCoreError, ClientError) as error:
        raise EndpointUnavailable(endpoint_url, error) from error
    if not executions:
        out.write("No executions" + (f" with status {status}" if status else "") + ".\n")
        return
    rows = [
        [
            execution.state_machine,
            execution.name,
            execution.status,
            format_time(execution.start),
            "" if execution.duration_ms is None else f"{execution.duration_ms} ms",
        ]
        for execution in executions
    ]
    _table(["STATE MACHINE", "NAME", "STATUS", "START", "DURATION"], rows, out)


def print_history(
    endpoint_url: str, execution_arn_or_name: str, out: TextIO = sys.stdout, region: str | None = None
) -> bool:
    """Print one execution's history (by ARN or name): id, type, state, elapsed, attempt, error and cause.

    Returns whether the execution was found. Raises ``EndpointUnavailable``.
    """
    reader = _reader(endpoint_url, region)
    try:
        arn = reader.execution_arn(execution_arn_or_name)
        detail = reader.execution(arn) if arn else None
    except (BotoCoreError, ClientError) as error:
        if not is_missing(error):
            raise EndpointUnavailable(endpoint_url, error) from error
        detail = None
    if detail is None:
        out.write(f"No execution {execution_arn_or_name}.\n")
        return False
    summary = detail.summary
    out.write(f"{summary.state_machine} / {summary.name}: {summary.status}\n")
    rows = []
    for row in history_rows(detail.events):
        note = f"attempt {row.attempt}" if row.attempt and row.attempt > 1 else ""
        note = "retried" if row.retried else note
        failure = ": ".join(part for part in (row.error, row.cause) if part)
        rows.append([str(row.id), row.type, row.state or "", f"{row.elapsed_ms} ms", note, failure])
    _table(["ID", "TYPE", "STATE", "ELAPSED", "RETRY", "ERROR / CAUSE"], rows, out)
    return True


def _reader(endpoint_url: str, region: str | None) -> CloudReader:
    return CloudReader(endpoint_url, region=region)  # the terminal views read no email, so no outbox


def _table(header: list[str], rows: list[list[str]], out: TextIO) -> None:
    cells = [[_cell(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    for row in cells:
        out.write("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip() + "\n")


def _cell(value: str) -> str:
    """One line, cut to a readable width; terminal control characters from the data are shown, not obeyed."""
    flat = " ".join(value.split())
    flat = "".join(char if char.isprintable() else "?" for char in flat)
    return flat if len(flat) <= MAX_CELL else flat[: MAX_CELL - 1] + "…"
