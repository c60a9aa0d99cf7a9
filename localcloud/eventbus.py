"""EventBridge fan-out to Step Functions targets, run on the local cloud.

moto stores rules and targets and accepts PutEvents, but delivers only to SQS and CloudWatch Logs. This
router does the rest for state machine targets, after moto has accepted the call.

Public interface:

- ``EventRouter(clients, account="123456789012", region="us-east-1", cache_ttl_s=2.0, backoff_base_s=1.0,
  backoff_max_s=60.0, clock=time.time)``; ``clients`` gives boto3 clients (``events``, ``stepfunctions``,
  ``sqs``) pointed at the local endpoint.
- ``dispatch(entries, event_ids)``: the PutEvents request entries (``Source``, ``DetailType``, ``Detail`` as a
  JSON string, ``EventBusName`` as a name or ARN, ``Resources``, ``Time``) and the ids moto gave them (None for
  an entry it refused, which is skipped). Matches every entry against the ENABLED rules of its bus and queues
  one delivery per matching state machine target; returns the number queued.
- ``start()`` / ``stop(timeout)``: the delivery thread. ``drain(timeout) -> bool``: wait until nothing is
  queued or being delivered (tests). ``refresh()``: forget the cached rules and targets now.
- ``build_event(entry, event_id)``, ``target_input(target, event, rule_name, rule_arn)``: the pieces, usable
  alone; patterns are matched by ``localcloud.patterns``.
- ``limit_moto_delivery()``: call once before serving PutEvents through moto (see the NOTE on it).

What EventBridge does and this router copies (EventBridge user guide: "Amazon EventBridge events",
"Creating event patterns", "Transforming target input", "Event retry policy and using dead-letter queues"):

- The event a target receives is ``{version, id, detail-type, source, account, time, region, resources,
  detail}``, with ``detail`` an object.
- A target gets the whole event, or its ``Input`` constant, or the part at ``InputPath``, or the
  ``InputTransformer`` template filled from ``InputPathsMap``.
- A failed delivery is retried with exponential backoff until ``RetryPolicy.MaximumRetryAttempts`` (185) or
  ``MaximumEventAgeInSeconds`` (86400) is reached. Errors that retrying cannot fix (the target does not exist,
  no permission, invalid input) are not retried. When delivery gives up, the event goes to the target's
  ``DeadLetterConfig`` SQS queue with the attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
  EXHAUSTED_RETRY_CONDITION (when retries ran out) and RETRY_ATTEMPTS.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import Rule

from localcloud.hops import hop, reservation_of
from localcloud.patterns import Pattern
from localcloud.types import ClientFactory

_logger = logging.getLogger(__name__)

DEFAULT_BUS = "default"
MAXIMUM_RETRY_ATTEMPTS = "MaximumRetryAttempts"
MAXIMUM_EVENT_AGE = "MaximumEventAgeInSeconds"

# Errors that will fail the same way however often they are retried, and the ERROR_CODE EventBridge gives them.
_NOT_RETRIED = {
    "StateMachineDoesNotExist": "NO_RESOURCE",
    "ResourceNotFoundException": "NO_RESOURCE",
    "StateMachineDeleting": "NO_RESOURCE",
    "AccessDeniedException": "NO_PERMISSIONS",
    "InvalidArn": "INVALID_PARAMETER",
    "InvalidExecutionInput": "INVALID_JSON",
    "ValidationException": "INVALID_PARAMETER",
}
_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ExecutionLimitExceeded", "RequestLimitExceeded"}
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a target's delivery is retried; EventBridge's defaults."""

    maximum_retry_attempts: int = 185
    maximum_event_age_s: int = 86400

    @classmethod
    def of_target(cls, target: dict[str, Any]) -> RetryPolicy:
        policy = target.get("RetryPolicy") or {}
        return cls(
            maximum_retry_attempts=int(policy.get("MaximumRetryAttempts", 185)),
            maximum_event_age_s=int(policy.get("MaximumEventAgeInSeconds", 86400)),
        )


