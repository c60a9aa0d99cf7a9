"""SES v2 SendEmail on the local cloud: messages become ``.eml`` files in an outbox folder.

Public interface:

- ``Outbox(directory, templates, verified_identities=None, region="us-east-1", clock=time.time)``.
  ``templates(name)`` gives a stored template as ``(subject, html, text)``, or None when there is none.
  ``verified_identities``, when given, lists the addresses and domains allowed to send.
- ``Outbox.send_email(request) -> {"MessageId": ...}`` takes the SendEmail JSON body (``FromEmailAddress``,
  ``Destination{ToAddresses, CcAddresses, BccAddresses}``, ``ReplyToAddresses``, ``Content{Template{
  TemplateName, TemplateData} | Simple{Subject, Body{Text, Html}}}``) and raises ``SesV2Error(code, message,
  status)`` for what SES v2 refuses: BadRequestException (400), NotFoundException (404), MessageRejected (400),
  TooManyRequestsException (429). The edge server turns it into the error response.
- ``Outbox.rendering_failures``: the emails SES accepted and then dropped because their template could not be
  rendered (for the health and debug view). ``Outbox.messages()``: the outbox files, oldest first.
- ``Outbox.faults``: ``throttle_next(n)``, ``reject_next(n)``, ``clear()`` make the next calls fail (tests),
  in the order queued; ``queued()`` lists them. ``n`` is an int from 1 to ``MAX_FAULTS``, anything else
  raises ``ValueError``.
- ``retire_previous_run(directory)`` moves the ``.eml`` files a previous run left into ``previous-run/``.
- ``lock_outbox(directory) -> OutboxLock`` claims the folder for one local cloud until ``release()`` (or the
  process ends); a second claim raises ``OutboxInUse``. Take it before anything in the folder is moved.

Rendering follows what SES does with its Handlebars templates, for the subset the project uses: ``{{name}}``
and ``{{a.b}}``, escaped for HTML in the HTML part only; ``{{{name}}}`` is never escaped. A placeholder whose
value is missing or null makes SES accept the call and then drop the email with a rendering failure event;
this outbox does the same, and says so loudly in its log.

NOTE: moto's SES v1 renderer (moto/ses/template.py) is not used: it escapes nothing in the HTML part, reads
``{{a.b}}`` as one flat key, and fails on values that are not strings (a party size of 4), all of which SES
does differently.
"""

from __future__ import annotations

import fcntl
import html
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from localcloud.hops import hop

_logger = logging.getLogger(__name__)

Templates = Callable[[str], tuple[str, str, str] | None]
_PLACEHOLDER = re.compile(r"\{\{(\{?)\s*([^{}]*?)\s*\}?\}\}")
_HANDLEBARS_ESCAPES = str.maketrans({"`": "&#x60;", "=": "&#x3D;"})
# What SES v2 takes as an address: something, one @, a domain; no spaces, angle brackets or control characters.
_ADDRESS = re.compile(r"[^@\s<>\x00-\x1f\x7f]+@[^@\s<>\x00-\x1f\x7f]+")
MAX_FAULTS = 1000
THROTTLE = "throttle"
REJECT = "reject"
PREVIOUS_RUN = "previous-run"
LOCK_FILE = ".lock"


