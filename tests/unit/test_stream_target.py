"""stream_target: which stream records become events, and how failures come back as batchItemFailures."""

import copy
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from shared.errors import RecordNotMappable
from stream_target import mapping

RESERVATION_ID = "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
BOOKED_DETAIL = {
    "reservationId": RESERVATION_ID,
    "status": "PENDING",
    "dateTime": "2030-01-01T19:30:00+01:00",
    "partySize": 4,
    "createdAt": "2029-12-01T10:00:00+00:00",
}


def _batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def _record(event: Any, name: str, sequence_number: str | None = None, reservation_id: str | None = None) -> dict:
    record = copy.deepcopy(event(name)["Records"][0])
    if sequence_number is not None:
        record["dynamodb"]["SequenceNumber"] = sequence_number
    if reservation_id is not None:
        for image in ("NewImage", "OldImage"):
            if image in record["dynamodb"]:
                record["dynamodb"][image]["reservationId"] = {"S": reservation_id}
    return record


def _entry(bus: str, detail_type: str, detail: dict[str, Any]) -> dict[str, str]:
    return {
        "Source": "restaurant.booking",
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":")),
        "EventBusName": bus,
    }


def _accepted(count: int) -> dict[str, Any]:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": f"id-{index}"} for index in range(count)]}


def test_stream_target_insert_reaches_the_bus(stream_target, event, lambda_context):
    # GIVEN a rule on the bus that copies booking events to a queue
    bus = stream_target.CONFIG.event_bus_name
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="booked")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    pattern = {"source": ["restaurant.booking"], "detail-type": ["OnRestaurantBooked"]}
    events.put_rule(Name="booked", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="booked", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

    # WHEN the INSERT of a PENDING reservation arrives
    result = stream_target.handler(event("stream_insert_pending"), lambda_context)

    # THEN no record failed and the event on the bus carries the contract's detail, without name or email
    assert result == {"batchItemFailures": []}
    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["detail-type"] == "OnRestaurantBooked"
    assert delivered["source"] == "restaurant.booking"
    assert delivered["detail"] == BOOKED_DETAIL


def test_stream_target_insert_emits_booked_event(stream_target, event, lambda_context):
    # GIVEN the INSERT of a PENDING reservation
    bus = stream_target.CONFIG.event_bus_name
    expected = {"Entries": [_entry(bus, "OnRestaurantBooked", BOOKED_DETAIL)]}

    # WHEN the target handles it
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", _accepted(1), expected)
        result = stream_target.handler(event("stream_insert_pending"), lambda_context)
        stub.assert_no_pending_responses()

    # THEN exactly that event was put, numbers as numbers, and nothing failed
    assert result == {"batchItemFailures": []}


def test_stream_target_confirming_modify_emits_confirmed_event(stream_target, event, lambda_context, log_output):
    # GIVEN a MODIFY from PENDING to CONFIRMED
    bus = stream_target.CONFIG.event_bus_name
    detail = {**BOOKED_DETAIL, "status": "CONFIRMED", "confirmedAt": "2029-12-02T08:15:00+00:00"}
    expected = {"Entries": [_entry(bus, "OnReservationConfirmed", detail)]}

    # WHEN the target handles it
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", _accepted(1), expected)
        result = stream_target.handler(event("stream_modify_confirmed"), lambda_context)
        stub.assert_no_pending_responses()

    # THEN the confirmation event was put, and logged once with its reservation id and detail-type
    assert result == {"batchItemFailures": []}
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if "Event emitted" in line]
    assert [(line["reservationId"], line["detailType"]) for line in lines] == [
        (RESERVATION_ID, "OnReservationConfirmed")
    ]


def test_stream_target_ignores_other_changes(stream_target, event, lambda_context):
    # GIVEN a MODIFY that only stores the token hash, a REMOVE and a TTL REMOVE, and an INSERT not PENDING
    not_pending = _record(event, "stream_insert_pending", "100000000000000000009")
    not_pending["dynamodb"]["NewImage"]["status"] = {"S": "CONFIRMED"}
    batch = _batch(
        _record(event, "stream_modify_token_stored"),
        _record(event, "stream_remove"),
        _record(event, "stream_remove_ttl"),
        not_pending,
    )

    # WHEN the target handles them (the stub has no response: any PutEvents call would fail the test)
    with Stubber(stream_target.EVENTS):
        result = stream_target.handler(batch, lambda_context)

    # THEN nothing is emitted and every record succeeds
    assert result == {"batchItemFailures": []}


