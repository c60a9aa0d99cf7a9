"""Reads an execution's event history: which state each event belongs to, retries, and each state's outcome.

Pure functions over the events ``get_execution_history`` returns, so the page, the JSON and the terminal agree.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

SUCCEEDED = "succeeded"
FAILED = "failed"
CAUGHT = "caught"
RUNNING = "running"
NOT_REACHED = "not-reached"
OUTCOMES = (SUCCEEDED, FAILED, CAUGHT, RUNNING, NOT_REACHED)

# The events that start one attempt at a state's work; a second one in the same visit is a retry.
_SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


@dataclass(frozen=True)
class HistoryRow:
    """One history event as the console shows it."""

    id: int
    type: str
    state: str | None
    time: datetime
    elapsed_ms: int
    attempt: int | None  # set on the events that schedule work: 1, then 2 for the first retry, ...
    retried: bool  # a failure that a retry followed, rather than a Catch or the end of the execution
    input: str | None
    output: str | None
    error: str | None
    cause: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "state": self.state,
            "elapsedMs": self.elapsed_ms,
            "attempt": self.attempt,
            "retried": self.retried,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
        }


def is_failure(event_type: str) -> bool:
    """Whether an event reports that a state's work failed (not the execution's own end)."""
    return not event_type.startswith("Execution") and event_type.endswith(("Failed", "TimedOut"))


def history_rows(events: list[dict[str, Any]]) -> list[HistoryRow]:
    """The events in order, each with its state, elapsed time since the start, attempt and error."""
    if not events:
        return []
    started = events[0]["timestamp"]
    current_state: str | None = None
    attempts: dict[str, int] = {}
    rows = []
    for event in events:
        details = _details(event)
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current_state = details.get("name")
            attempts[current_state or ""] = 0
        state = details.get("name") if kind.endswith(("StateEntered", "StateExited")) else current_state
        if kind.startswith("Execution"):
            state = None  # the execution's own start and end belong to no state, even after a Fail state
        attempt = None
        if kind in _SCHEDULED and state is not None:
            attempts[state] = attempts.get(state, 0) + 1
            attempt = attempts[state]
        rows.append(
            HistoryRow(
                id=event["id"],
                type=kind,
                state=state,
                time=event["timestamp"],
                elapsed_ms=round((event["timestamp"] - started).total_seconds() * 1000),
                attempt=attempt,
                retried=False,
                input=details.get("input") or details.get("parameters"),
                output=details.get("output"),
                error=details.get("error"),
                cause=details.get("cause"),
            )
        )
        if kind.endswith("StateExited"):
            current_state = None
    return [_mark_retry(row, rows[index + 1 :]) for index, row in enumerate(rows)]


def state_outcomes(events: list[dict[str, Any]], execution_status: str) -> dict[str, str]:
    """Each visited state's outcome in its latest visit; states never entered are absent (not reached)."""
    outcomes: dict[str, str] = {}
    last_attempt_failed: dict[str, bool] = {}
    current_state: str | None = None
    for event in events:
        kind = event["type"]
        name = _details(event).get("name")
        if kind.endswith("StateEntered") and name:
            current_state = name
            last_attempt_failed[name] = False
            outcomes[name] = FAILED if kind == "FailStateEntered" else RUNNING
        elif kind.endswith("StateExited") and name:
            outcomes[name] = CAUGHT if last_attempt_failed.get(name) else SUCCEEDED
            current_state = None
        elif current_state and kind in _SCHEDULED:
            last_attempt_failed[current_state] = False
        elif current_state and is_failure(kind):
            last_attempt_failed[current_state] = True
    if execution_status != "RUNNING":
        # A state still open when the execution ended was cut short: by its own failure, a timeout or an abort.
        outcomes = {name: FAILED if outcome == RUNNING else outcome for name, outcome in outcomes.items()}
    return outcomes


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The one ``...EventDetails`` member every history event carries (empty for those that have none)."""
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


def _mark_retry(row: HistoryRow, later: list[HistoryRow]) -> HistoryRow:
    if not is_failure(row.type) or row.state is None:
        return row
    for following in later:
        if following.state != row.state:
            continue
        if following.attempt is not None:
            return replace(row, retried=True)
        if following.type.endswith("StateExited"):
            return row
    return row