class SesV2Error(Exception):
    """A SendEmail call that SES v2 refuses, with its error code and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class RenderingError(Exception):
    """A template placeholder has no value, so SES would drop the email."""


@dataclass(frozen=True)
class RenderingFailure:
    """An email SES accepted and then dropped because its template could not be rendered."""

    message_id: str
    template_name: str
    reason: str
    reservation_id: str | None
    at: str


class Faults:
    """Failures to inject into the next SendEmail calls, one first-in-first-out queue; safe from any thread.

    Each fault is used by one call, in the order queued: a rejection queued before two throttles is the first
    refusal. A throttle at the head of the queue refuses the next call before anything is read; a rejection
    at the head is used only by a request that SES would otherwise accept as well formed. The queue never holds
    more than ``MAX_FAULTS``: what is asked for beyond that is dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()

    def throttle_next(self, count: int = 1) -> None:
        self._add(THROTTLE, count)

    def reject_next(self, count: int = 1) -> None:
        self._add(REJECT, count)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def queued(self) -> list[str]:
        """The faults still to be used, in the order they will be: ``throttle`` or ``reject`` each."""
        with self._lock:
            return list(self._queue)

    def take_throttle(self) -> bool:
        return self._take(THROTTLE)

    def take_reject(self) -> bool:
        return self._take(REJECT)

    def _add(self, kind: str, count: int) -> None:
        _check_count(count)
        with self._lock:
            self._queue.extend([kind] * min(count, MAX_FAULTS - len(self._queue)))

    def _take(self, kind: str) -> bool:
        """Use the fault at the head of the queue when it is ``kind``."""
        with self._lock:
            if self._queue and self._queue[0] == kind:
                self._queue.popleft()
                return True
            return False