def test_stream_target_fails_the_refused_entry_and_every_record_after_it(stream_target, event, lambda_context):
    # GIVEN three bookings, of which EventBridge refuses the second
    batch = _batch(
        *(
            _record(
                event,
                "stream_insert_pending",
                f"20000000000000000000{index}",
                f"{index}f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f",
            )
            for index in range(3)
        )
    )
    response = {
        "FailedEntryCount": 1,
        "Entries": [
            {"EventId": "id-0"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"},
            {"EventId": "id-2"},
        ],
    }

    # WHEN the target handles them
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", response)
        result = stream_target.handler(batch, lambda_context)

    # THEN the second record and the third, which Lambda redelivers from that checkpoint anyway, are reported
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "200000000000000000001"},
            {"itemIdentifier": "200000000000000000002"},
        ]
    }


def test_stream_target_fails_every_record_of_a_failed_call(stream_target, event, lambda_context):
    # GIVEN a booking, an ignored REMOVE, and a PutEvents call that fails outright
    batch = _batch(_record(event, "stream_insert_pending"), _record(event, "stream_remove", "100000000000000000002"))

    # WHEN the target handles them
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_client_error("put_events", service_error_code="ThrottlingException", http_status_code=400)
        result = stream_target.handler(batch, lambda_context)

    # THEN the booking's record fails, and so does the REMOVE after it, since Lambda redelivers it with the booking
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "100000000000000000001"},
            {"itemIdentifier": "100000000000000000002"},
        ]
    }


def _parked(stream_target: Any) -> list[dict[str, Any]]:
    """The bodies of the messages waiting in the stream target's failed-records queue."""
    queue_url = stream_target.CONFIG.failed_records_queue_url
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


def test_stream_target_parks_an_unmappable_record_and_publishes_the_next(stream_target, event, lambda_context):
    # GIVEN an item written around the API (valid id, PENDING, party of 0), then a real guest's booking
    bad_id = "66666666-6666-4666-8666-666666666666"
    bad = _record(event, "stream_insert_pending", "310000000000000000001", bad_id)
    bad["dynamodb"]["Keys"]["reservationId"] = {"S": bad_id}
    bad["dynamodb"]["NewImage"]["partySize"] = {"N": "0"}
    good = _record(event, "stream_insert_pending", "310000000000000000002")
    bus = stream_target.CONFIG.event_bus_name

    # WHEN the target handles them in one batch
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", _accepted(1), {"Entries": [_entry(bus, "OnRestaurantBooked", BOOKED_DETAIL)]})
        result = stream_target.handler(_batch(bad, good), lambda_context)
        stub.assert_no_pending_responses()

    # THEN the guest's event went out in this invocation, nothing is retried, and the bad record is parked by name only
    assert result == {"batchItemFailures": []}
    [parked] = _parked(stream_target)
    assert parked == {
        "reason": "record cannot be mapped",
        "invalidAttributes": ["partySize"],
        "eventID": "event-100000000000000000001",
        "eventName": "INSERT",
        "sequenceNumber": "310000000000000000001",
        "keys": {"reservationId": bad_id},
        "approximateCreationDateTime": 1893456000,
    }
    assert "Ada" not in json.dumps(parked)
    assert "ada@example.com" not in json.dumps(parked)


def test_stream_target_logs_one_warning_per_parked_record(stream_target, event, lambda_context, log_output):
    # GIVEN two records that cannot be mapped: one lacks the id in its image, one has no NewImage at all
    no_id = _record(event, "stream_insert_pending", "320000000000000000001")
    del no_id["dynamodb"]["NewImage"]["reservationId"]
    no_image = _record(event, "stream_modify_confirmed", "320000000000000000002")
    del no_image["dynamodb"]["NewImage"]

    # WHEN the target handles them (no PutEvents response: a call would fail the test)
    with Stubber(stream_target.EVENTS):
        result = stream_target.handler(_batch(no_id, no_image), lambda_context)

    # THEN each is parked and logged once, with its reservation id and the attribute names, never their values
    assert result == {"batchItemFailures": []}
    lines = [json.loads(line) for line in log_output.getvalue().splitlines() if "Stream record parked" in line]
    assert [(line["level"], line["reservationId"], line["invalidAttributes"]) for line in lines] == [
        ("WARNING", RESERVATION_ID, ["reservationId"]),
        ("WARNING", RESERVATION_ID, ["NewImage"]),
    ]
    assert [message["invalidAttributes"] for message in _parked(stream_target)] == [["reservationId"], ["NewImage"]]


