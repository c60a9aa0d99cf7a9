"""What the console shows, read through the same APIs a user has: boto3 against the local endpoint, and the outbox.

Nothing here touches moto's internals, so the console would show a real account just the same.
"""

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdas.shared.contract import PARTITION_KEY
from localcloud.hops import reservation_of

# NOTE: bounds keep one page load cheap however long the local cloud has run; a busy day has far fewer.
MAX_EXECUTIONS_PER_MACHINE = 200
MAX_HISTORY_EVENTS = 2000
MAX_ITEMS_PER_TABLE = 500
MAX_EMAILS = 500

MISSING_CODES = ("ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFoundException", "InvalidArn")

_CLIENT_CONFIG = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)


@dataclass(frozen=True)
class ExecutionSummary:
    """One execution as the executions list shows it."""

    arn: str
    name: str
    state_machine: str
    status: str
    start: datetime
    stop: datetime | None

    @property
    def duration_ms(self) -> int | None:
        return None if self.stop is None else round((self.stop - self.start).total_seconds() * 1000)

    def as_json(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "stateMachine": self.state_machine,
            "status": self.status,
            "start": format_time(self.start),
            "stop": format_time(self.stop) if self.stop else None,
            "durationMs": self.duration_ms,
        }


@dataclass(frozen=True)
class ExecutionDetail:
    """One execution with its state machine's definition and its whole event history."""

    summary: ExecutionSummary
    definition: dict[str, Any]
    input: str | None
    output: str | None
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Email:
    """One message of the outbox folder, parsed."""

    name: str  # the file's name, which is also its id in the console's links
    recipient: str
    sender: str
    subject: str
    time: datetime
    html: str | None
    text: str | None
    raw: str = field(repr=False)

    def mentions(self, text: str) -> bool:
        """Whether the subject, either body or the raw message contains ``text``."""
        return any(text in (part or "") for part in (self.subject, self.html, self.text, self.raw))


@dataclass(frozen=True)
class Reservation:
    """One item of a reservations table, with what the console links it to."""

    table: str
    reservation_id: str
    status: str
    item: dict[str, Any]
    executions: list[ExecutionSummary]
    emails: list[Email]