@dataclass(frozen=True)
class _Route:
    rule_name: str
    rule_arn: str
    pattern: Pattern
    targets: tuple[dict[str, Any], ...]


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    event: dict[str, Any] = field(compare=False)
    route: _Route = field(compare=False)
    target: dict[str, Any] = field(compare=False)
    accepted_at: float = field(compare=False)
    retries: int = field(default=0, compare=False)


class EventRouter:
    """Delivers events that moto accepted to the state machines their rules target, as EventBridge does."""

    def __init__(
        self,
        clients: ClientFactory,
        account: str = "123456789012",
        region: str = "us-east-1",
        cache_ttl_s: float = 2.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self.account = account
        self.region = region
        self._cache_ttl_s = cache_ttl_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._routes: dict[str, tuple[float, list[_Route]]] = {}
        self._queue: list[_Delivery] = []
        self._order = itertools.count()
        self._busy = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Deliver queued events in a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="eventbus-router", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the delivery thread; deliveries still queued are logged and dropped."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._queue:
            _logger.warning("Event router stopped with deliveries pending", extra={"pending": len(self._queue)})

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or being delivered; False if that did not happen within ``timeout``."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._queue and not self._busy, timeout)

    def refresh(self) -> None:
        """Forget the cached rules and targets, so the next event reads them again."""
        self._routes.clear()

    def dispatch(self, entries: list[dict[str, Any]], event_ids: list[str | None]) -> int:
        """Queue one delivery per state machine target of every rule that matches an accepted entry."""
        queued = 0
        now = self._clock()
        for entry, event_id in zip(entries, event_ids, strict=False):
            if event_id is None:
                continue
            event = self.build_event(entry, event_id)
            for route in self._routes_of(_bus_name(entry.get("EventBusName"))):
                if not route.pattern.matches(event):
                    continue
                for target in route.targets:
                    if _is_state_machine(target["Arn"]):
                        self._enqueue(_Delivery(now, next(self._order), event, route, target, accepted_at=now))
                        queued += 1
                    elif not _is_moto_delivered(target["Arn"]):
                        _logger.info("Target kind not delivered locally", extra={"target": target["Arn"]})
        return queued

    def build_event(self, entry: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """The event as EventBridge hands it to targets, from one PutEvents request entry."""
        return {
            "version": "0",
            "id": event_id or str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.account,
            "time": _event_time(entry.get("Time"), self._clock()),
            "region": self.region,
            "resources": list(entry.get("Resources") or []),
            "detail": json.loads(entry.get("Detail") or "{}"),
        }

    def _routes_of(self, bus: str) -> list[_Route]:
        cached = self._routes.get(bus)
        if cached is not None and self._clock() - cached[0] < self._cache_ttl_s:
            return cached[1]
        routes = self._read_routes(bus)
        self._routes[bus] = (self._clock(), routes)
        return routes

    def _read_routes(self, bus: str) -> list[_Route]:
        events = self._clients("events")
        routes = []
        for rule in _paged(events.list_rules, "Rules", EventBusName=bus):
            if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                continue
            targets = _paged(events.list_targets_by_rule, "Targets", Rule=rule["Name"], EventBusName=bus)
            pattern = Pattern(rule["EventPattern"])
            routes.append(_Route(rule["Name"], rule["Arn"], pattern, tuple(targets)))
        return routes

    def _enqueue(self, delivery: _Delivery) -> None:
        with self._condition:
            heapq.heappush(self._queue, delivery)
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and not self._due():
                    wait = self._queue[0].due - self._clock() if self._queue else 1.0
                    self._condition.wait(min(max(wait, 0.001), 1.0))
                if self._stopping:
                    return
                delivery = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._deliver(delivery)
            except Exception:
                _logger.exception("Event delivery crashed", extra={"target": delivery.target["Arn"]})
            finally:
                with self._condition:
                    self._busy -= 1
                    self._condition.notify_all()

    def _due(self) -> bool:
        return bool(self._queue) and self._queue[0].due <= self._clock()

    def _deliver(self, delivery: _Delivery) -> None:
        event, route, target = delivery.event, delivery.route, delivery.target
        reservation_id = reservation_of(event)
        try:
            payload = self.target_input(target, event, route.rule_name, route.rule_arn)
            execution = self._clients("stepfunctions").start_execution(stateMachineArn=target["Arn"], input=payload)
        except (ClientError, BotoCoreError) as error:
            self._on_failure(delivery, error, reservation_id)
            return
        hop(
            "bus",
            "execution started",
            reservation_id,
            detail_type=event["detail-type"],
            rule=route.rule_name,
            execution=execution["executionArn"],
        )

    def _on_failure(self, delivery: _Delivery, error: Exception, reservation_id: str | None) -> None:
        code, retried = _classify(error)
        policy = RetryPolicy.of_target(delivery.target)
        if not retried:
            self._give_up(delivery, code, error, None, reservation_id)
            return
        if delivery.retries >= policy.maximum_retry_attempts:
            self._give_up(delivery, code, error, MAXIMUM_RETRY_ATTEMPTS, reservation_id)
            return
        now = self._clock()
        delay = min(self._backoff_base_s * 2**delivery.retries, self._backoff_max_s)
        if now + delay - delivery.accepted_at > policy.maximum_event_age_s:
            self._give_up(delivery, code, error, MAXIMUM_EVENT_AGE, reservation_id)
            return
        delivery.retries += 1
        delivery.due = now + delay
        delivery.order = next(self._order)
        _logger.info("Event delivery will be retried", extra={"error_code": code, "retries": delivery.retries})
        self._enqueue(delivery)

    def _give_up(
        self, delivery: _Delivery, code: str, error: Exception, condition: str | None, reservation_id: str | None
    ) -> None:
        rule, target = delivery.route, delivery.target
        hop(
            "bus",
            "delivery failed",
            reservation_id,
            detail_type=delivery.event["detail-type"],
            rule=rule.rule_name,
            error=code,
            retries=delivery.retries,
        )
        dead_letter_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dead_letter_arn:
            _logger.error(
                "EVENT LOST: delivery gave up and the target has no dead-letter queue",
                extra={"rule": rule.rule_arn, "target": target["Arn"], "error_code": code, "event": delivery.event},
            )
            return
        attributes = {
            "RULE_ARN": rule.rule_arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": str(error),
            "RETRY_ATTEMPTS": str(delivery.retries),
        }
        if condition is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        _, _, _, _, account, queue_name = dead_letter_arn.split(":", 5)
        sqs = self._clients("sqs")
        queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(delivery.event),
            MessageAttributes={
                name: {"DataType": "Number" if name == "RETRY_ATTEMPTS" else "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )

    @staticmethod
    def target_input(target: dict[str, Any], event: dict[str, Any], rule_name: str, rule_arn: str) -> str:
        """What the target receives: the event, or ``Input``, ``InputPath`` or ``InputTransformer`` applied."""
        if target.get("Input") is not None:
            return str(target["Input"])
        if target.get("InputPath"):
            found, value = _at_path(event, target["InputPath"])
            return json.dumps(value if found else None)
        transformer = target.get("InputTransformer")
        if transformer:
            values: dict[str, Any] = {
                "aws.events.rule-name": rule_name,
                "aws.events.rule-arn": rule_arn,
                "aws.events.event": event,
                "aws.events.event.json": event,
                "aws.events.event.ingestion-time": event["time"],
            }
            for name, path in (transformer.get("InputPathsMap") or {}).items():
                found, value = _at_path(event, path)
                values[name] = value if found else None
            return _fill_template(transformer["InputTemplate"], values)
        return json.dumps(event)


def limit_moto_delivery() -> None:
    """Make moto's PutEvents deliver only to the targets moto supports, and only for ENABLED rules.

    NOTE: moto 5.2.5 raises NotImplementedError from PutEvents when a matching rule has a target it does not
    deliver to (a state machine, for one), so the call fails instead of being accepted; it also delivers for
    DISABLED rules. This wraps ``moto.events.models.Rule.send_to_targets`` so that moto handles its own kinds
    (SQS, Logs, buses, archives) and leaves state machines to ``EventRouter``.
    Maintenance: drop this when moto skips target kinds it does not support and honours the rule's state.
    """
    original = Rule.send_to_targets
    if getattr(original, "limited_by_localcloud", False):
        return

    def send_to_own_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
        if rule.state != "ENABLED":
            return
        own = copy.copy(rule)
        own.targets = [target for target in rule.targets if _is_moto_delivered(target["Arn"])]
        original(own, original_event, transform_input)

    send_to_own_targets.limited_by_localcloud = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_own_targets  # type: ignore[method-assign,assignment]


def _fill_template(template: str, values: dict[str, Any]) -> str:
    """Fill ``<name>`` placeholders as EventBridge does: inside a JSON string a text value goes in as its
    characters, elsewhere in a JSON template every value goes in as JSON; in a plain text template text
    values go in as they are."""
    is_json = template.lstrip().startswith(("{", "["))
    pieces = []
    position = 0
    for placeholder in _PLACEHOLDER.finditer(template):
        name = placeholder.group(1)
        if name not in values:
            continue
        pieces.append(template[position : placeholder.start()])
        value = values[name]
        inside_string = is_json and _inside_json_string(template, placeholder.start())
        if inside_string:
            text = value if isinstance(value, str) else json.dumps(value)
            pieces.append(json.dumps(text)[1:-1])
        elif is_json or not isinstance(value, str):
            pieces.append(json.dumps(value))
        else:
            pieces.append(value)
        position = placeholder.end()
    pieces.append(template[position:])
    return "".join(pieces)


def _inside_json_string(template: str, index: int) -> bool:
    inside = False
    escaped = False
    for character in template[:index]:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == '"':
            inside = not inside
    return inside


def _at_path(document: Any, path: str) -> tuple[bool, Any]:
    """Follow a JSONPath of the form ``$``, ``$.a.b`` or ``$.a['b-c']``; (False, None) when it leads nowhere."""
    if not path.startswith("$"):
        return False, None
    keys = re.findall(r"\.([^.\[\]]+)|\[['\"]([^'\"]+)['\"]\]|\[(\d+)\]", path[1:])
    current = document
    for dotted, quoted, number in keys:
        if number:
            if not isinstance(current, list) or int(number) >= len(current):
                return False, None
            current = current[int(number)]
            continue
        key = dotted or quoted
        if not isinstance(current, dict) or key not in current:
            return False, None
        current = current[key]
    return True, current


def _classify(error: Exception) -> tuple[str, bool]:
    """The DLQ ERROR_CODE of a failed call, and whether EventBridge would retry it."""
    if not isinstance(error, ClientError):
        return "CONNECTION_FAILURE", True
    code = error.response.get("Error", {}).get("Code", "")
    if code in _NOT_RETRIED:
        return _NOT_RETRIED[code], False
    if code in _THROTTLED:
        return "THROTTLING", True
    return "SDK_CLIENT_ERROR", True


def _paged(operation: Callable[..., dict[str, Any]], key: str, **arguments: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = operation(**arguments, **({"NextToken": token} if token else {}))
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return items


def _bus_name(name_or_arn: str | None) -> str:
    if not name_or_arn:
        return DEFAULT_BUS
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def _event_time(value: Any, now: float) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value:
        return value
    else:
        moment = datetime.fromtimestamp(now, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_state_machine(arn: str) -> bool:
    return arn.split(":")[2:3] == ["states"] and ":stateMachine:" in arn


def _is_moto_delivered(arn: str) -> bool:
    return arn.split(":")[2:3] in (["sqs"], ["logs"], ["events"])