def test_stream_target_publishes_around_several_parked_records(stream_target, event, lambda_context):
    # GIVEN a good INSERT, an INSERT without reservationId, a MODIFY without NewImage, and another good INSERT
    other_id = "9e1c6d2a-0b3f-4c5d-8e7f-112233445566"
    first = _record(event, "stream_insert_pending", "330000000000000000000")
    no_id = _record(event, "stream_insert_pending", "330000000000000000001")
    del no_id["dynamodb"]["NewImage"]["reservationId"]
    no_image = _record(event, "stream_modify_confirmed", "330000000000000000002")
    del no_image["dynamodb"]["NewImage"]
    last = _record(event, "stream_insert_pending", "330000000000000000003", other_id)
    bus = stream_target.CONFIG.event_bus_name
    expected = {
        "Entries": [
            _entry(bus, "OnRestaurantBooked", BOOKED_DETAIL),
            _entry(bus, "OnRestaurantBooked", {**BOOKED_DETAIL, "reservationId": other_id}),
        ]
    }
    calls: list[dict[str, Any]] = []
    stream_target.SQS.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: calls.append(params)
    )

    # WHEN the target handles them
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", _accepted(2), expected)
        result = stream_target.handler(_batch(first, no_id, no_image, last), lambda_context)
        stub.assert_no_pending_responses()

    # THEN both good records are published in order, and both bad ones parked with one SendMessageBatch call
    assert result == {"batchItemFailures": []}
    assert [len(call["Entries"]) for call in calls] == [2]
    assert [message["sequenceNumber"] for message in _parked(stream_target)] == [
        "330000000000000000001",
        "330000000000000000002",
    ]


def test_stream_target_fails_an_unmappable_record_it_cannot_park(stream_target, event, lambda_context):
    # GIVEN an unmappable record, then a good booking, and a failed-records queue that cannot be written to
    bad = _record(event, "stream_insert_pending", "340000000000000000001")
    bad["dynamodb"]["NewImage"]["partySize"] = {"N": "0"}
    good = _record(event, "stream_insert_pending", "340000000000000000002")

    # WHEN the target handles them (no PutEvents response: a call would fail the test)
    with Stubber(stream_target.EVENTS), Stubber(stream_target.SQS) as sqs_stub:
        sqs_stub.add_client_error("send_message_batch", service_error_code="AccessDenied", http_status_code=403)
        result = stream_target.handler(_batch(bad, good), lambda_context)
        sqs_stub.assert_no_pending_responses()

    # THEN nothing is published and both records are left for Lambda's retry, as before parking existed
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "340000000000000000001"},
            {"itemIdentifier": "340000000000000000002"},
        ]
    }


def test_stream_target_cuts_the_batch_at_the_first_record_sqs_refused(stream_target, event, lambda_context):
    # GIVEN a good booking, two unmappable records of which SQS refuses the second, and another good booking
    first = _record(event, "stream_insert_pending", "350000000000000000000")
    parked = _record(event, "stream_insert_pending", "350000000000000000001")
    parked["dynamodb"]["NewImage"]["partySize"] = {"N": "0"}
    refused = _record(event, "stream_insert_pending", "350000000000000000002")
    refused["dynamodb"]["NewImage"]["dateTime"] = {"S": "soon"}
    last = _record(event, "stream_insert_pending", "350000000000000000003")
    bus = stream_target.CONFIG.event_bus_name
    sqs_response = {
        "Successful": [{"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "0" * 32}],
        "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError"}],
    }

    # WHEN the target handles them
    with Stubber(stream_target.EVENTS) as events_stub, Stubber(stream_target.SQS) as sqs_stub:
        sqs_stub.add_response("send_message_batch", sqs_response)
        events_stub.add_response(
            "put_events", _accepted(1), {"Entries": [_entry(bus, "OnRestaurantBooked", BOOKED_DETAIL)]}
        )
        result = stream_target.handler(_batch(first, parked, refused, last), lambda_context)
        events_stub.assert_no_pending_responses()

    # THEN the records before the refused one are done, and it fails with every record after it
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": "350000000000000000002"},
            {"itemIdentifier": "350000000000000000003"},
        ]
    }