def format_time(moment: datetime) -> str:
    """A timestamp in UTC to the millisecond, the same on the page, in JSON and in the terminal."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class CloudReader:
    """Reads executions, histories and reservations from the local AWS endpoint, and emails from the outbox."""

    def __init__(self, endpoint_url: str, outbox: Path | None = None, region: str | None = None) -> None:
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        # NOTE: fixed fake credentials: the endpoint is the local cloud, which accepts any, and so no real
        # credential on this machine is ever sent anywhere.
        session = boto3.session.Session(
            aws_access_key_id="localcloud",
            aws_secret_access_key="localcloud",  # noqa: S106 - a placeholder the local endpoint accepts, not a secret
            region_name=region,
        )
        self._sfn = session.client("stepfunctions", endpoint_url=endpoint_url, config=_CLIENT_CONFIG)
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint_url, config=_CLIENT_CONFIG)
        self._outbox = outbox
        # An execution's input never changes once it has started, so it is read once per execution.
        self._inputs: dict[str, str] = {}

    def executions(self, status: str | None = None) -> list[ExecutionSummary]:
        """Every state machine's executions, newest first, optionally only those with one status."""
        found: list[ExecutionSummary] = []
        for machine in self._paginate(self._sfn, "list_state_machines", "stateMachines"):
            kwargs: dict[str, Any] = {"stateMachineArn": machine["stateMachineArn"]}
            if status:
                kwargs["statusFilter"] = status
            listed = self._paginate(
                self._sfn, "list_executions", "executions", limit=MAX_EXECUTIONS_PER_MACHINE, **kwargs
            )
            found.extend(_summary(execution, machine["name"]) for execution in listed)
        return sorted(found, key=lambda execution: execution.start, reverse=True)

    def execution_arn(self, arn_or_name: str) -> str | None:
        """The ARN of an execution given either its ARN or its name (the newest one of that name)."""
        if arn_or_name.startswith("arn:"):
            return arn_or_name
        return next((found.arn for found in self.executions() if found.name == arn_or_name), None)

    def execution(self, arn: str) -> ExecutionDetail:
        """One execution, its state machine's definition and its history in order."""
        described = self._sfn.describe_execution(executionArn=arn)
        machine = self._sfn.describe_state_machine(stateMachineArn=described["stateMachineArn"])
        events = self._paginate(
            self._sfn, "get_execution_history", "events", limit=MAX_HISTORY_EVENTS, executionArn=arn
        )
        return ExecutionDetail(
            summary=_summary(described, machine["name"]),
            definition=json.loads(machine["definition"]),
            input=described.get("input"),
            output=described.get("output"),
            error=described.get("error"),
            cause=described.get("cause"),
            events=events,
        )

    def execution_input(self, arn: str) -> str:
        """The input an execution started with (cached: it cannot change)."""
        if arn not in self._inputs:
            self._inputs[arn] = self._sfn.describe_execution(executionArn=arn).get("input") or ""
        return self._inputs[arn]

    def reservation_tables(self) -> list[str]:
        """The tables whose partition key is the reservation id."""
        tables = []
        for name in self._paginate(self._dynamodb, "list_tables", "TableNames"):
            keys = self._dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
            if any(key["AttributeName"] == PARTITION_KEY and key["KeyType"] == "HASH" for key in keys):
                tables.append(name)
        return tables

    def reservations(self) -> list[Reservation]:
        """Every reservation of every reservations table, each with its executions and emails."""
        executions = self.executions()
        inputs = {execution.arn: reservation_of(self.execution_input(execution.arn)) for execution in executions}
        emails = self.emails()
        found = []
        for table in self.reservation_tables():
            for raw in self._paginate(self._dynamodb, "scan", "Items", limit=MAX_ITEMS_PER_TABLE, TableName=table):
                item = {key: _deserializer.deserialize(value) for key, value in raw.items()}
                reservation_id = str(item.get(PARTITION_KEY, ""))
                found.append(
                    Reservation(
                        table=table,
                        reservation_id=reservation_id,
                        status=str(item.get("status", "")),
                        item=item,
                        executions=[e for e in executions if inputs[e.arn] == reservation_id],
                        emails=[email for email in emails if reservation_id and email.mentions(reservation_id)],
                    )
                )
        return sorted(found, key=lambda reservation: str(reservation.item.get("createdAt", "")), reverse=True)

    def emails(self) -> list[Email]:
        """Every .eml file in the outbox folder, newest first."""
        if self._outbox is None or not self._outbox.is_dir():
            return []
        files = sorted(self._outbox.glob("*.eml"), key=lambda path: path.stat().st_mtime, reverse=True)
        return [_parse_email(path) for path in files[:MAX_EMAILS]]

    def email(self, name: str) -> Email | None:
        """One email by its file name; only names that are in the outbox listing are ever opened."""
        return next((email for email in self.emails() if email.name == name), None)

    @staticmethod
    def _paginate(client: Any, operation: str, key: str, limit: int | None = None, **kwargs: Any) -> list[Any]:
        found: list[Any] = []
        for page in client.get_paginator(operation).paginate(**kwargs):
            found.extend(page.get(key, []))
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found


_deserializer = TypeDeserializer()


def is_missing(error: Exception) -> bool:
    """Whether an API error says the execution, state machine or table asked for does not exist.

    An ARN that is not an execution's (``arn:bogus``, or a state machine's) names nothing either: ``InvalidArn``.
    """
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    return code in MISSING_CODES


def _summary(execution: dict[str, Any], state_machine: str) -> ExecutionSummary:
    return ExecutionSummary(
        arn=execution["executionArn"],
        name=execution["name"],
        state_machine=state_machine,
        status=execution["status"],
        start=execution["startDate"],
        stop=execution.get("stopDate"),
    )


def _parse_email(path: Path) -> Email:
    content = path.read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(content)
    assert isinstance(message, EmailMessage)  # NOTE: policy.default always builds EmailMessage; this tells mypy
    return Email(
        name=path.name,
        recipient=_header(message, "To"),
        sender=_header(message, "From"),
        subject=_header(message, "Subject"),
        time=_email_time(message, path),
        html=_body(message, "html"),
        text=_body(message, "plain"),
        raw=content.decode("utf-8", errors="replace"),
    )


def _header(message: EmailMessage, name: str) -> str:
    """A header's value, unfolded: a fold right after the colon leaves a leading space that no one wrote."""
    return " ".join(str(message.get(name, "")).split())


def _email_time(message: EmailMessage, path: Path) -> datetime:
    try:
        return parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return str(part.get_content())