def _check_count(count: object) -> None:
    """A fault count is a plain int from 1 to ``MAX_FAULTS``: never a bool, a float, zero or negative."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_FAULTS:
        raise ValueError(f"a fault count is an integer from 1 to {MAX_FAULTS}, not {count!r}")


@dataclass(frozen=True)
class _Rendered:
    subject: str
    html: str | None
    text: str | None


class Outbox:
    """Accepts SES v2 SendEmail calls and writes each delivered email as a ``.eml`` file."""

    def __init__(
        self,
        directory: Path,
        templates: Templates,
        verified_identities: Collection[str] | None = None,
        region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._templates = templates
        self._verified = {identity.lower() for identity in verified_identities} if verified_identities else None
        self._region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: list[RenderingFailure] = []
        self.faults = Faults()

    @property
    def rendering_failures(self) -> list[RenderingFailure]:
        with self._lock:
            return list(self._failures)

    def messages(self) -> list[Path]:
        """The outbox files, oldest first."""
        return sorted(self.directory.glob("*.eml"))

    def send_email(self, request: dict[str, Any]) -> dict[str, str]:
        """Send one email as SES v2 does; return its MessageId or raise ``SesV2Error``."""
        if self.faults.take_throttle():
            raise SesV2Error("TooManyRequestsException", "Maximum sending rate exceeded.", 429)
        sender, to, cc, bcc = _addresses(request)
        content = request.get("Content") or {}
        template = content.get("Template")
        data = _template_data(template) if template else {}
        if self.faults.take_reject():
            raise SesV2Error("MessageRejected", "Email address is not verified.", 400)
        self._check_sender(sender)

        message_id = self._new_message_id()
        reservation_id = data.get("reservationId") if isinstance(data, dict) else None
        if not template:
            rendered = _simple(content)
        else:
            try:
                rendered = self._render_template(template, data)
            except RenderingError as error:
                self._record_rendering_failure(message_id, template, str(error), reservation_id, to)
                return {"MessageId": message_id}

        message = self._build_message(message_id, sender, to, cc, bcc, request, rendered)
        path = self._write(message_id, message)
        hop(
            "email",
            "email sent",
            str(reservation_id) if reservation_id else None,
            template=(template or {}).get("TemplateName"),
            to_domain=_domains(to),
            message_id=message_id,
            file=path.name,
        )
        return {"MessageId": message_id}

    def _check_sender(self, sender: str) -> None:
        if self._verified is None:
            return
        address = _bare_address(sender).lower()
        if address not in self._verified and address.rpartition("@")[2] not in self._verified:
            raise SesV2Error(
                "MessageRejected",
                f"Email address is not verified. The following identities failed the check in region "
                f"{self._region.upper()}: {address}",
                400,
            )

    def _render_template(self, template: dict[str, Any], data: Any) -> _Rendered:
        if template.get("TemplateContent"):
            inline = template["TemplateContent"]
            parts: tuple[str, str | None, str | None] | None = (
                inline.get("Subject", ""),
                inline.get("Html"),
                inline.get("Text"),
            )
        else:
            name = template.get("TemplateName") or str(template.get("TemplateArn", "")).rpartition("/")[2]
            if not name:
                raise SesV2Error("BadRequestException", "Template name or content is required.", 400)
            parts = self._templates(name)
        if parts is None:
            raise SesV2Error("NotFoundException", f"Template {name} does not exist.", 404)
        subject, html_part, text_part = parts
        return _Rendered(
            subject=render(subject or "", data, escape_html=False),
            html=render(html_part, data, escape_html=True) if html_part else None,
            text=render(text_part, data, escape_html=False) if text_part else None,
        )

    def _record_rendering_failure(
        self, message_id: str, template: dict[str, Any], reason: str, reservation_id: Any, to: list[str]
    ) -> None:
        name = template.get("TemplateName") or "(inline)"
        failure = RenderingFailure(
            message_id=message_id,
            template_name=name,
            reason=reason,
            reservation_id=str(reservation_id) if reservation_id else None,
            at=datetime.fromtimestamp(self._clock(), UTC).isoformat(),
        )
        with self._lock:
            self._failures.append(failure)
        _logger.error(
            "RENDERING FAILURE: SES accepted the email and dropped it, nothing was delivered",
            extra={"template": name, "reason": reason, "message_id": message_id, "reservation_id": reservation_id},
        )
        hop(
            "email",
            "EMAIL DROPPED (rendering failure)",
            failure.reservation_id,
            template=name,
            reason=reason,
            to_domain=_domains(to),
            message_id=message_id,
        )

    def _new_message_id(self) -> str:
        return f"{int(self._clock() * 1000):016x}-{uuid.uuid4()}-000000"

    def _build_message(
        self,
        message_id: str,
        sender: str,
        to: list[str],
        cc: list[str],
        bcc: list[str],
        request: dict[str, Any],
        rendered: _Rendered,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        if to:
            message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        # NOTE: a Bcc header never reaches a recipient; it is kept here so the outbox shows every address sent to.
        if bcc:
            message["Bcc"] = ", ".join(bcc)
        if request.get("ReplyToAddresses"):
            message["Reply-To"] = ", ".join(request["ReplyToAddresses"])
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(datetime.fromtimestamp(self._clock(), UTC))
        message["Message-ID"] = f"<{message_id}@email.amazonses.com>"
        if rendered.text is not None:
            message.set_content(rendered.text)
            if rendered.html is not None:
                message.add_alternative(rendered.html, subtype="html")
        else:
            message.set_content(rendered.html or "", subtype="html")
        return message

    def _write(self, message_id: str, message: EmailMessage) -> Path:
        stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{message_id}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.as_bytes())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path


def render(template: str, data: Any, escape_html: bool) -> str:
    """Fill ``{{name}}`` and ``{{a.b}}`` placeholders; raise ``RenderingError`` for a missing or null value."""

    def fill(placeholder: re.Match[str]) -> str:
        triple, name = placeholder.group(1), placeholder.group(2)
        if not name or name[0] in "#/!>^":
            raise RenderingError(f"unsupported Handlebars expression {{{{{name}}}}}")
        value = _lookup(data, name)
        if value is None:
            raise RenderingError(f"missing value for {{{{{name}}}}}")
        text = _as_text(value)
        if escape_html and not triple:
            return html.escape(text, quote=True).translate(_HANDLEBARS_ESCAPES)
        return text

    return _PLACEHOLDER.sub(fill, template)


def _lookup(data: Any, name: str) -> Any:
    current = data
    for key in name.split("."):
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _addresses(request: dict[str, Any]) -> tuple[str, list[str], list[str], list[str]]:
    content = request.get("Content")
    if not isinstance(content, dict) or sum(key in content for key in ("Simple", "Template", "Raw")) != 1:
        raise SesV2Error("BadRequestException", "Content must hold exactly one of Simple, Template or Raw.", 400)
    if "Raw" in content:
        raise SesV2Error("BadRequestException", "Raw content is not supported by the local outbox.", 400)
    sender = request.get("FromEmailAddress")
    if not sender:
        raise SesV2Error("BadRequestException", "FromEmailAddress is required.", 400)
    destination = request.get("Destination") or {}
    to, cc, bcc = (list(destination.get(key) or []) for key in ("ToAddresses", "CcAddresses", "BccAddresses"))
    if not (to or cc or bcc):
        raise SesV2Error("BadRequestException", "Destination must name at least one recipient.", 400)
    for address in [sender, *to, *cc, *bcc, *(request.get("ReplyToAddresses") or [])]:
        if not isinstance(address, str) or not _ADDRESS.fullmatch(_bare_address(address)):
            raise SesV2Error("BadRequestException", "Illegal address", 400)
    return sender, to, cc, bcc


def _template_data(template: dict[str, Any]) -> Any:
    raw = template.get("TemplateData")
    if raw is None:
        raise SesV2Error("BadRequestException", "TemplateData is required.", 400)
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as error:
        raise SesV2Error("BadRequestException", "TemplateData is not valid JSON.", 400) from error


def _simple(content: dict[str, Any]) -> _Rendered:
    simple = content["Simple"]
    subject = (simple.get("Subject") or {}).get("Data")
    body = simple.get("Body") or {}
    text = (body.get("Text") or {}).get("Data")
    html_part = (body.get("Html") or {}).get("Data")
    if subject is None or (text is None and html_part is None):
        raise SesV2Error("BadRequestException", "Simple content needs a Subject and a Text or Html body.", 400)
    return _Rendered(subject=subject, html=html_part, text=text)


def _bare_address(address: str) -> str:
    match = re.search(r"<([^>]+)>", address)
    return match.group(1) if match else address.strip()


def _domains(addresses: list[str]) -> str:
    """Only the domains of the recipients: an address is personal data and never goes to a log."""
    return ",".join(sorted({_domain(address) for address in addresses})) or "-"


def _domain(address: str) -> str:
    """The domain of one address, or ``<invalid>`` when it has none: the rest of it is never logged."""
    local, at, domain = _bare_address(address).rpartition("@")
    return domain if local and at and domain else "<invalid>"


def retire_previous_run(directory: Path) -> int:
    """Move the emails a previous run left in the outbox into ``previous-run/``, replacing what was there.

    Reservations and executions live in memory and end with the run, so old emails would link to reservations
    that no longer exist, at a port that may no longer answer. Returns how many emails were moved.
    """
    directory = Path(directory)
    left = sorted(directory.glob("*.eml")) if directory.is_dir() else []
    if not left:
        return 0
    previous = directory / PREVIOUS_RUN
    if previous.is_dir():
        shutil.rmtree(previous)
    previous.mkdir()
    for path in left:
        path.replace(previous / path.name)
    return len(left)


class OutboxInUse(Exception):
    """Another local cloud holds the outbox folder."""

    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"the outbox {directory} is in use by another local cloud: "
            "give this one its own with --outbox DIR --log-file FILE"
        )


class OutboxLock:
    """A held claim on an outbox folder: an exclusive ``flock`` on its lock file, released with the file."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def release(self) -> None:
        self._handle.close()  # closing the file lets go of the lock


def lock_outbox(directory: Path) -> OutboxLock:
    """Claim the outbox folder for this local cloud, or raise ``OutboxInUse`` having changed nothing in it.

    NOTE: the lock lives as long as the open file, so a local cloud that dies, even by SIGKILL, leaves no stale
    claim behind. Two instances on different ports would otherwise retire each other's emails.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / LOCK_FILE).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise OutboxInUse(directory) from error
    return OutboxLock(handle)
