"""Lambda's event source mapping for DynamoDB streams, run on the local cloud.

Public interface:

- ``StreamMapping``: the settings of one mapping. ``StreamMapping.from_template(properties, function_name)``
  reads the resolved properties of an ``AWS::Lambda::EventSourceMapping`` (``EventSourceArn``, ``BatchSize``,
  ``MaximumBatchingWindowInSeconds``, ``StartingPosition``, ``FilterCriteria``, ``FunctionResponseTypes``,
  ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``,
  ``DestinationConfig.OnFailure.Destination``, ``Enabled``).
- ``StreamPoller(mapping, invoke, clients, poll_interval_s=0.2, backoff_base_s=0.5, backoff_max_s=5.0,
  clock=time.time)``: ``start()`` runs a daemon thread that polls until ``stop(timeout)``; ``poll_once()``
  does one round synchronously (read every shard, invoke at most one batch per shard) and returns how many
  invocations it made; ``checkpoint(shard_id)`` is the sequence number of the last record that is done with.

Collaborators come in as arguments: ``invoke`` runs the function (``localcloud.types.Invoker``) and
``clients`` gives boto3 clients (``dynamodbstreams`` to read, ``sqs`` for the on-failure destination).

What Lambda does and this poller copies (Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB",
its pages on batching, error handling, partial batch responses and event filtering):

- Records of a shard are processed in order; a batch holds up to ``BatchSize`` records, and Lambda waits up
  to ``MaximumBatchingWindowInSeconds`` for a batch to fill.
- A record that matches none of the filter patterns is dropped without invoking and counts as processed.
- A failed batch is retried, with the records after it waiting: the shard stays in order. When retries run
  out (``MaximumRetryAttempts``) or records are older than ``MaximumRecordAgeInSeconds``, the records are
  discarded, described in a message to the on-failure destination, and the shard moves on.
- With ``BisectBatchOnFunctionError`` a batch whose invocation errors is split in two and each half retried.
- With ``ReportBatchItemFailures`` the function answers ``{"batchItemFailures": [{"itemIdentifier": seq}]}``;
  Lambda checkpoints before the lowest failed sequence number and retries from there.

NOTE: moto has an event source mapping of its own that empties the shard when it delivers; whoever wires
this poller must not also create the mapping in moto's Lambda backend.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.contract import PARTITION_KEY
from localcloud.hops import hop
from localcloud.patterns import Pattern
from localcloud.types import ClientFactory, Invoker, InvokeResult

_logger = logging.getLogger(__name__)

RETRY_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"
_READ_LIMIT = 1000


@dataclass(frozen=True)
class StreamMapping:
    """The settings of one DynamoDB stream event source mapping, with Lambda's defaults."""

    function_name: str
    stream_arn: str
    batch_size: int = 100
    maximum_batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    filter_patterns: list[dict[str, Any]] = field(default_factory=list)
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    on_failure_arn: str | None = None
    enabled: bool = True

    @classmethod
    def from_template(cls, properties: dict[str, Any], function_name: str) -> StreamMapping:
        """Build the mapping from the resolved properties of an ``AWS::Lambda::EventSourceMapping``."""
        filters = (properties.get("FilterCriteria") or {}).get("Filters") or []
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return cls(
            function_name=function_name,
            stream_arn=properties["EventSourceArn"],
            batch_size=int(properties.get("BatchSize", 100)),
            maximum_batching_window_s=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=properties.get("StartingPosition", "TRIM_HORIZON"),
            filter_patterns=[json.loads(item["Pattern"]) for item in filters],
            report_batch_item_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
            bisect_on_error=_as_bool(properties.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            maximum_record_age_s=int(properties.get("MaximumRecordAgeInSeconds", -1)),
            on_failure_arn=destination,
            enabled=_as_bool(properties.get("Enabled", True)),
        )


def _as_bool(value: Any) -> bool:
    # NOTE: a resolved CloudFormation template may carry booleans as the strings "true" and "false".
    return value.lower() == "true" if isinstance(value, str) else bool(value)


@dataclass
class _Batch:
    """Records sent together, and how far the checkpoint may move once they are done with."""

    records: list[dict[str, Any]]
    through: str
    failures: int = 0
    invocations: int = 0
    not_before: float = 0.0
    last_result: InvokeResult | None = None


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    buffer_through: str | None = None
    window_opened_at: float | None = None
    batches: deque[_Batch] = field(default_factory=deque)
    checkpoint: str | None = None


class StreamPoller:
    """Reads a DynamoDB stream and invokes one function with batches of its records, as Lambda does."""

    def __init__(
        self,
        mapping: StreamMapping,
        invoke: Invoker,
        clients: ClientFactory,
        poll_interval_s: float = 0.2,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mapping = mapping
        self._invoke = invoke
        self._clients = clients
        self._poll_interval_s = poll_interval_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._patterns = [Pattern(pattern) for pattern in mapping.filter_patterns]
        self._shards: dict[str, _Shard] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        _, _, _, self._region, self._account, _ = mapping.stream_arn.split(":", 5)

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:{self.mapping.function_name}"

    def start(self) -> None:
        """Poll in a daemon thread until ``stop``."""
        if self._thread is not None or not self.mapping.enabled:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.mapping.function_name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it, at most ``timeout`` seconds."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def checkpoint(self, shard_id: str) -> str | None:
        """The sequence number of the last record of the shard that is done with (None before any)."""
        shard = self._shards.get(shard_id)
        return shard.checkpoint if shard else None

    def poll_once(self) -> int:
        """Read every shard and invoke at most one batch per shard; return the number of invocations."""
        with self._lock:
            streams = self._clients("dynamodbstreams")
            description = streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]
            invocations = 0
            for shard_description in description.get("Shards", []):
                shard = self._shards.setdefault(shard_description["ShardId"], _Shard(shard_description["ShardId"]))
                invocations += self._poll_shard(streams, shard)
            return invocations

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                _logger.exception("Stream poll failed", extra={"function": self.mapping.function_name})
            self._stopping.wait(self._poll_interval_s)

    def _poll_shard(self, streams: Any, shard: _Shard) -> int:
        if not shard.batches:
            self._read(streams, shard)
            self._cut_batch(shard)
        if not shard.batches or shard.batches[0].not_before > self._clock():
            return 0
        return self._process(shard, shard.batches[0])

    def _read(self, streams: Any, shard: _Shard) -> None:
        if shard.iterator is None:
            shard.iterator = streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=shard.shard_id,
                ShardIteratorType=self.mapping.starting_position,
            )["ShardIterator"]
        while len(shard.buffer) < self.mapping.batch_size:
            response = streams.get_records(ShardIterator=shard.iterator, Limit=_READ_LIMIT)
            shard.iterator = response.get("NextShardIterator") or shard.iterator
            records = response.get("Records", [])
            if not records:
                return
            for record in records:
                self._take_in(shard, self._as_lambda_sees_it(record))

    def _as_lambda_sees_it(self, record: dict[str, Any]) -> dict[str, Any]:
        record = json.loads(json.dumps(record, default=_epoch_seconds))
        record["eventSourceARN"] = self.mapping.stream_arn
        return record

    def _take_in(self, shard: _Shard, record: dict[str, Any]) -> None:
        sequence = record["dynamodb"]["SequenceNumber"]
        if self._matches(record):
            if not shard.buffer:
                shard.window_opened_at = self._clock()
            shard.buffer.append(record)
            shard.buffer_through = sequence
        elif shard.buffer:
            shard.buffer_through = sequence
        elif shard.batches:
            shard.batches[-1].through = sequence
        else:
            shard.checkpoint = sequence

    def _matches(self, record: dict[str, Any]) -> bool:
        return not self._patterns or any(pattern.matches(record) for pattern in self._patterns)

    def _cut_batch(self, shard: _Shard) -> None:
        if not shard.buffer:
            return
        full = len(shard.buffer) >= self.mapping.batch_size
        window_over = self._clock() - (shard.window_opened_at or 0.0) >= self.mapping.maximum_batching_window_s
        if not (full or window_over):
            return
        records = shard.buffer[: self.mapping.batch_size]
        shard.buffer = shard.buffer[self.mapping.batch_size :]
        if shard.buffer:
            through = records[-1]["dynamodb"]["SequenceNumber"]
            shard.window_opened_at = self._clock()
        else:
            through = shard.buffer_through or records[-1]["dynamodb"]["SequenceNumber"]
            shard.window_opened_at = None
        shard.batches.append(_Batch(records=records, through=through))

    def _process(self, shard: _Shard, batch: _Batch) -> int:
        expired = self._expired(batch.records)
        if expired:
            self._discard(shard, batch, expired, RECORD_AGE_EXCEEDED)
            batch.records = batch.records[len(expired) :]
            if not batch.records:
                self._finish(shard)
                return 0

        result = self._invoke(self.mapping.function_name, {"Records": batch.records})
        batch.invocations += 1
        batch.last_result = result
        hop(
            "stream",
            "batch invoked",
            ",".join(_reservation_id(record) for record in batch.records),
            function=self.mapping.function_name,
            records=len(batch.records),
            error=result.function_error,
        )

        if result.failed:
            self._on_function_error(shard, batch)
            return 1
        failed_from = self._first_failed_index(batch, result)
        if failed_from is None:
            self._finish(shard)
        else:
            batch.records = batch.records[failed_from:]
            self._retry_or_discard(shard, batch)
        return 1

    def _first_failed_index(self, batch: _Batch, result: InvokeResult) -> int | None:
        """Where the retry starts: None when the whole batch succeeded, 0 when it failed as a whole."""
        if not self.mapping.report_batch_item_failures:
            return None
        try:
            response = json.loads(result.payload or b"null")
        except ValueError:
            return None
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return None
        positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch.records)}
        identifiers = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if any(not identifier or identifier not in positions for identifier in identifiers):
            _logger.warning("Batch item failure names no record of the batch: the whole batch failed")
            return 0
        return min(positions[identifier] for identifier in identifiers)

    def _on_function_error(self, shard: _Shard, batch: _Batch) -> None:
        if self.mapping.bisect_on_error and len(batch.records) > 1:
            middle = len(batch.records) // 2
            first = _Batch(batch.records[:middle], through=batch.records[middle - 1]["dynamodb"]["SequenceNumber"])
            second = _Batch(batch.records[middle:], through=batch.through)
            shard.batches.popleft()
            shard.batches.appendleft(second)
            shard.batches.appendleft(first)
            return
        self._retry_or_discard(shard, batch)

    def _retry_or_discard(self, shard: _Shard, batch: _Batch) -> None:
        batch.failures += 1
        limit = self.mapping.maximum_retry_attempts
        if limit != -1 and batch.failures > limit:
            self._discard(shard, batch, batch.records, RETRY_EXHAUSTED)
            self._finish(shard)
            return
        delay = min(self._backoff_base_s * 2 ** (batch.failures - 1), self._backoff_max_s)
        batch.not_before = self._clock() + delay

    def _finish(self, shard: _Shard) -> None:
        batch = shard.batches.popleft()
        shard.checkpoint = batch.through

    def _expired(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.mapping.maximum_record_age_s == -1:
            return []
        oldest_allowed = self._clock() - self.mapping.maximum_record_age_s
        expired = []
        for record in records:
            if record["dynamodb"]["ApproximateCreationDateTime"] >= oldest_allowed:
                break
            expired.append(record)
        return expired

    def _discard(self, shard: _Shard, batch: _Batch, records: list[dict[str, Any]], condition: str) -> None:
        """Tell the on-failure destination which records were given up, in the shape Lambda documents."""
        message = self._failure_message(shard, batch, records, condition)
        ids = ",".join(_reservation_id(record) for record in records)
        hop("stream", "records discarded", ids, function=self.mapping.function_name, condition=condition)
        destination = self.mapping.on_failure_arn
        if destination is None:
            _logger.error("Stream records discarded with no on-failure destination", extra={"condition": condition})
            return
        if ":sqs:" not in destination:
            _logger.error("Unsupported on-failure destination, records dropped", extra={"destination": destination})
            return
        _, _, _, _, account, queue_name = destination.split(":", 5)
        sqs = self._clients("sqs")
        queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))

    def _failure_message(
        self, shard: _Shard, batch: _Batch, records: list[dict[str, Any]], condition: str
    ) -> dict[str, Any]:
        response_context: dict[str, Any] = {"statusCode": 200 if batch.invocations else 0}
        response_context["executedVersion"] = "$LATEST"
        if batch.last_result is not None and batch.last_result.function_error:
            response_context["functionError"] = batch.last_result.function_error
        arrivals = [record["dynamodb"]["ApproximateCreationDateTime"] for record in records]
        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.invocations,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(self._clock(), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(min(arrivals)),
                "approximateArrivalOfLastRecord": _iso(max(arrivals)),
                "batchSize": len(records),
                "streamArn": self.mapping.stream_arn,
            },
        }


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"Cannot serialize {type(value).__name__}")


def _iso(epoch: float, milliseconds: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _reservation_id(record: dict[str, Any]) -> str:
    key = record.get("dynamodb", {}).get("Keys", {}).get(PARTITION_KEY, {})
    return key.get("S", "?")