def test_stream_target_makes_no_later_call_after_a_refused_entry(stream_target, event, lambda_context):
    # GIVEN 12 bookings, and EventBridge refusing the last entry of the first call of ten
    ids = [f"{index:08x}-4d5a-4b6c-9e7f-0a1b2c3d4e5f" for index in range(12)]
    batch = _batch(*(_record(event, "stream_insert_pending", f"5{index:020d}", rid) for index, rid in enumerate(ids)))
    entries = [{"EventId": f"id-{index}"} for index in range(9)] + [{"ErrorCode": "InternalFailure"}]

    # WHEN the target handles them (only one response is queued: a second call would fail the test)
    with Stubber(stream_target.EVENTS) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": entries})
        result = stream_target.handler(batch, lambda_context)
        stub.assert_no_pending_responses()

    # THEN the refused record and the two never sent are reported, in order
    assert result == {"batchItemFailures": [{"itemIdentifier": f"5{index:020d}"} for index in (9, 10, 11)]}


WRONG_TYPES = {
    "reservationId-not-uuid": ("reservationId", {"S": "66666666"}),
    "reservationId-number": ("reservationId", {"N": "6"}),
    "status-number": ("status", {"N": "1"}),
    "dateTime-not-date": ("dateTime", {"S": "not a date"}),
    "dateTime-no-offset": ("dateTime", {"S": "2030-01-01T19:30:00"}),
    "dateTime-odd-offset": ("dateTime", {"S": "2030-01-01T19:30:00+01:00:30"}),
    "partySize-string": ("partySize", {"S": "four"}),
    "partySize-fraction": ("partySize", {"N": "2.5"}),
    "partySize-zero": ("partySize", {"N": "0"}),
    "partySize-too-many": ("partySize", {"N": "51"}),
    "partySize-bool": ("partySize", {"BOOL": True}),
    "createdAt-number": ("createdAt", {"N": "5"}),
    "createdAt-list": ("createdAt", {"L": []}),
}


@pytest.mark.parametrize(("attribute", "value"), list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
def test_map_record_refuses_image_with_wrong_type_or_value(event, attribute, value):
    # GIVEN a PENDING insert written by hand, one attribute of the wrong type or out of range
    record = _record(event, "stream_insert_pending")
    record["dynamodb"]["NewImage"][attribute] = value

    # WHEN it is mapped
    with pytest.raises(RecordNotMappable) as raised:
        mapping.map_record(record)

    # THEN the error names the attribute, never its value
    assert str(raised.value) == f"new image has an invalid {attribute}"
    assert raised.value.attributes == (attribute,)


def test_map_record_refuses_the_testers_hand_written_item(event):
    # GIVEN the item a tester put straight into the table, as its stream record shows it
    record = _record(event, "stream_insert_pending")
    record["dynamodb"]["NewImage"] = {
        "reservationId": {"S": "66666666-6666-4666-8666-666666666666"},
        "status": {"S": "PENDING"},
        "firstName": {"N": "5"},
        "lastName": {"L": []},
        "email": {"S": "not an email"},
        "dateTime": {"S": "not a date"},
        "partySize": {"S": "four"},
        "createdAt": {"S": "x"},
    }

    # WHEN it is mapped
    with pytest.raises(RecordNotMappable) as raised:
        mapping.map_record(record)

    # THEN the bad attributes of the detail are named
    assert str(raised.value) == "new image has an invalid dateTime, partySize"
    assert raised.value.attributes == ("dateTime", "partySize")


def test_stream_target_puts_at_most_ten_entries_per_call(stream_target, event, lambda_context):
    # GIVEN 23 bookings in one batch
    ids = [f"{index:08x}-4d5a-4b6c-9e7f-0a1b2c3d4e5f" for index in range(23)]
    batch = _batch(*(_record(event, "stream_insert_pending", f"4{index:020d}", rid) for index, rid in enumerate(ids)))
    sizes: list[int] = []

    # WHEN the target handles them
    with Stubber(stream_target.EVENTS) as stub:
        stream_target.EVENTS.meta.events.register(
            "provide-client-params.events.PutEvents", lambda params, **_: sizes.append(len(params["Entries"]))
        )
        for size in (10, 10, 3):
            stub.add_response("put_events", _accepted(size))
        result = stream_target.handler(batch, lambda_context)
        stub.assert_no_pending_responses()

    # THEN three calls of 10, 10 and 3 entries carried them all, and none failed
    assert sizes == [10, 10, 3]
    assert result == {"batchItemFailures": []}
