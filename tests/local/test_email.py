"""Conformance of the local SES v2 outbox: what SES accepts, refuses, renders and silently drops."""

import json
import logging
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from localcloud.console.data import CloudReader
from localcloud.email import Outbox, OutboxInUse, SesV2Error, _domains, lock_outbox, render, retire_previous_run

TEMPLATES = {
    "booking": (
        "Table for {{partySize}} at {{restaurant.name}}",
        "<p>Hello {{guestName}}, table for {{partySize}} at {{restaurant.name}}</p><a href='{{{confirmUrl}}}'>ok</a>",
        "Hello {{guestName}}, table for {{partySize}} at {{restaurant.name}}\n{{confirmUrl}}",
    )
}
DATA = (
    '{"reservationId": "r1", "guestName": "Ann & <Bob>", "partySize": 4,'
    ' "restaurant": {"name": "Chez \\"Nous\\""}, "confirmUrl": "https://x.test/c?a=1&b=2"}'
)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox", TEMPLATES.get, verified_identities=["bookings.test"])


def templated(data: str = DATA, name: str = "booking", sender: str = "Bookings <noreply@bookings.test>") -> dict:
    return {
        "FromEmailAddress": sender,
        "Destination": {"ToAddresses": ["guest@example.org"], "CcAddresses": ["desk@bookings.test"]},
        "Content": {"Template": {"TemplateName": name, "TemplateData": data}},
    }


def parse(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def refusal(outbox: Outbox, request: dict[str, Any]) -> tuple[str, int]:
    with pytest.raises(SesV2Error) as raised:
        outbox.send_email(request)
    return raised.value.code, raised.value.status


def test_render_escapes_values_for_html_only() -> None:
    # Given a value with HTML's special characters
    data = {"name": "A & <b> \"q\" 'x' `y` =z", "nested": {"n": 4}}

    # When it is rendered into an HTML part, a text part, and an unescaped triple-brace placeholder
    as_html = render("{{name}}|{{nested.n}}|{{{name}}}", data, escape_html=True)
    as_text = render("{{ name }}|{{nested.n}}", data, escape_html=False)

    # Then HTML escapes as Handlebars does, text keeps the characters, and nested names are followed
    assert as_html == "A &amp; &lt;b&gt; &quot;q&quot; &#x27;x&#x27; &#x60;y&#x60; &#x3D;z|4|" + data["name"]
    assert as_text == data["name"] + "|4"


def test_outbox_writes_a_multipart_eml_that_parses_back(outbox: Outbox) -> None:
    # Given a templated SendEmail request

    # When it is sent
    response = outbox.send_email(templated())

    # Then one .eml holds the headers and both rendered parts
    [path] = outbox.messages()
    assert path.name.endswith(f"-{response['MessageId']}.eml")
    message = parse(path)
    assert message["To"] == "guest@example.org"
    assert message["Cc"] == "desk@bookings.test"
    assert message["From"] == "Bookings <noreply@bookings.test>"
    assert message["Subject"] == 'Table for 4 at Chez "Nous"'
    assert message["Message-ID"] == f"<{response['MessageId']}@email.amazonses.com>"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text == 'Hello Ann & <Bob>, table for 4 at Chez "Nous"\nhttps://x.test/c?a=1&b=2\n'
    assert "Hello Ann &amp; &lt;Bob&gt;, table for 4 at Chez &quot;Nous&quot;" in html
    assert "href='https://x.test/c?a=1&b=2'" in html


def test_outbox_names_files_so_they_sort_by_time(tmp_path: Path) -> None:
    # Given an outbox whose clock moves forward between two emails
    moments = iter([1_800_000_000.0 + step / 10 for step in range(40)])
    outbox = Outbox(tmp_path, TEMPLATES.get, clock=lambda: next(moments))

    # When two emails are sent
    first = outbox.send_email(templated())["MessageId"]
    second = outbox.send_email(templated())["MessageId"]

    # Then the file names start with the UTC time and sort in sending order
    names = [path.name for path in outbox.messages()]
    assert [name.split("Z-", 1)[1] for name in names] == [f"{first}.eml", f"{second}.eml"]
    assert names[0].startswith("20270115T080000.")
    assert list(tmp_path.glob(".*.tmp")) == []


def test_outbox_sends_simple_content(outbox: Outbox) -> None:
    # Given a Simple SendEmail request with a text body only
    request = {
        "FromEmailAddress": "noreply@bookings.test",
        "Destination": {"ToAddresses": ["a@example.org", "b@example.net"]},
        "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Plain {{not}} rendered"}}}},
    }

    # When it is sent
    outbox.send_email(request)

    # Then the body is kept as given
    [path] = outbox.messages()
    message = parse(path)
    assert (message["To"], message["Subject"]) == ("a@example.org, b@example.net", "Hi")
    assert message.get_content() == "Plain {{not}} rendered\n"


COMPLETE = {"reservationId": "r1", "guestName": "Ann", "partySize": 4, "restaurant": {"name": "N"}, "confirmUrl": "u"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps({k: v for k, v in COMPLETE.items() if k != "guestName"}), id="missing"),
        pytest.param(json.dumps({**COMPLETE, "guestName": None}), id="null"),
    ],
)
def test_outbox_drops_an_email_whose_variable_is_missing_and_records_it(
    outbox: Outbox, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SES accepts the call, then fails to render and delivers nothing (a Rendering Failure event)."""
    # Given template data without a value for guestName

    # When it is sent
    with caplog.at_level(logging.INFO):
        response = outbox.send_email(templated(data))

    # Then a MessageId comes back, nothing is written, and the failure is recorded and logged loudly
    assert outbox.messages() == []
    [failure] = outbox.rendering_failures
    assert (failure.message_id, failure.template_name, failure.reservation_id) == (
        response["MessageId"],
        "booking",
        "r1",
    )
    assert failure.reason == "missing value for {{guestName}}"
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert errors == ["RENDERING FAILURE: SES accepted the email and dropped it, nothing was delivered"]


def test_outbox_refuses_an_unknown_template(outbox: Outbox) -> None:
    # Given a template name that is not stored

    # When it is sent, then SES's NotFoundException comes back
    assert refusal(outbox, templated(name="nope")) == ("NotFoundException", 404)
    assert outbox.messages() == []


@pytest.mark.parametrize("data", ["{not json", None])
def test_outbox_refuses_bad_template_data(outbox: Outbox, data: str | None) -> None:
    # Given TemplateData that is not JSON, or absent

    # When it is sent, then SES's BadRequestException comes back
    assert refusal(outbox, templated(data)) == ("BadRequestException", 400)


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"Destination": {"ToAddresses": ["a@example.org"]}, "Content": {}}, id="no content"),
        pytest.param({**templated(), "FromEmailAddress": None}, id="no sender"),
        pytest.param({**templated(), "Destination": {"ToAddresses": []}}, id="no recipient"),
        pytest.param({**templated(), "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {}}}}, id="no body"),
    ],
)
def test_outbox_refuses_a_request_with_missing_fields(outbox: Outbox, request_body: dict) -> None:
    # Given a request SES v2 would find incomplete

    # When it is sent, then SES's BadRequestException comes back
    assert refusal(outbox, request_body) == ("BadRequestException", 400)


def test_outbox_rejects_a_sender_that_is_not_verified(outbox: Outbox) -> None:
    # Given a sender outside the verified domain

    # When it is sent, then SES's MessageRejected comes back
    assert refusal(outbox, templated(sender="someone@elsewhere.test")) == ("MessageRejected", 400)


def test_outbox_faults_throttle_and_reject_the_next_calls(outbox: Outbox) -> None:
    # Given one throttle and one rejection queued
    outbox.faults.throttle_next(1)
    outbox.faults.reject_next(1)

    # When three emails are sent
    first = refusal(outbox, templated())
    second = refusal(outbox, templated())
    outbox.send_email(templated())

    # Then the faults were consumed in order and the third email went through
    assert (first, second) == (("TooManyRequestsException", 429), ("MessageRejected", 400))
    assert len(outbox.messages()) == 1


def test_outbox_faults_clear_and_are_taken_once_across_threads(outbox: Outbox) -> None:
    # Given five throttles, and then a cleared set of rejections
    outbox.faults.throttle_next(5)
    outbox.faults.reject_next(3)
    outbox.faults.clear()
    outbox.faults.throttle_next(5)
    taken: list[bool] = []

    # When eight threads each take a throttle
    threads = [threading.Thread(target=lambda: taken.append(outbox.faults.take_throttle())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    # Then exactly five were given out, and no rejection is left
    assert sorted(taken) == [False] * 3 + [True] * 5
    assert outbox.faults.take_reject() is False


def test_outbox_faults_are_used_in_the_order_they_were_queued(outbox: Outbox) -> None:
    # Given one rejection queued, and then two throttles
    outbox.faults.reject_next(1)
    outbox.faults.throttle_next(2)

    # When four emails are sent
    refusals = [refusal(outbox, templated()) for _ in range(3)]
    outbox.send_email(templated())

    # Then the rejection came first, then both throttles, and the fourth email went through
    assert refusals == [("MessageRejected", 400), ("TooManyRequestsException", 429), ("TooManyRequestsException", 429)]
    assert len(outbox.messages()) == 1


def test_outbox_faults_list_what_is_queued_in_order(outbox: Outbox) -> None:
    # Given two throttles, a rejection, and a throttle queued
    outbox.faults.throttle_next(2)
    outbox.faults.reject_next(1)
    outbox.faults.throttle_next(1)

    # When one is used and the queue is read
    refusal(outbox, templated())
    queued = outbox.faults.queued()

    # Then the rest are listed in the order they will be used
    assert queued == ["throttle", "reject", "throttle"]


def test_outbox_faults_keep_a_rejection_when_the_request_is_refused_first(outbox: Outbox) -> None:
    # Given one rejection queued
    outbox.faults.reject_next(1)

    # When a request with no recipient is sent, then a good one
    first = refusal(outbox, {**templated(), "Destination": {"ToAddresses": []}})
    second = refusal(outbox, templated())

    # Then the bad request did not use the rejection, the good one did
    assert (first, second) == (("BadRequestException", 400), ("MessageRejected", 400))


def test_outbox_logs_one_hop_with_the_recipient_domain_only(outbox: Outbox, caplog: pytest.LogCaptureFixture) -> None:
    # Given a templated email to a guest

    # When it is sent
    with caplog.at_level(logging.INFO, logger="localcloud.hops"):
        response = outbox.send_email(templated())

    # Then one email hop names the reservation and the domain, never the address
    [line] = [record.getMessage() for record in caplog.records if record.name == "localcloud.hops"]
    assert line.startswith("[email] reservation=r1 email sent template=booking to_domain=example.org ")
    assert response["MessageId"] in line
    assert "guest@" not in line


@pytest.mark.parametrize("count", [-5, 0, 1001, 1e9, 2.0, "3", True, None])
def test_outbox_faults_refuse_a_count_that_is_not_an_int_from_1_to_1000(outbox: Outbox, count: Any) -> None:
    # Given no fault queued

    # When a bad count is asked for, for either fault
    with pytest.raises(ValueError, match="from 1 to 1000"):
        outbox.faults.throttle_next(count)
    with pytest.raises(ValueError, match="from 1 to 1000"):
        outbox.faults.reject_next(count)

    # Then nothing is queued and the next email goes through
    outbox.send_email(templated())
    assert len(outbox.messages()) == 1


def test_outbox_faults_never_queue_more_than_1000(outbox: Outbox) -> None:
    # Given the largest throttle asked for twice
    outbox.faults.throttle_next(1000)
    outbox.faults.throttle_next(1000)

    # When every throttle is taken
    taken = [outbox.faults.take_throttle() for _ in range(1001)]

    # Then a thousand were given out and the next send is not throttled
    assert taken.count(True) == 1000
    assert taken[-1] is False


@pytest.mark.parametrize(
    ("field", "address"),
    [
        ("ToAddresses", "not an email"),
        ("ToAddresses", "nobody"),
        ("CcAddresses", "two@at@example.org"),
        ("BccAddresses", "Guest <guest@>"),
        ("ToAddresses", "guest@example.org\nBcc: victim@example.org"),
    ],
)
def test_outbox_refuses_an_illegal_recipient_as_ses_v2_does(
    outbox: Outbox, field: str, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an email to a malformed address
    request = templated()
    request["Destination"] = {field: [address]}

    # When it is sent
    with pytest.raises(SesV2Error) as raised, caplog.at_level(logging.INFO, logger="localcloud.hops"):
        outbox.send_email(request)

    # Then SES v2's answer comes back, nothing is written and nothing about it is logged
    assert (raised.value.code, raised.value.message, raised.value.status) == (
        "BadRequestException",
        "Illegal address",
        400,
    )
    assert outbox.messages() == []
    assert [record for record in caplog.records if record.name == "localcloud.hops"] == []


@pytest.mark.parametrize("sender", ["bookings.test", "Bookings <noreply@bookings.test", "no reply@bookings.test"])
def test_outbox_refuses_an_illegal_sender_as_ses_v2_does(outbox: Outbox, sender: str) -> None:
    # Given an email from a malformed address

    # When it is sent, then SES v2's BadRequestException comes back
    assert refusal(outbox, templated(sender=sender)) == ("BadRequestException", 400)


def test_outbox_domains_log_only_the_domain_and_invalid_when_there_is_none() -> None:
    # Given recipients with a domain, without an @, and with nothing after it

    # When their domains are written for the hop log
    logged = _domains(["Guest <guest@example.org>", "not an email", "x@"])

    # Then only the domain appears, and <invalid> stands for the addresses without one
    assert logged == "<invalid>,example.org"


def test_retire_previous_run_moves_the_old_emails_aside_and_the_console_lists_none(tmp_path: Path) -> None:
    # Given an outbox with two emails of a previous run, and an older previous-run folder

    directory = tmp_path / "outbox"
    old = Outbox(directory, TEMPLATES.get)
    old.send_email(templated())
    old.send_email(templated())
    left = sorted(path.name for path in old.messages())
    (directory / "previous-run").mkdir()
    (directory / "previous-run" / "older.eml").write_text("Subject: older\n\nx\n")

    # When a new run starts
    moved = retire_previous_run(directory)

    # Then previous-run holds exactly those two, and neither the outbox nor the console lists any email
    assert moved == 2
    assert sorted(path.name for path in (directory / "previous-run").iterdir()) == left
    assert Outbox(directory, TEMPLATES.get).messages() == []
    assert CloudReader("http://127.0.0.1:9", directory).emails() == []


def test_retire_previous_run_leaves_an_empty_outbox_as_it_is(tmp_path: Path) -> None:
    # Given an outbox folder that does not exist yet

    # When a run starts, then nothing is moved and nothing is created
    assert retire_previous_run(tmp_path / "outbox") == 0
    assert not (tmp_path / "outbox").exists()


def test_lock_outbox_refuses_a_second_holder_until_the_first_lets_go(tmp_path: Path) -> None:
    # Given an outbox locked by one local cloud, with an email of its run in it
    folder = tmp_path / "outbox"
    first = lock_outbox(folder)
    (folder / "live.eml").write_text("an email of the running instance")

    # When a second one tries to lock it, and again once the first has let go
    with pytest.raises(OutboxInUse) as refused:
        lock_outbox(folder)
    first.release()
    second = lock_outbox(folder)
    second.release()

    # Then the refusal names the folder, and the first's email was left where it was
    assert str(folder) in str(refused.value)
    assert [path.name for path in folder.glob("*.eml")] == ["live.eml"]
