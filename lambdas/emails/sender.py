"""Send a stored SES template, after checking the data against the placeholders of its bundled copy.

The deployed template (``TEMPLATE_NAME``) is built by CDK from the same files as ``emails/templates/<name>/``,
so a placeholder without a value is caught here, by name, instead of SES sending an email with a hole in it.
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from shared.errors import EmailRejected, EmailThrottled, TemplateDataMissing

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_FILES = ("subject.txt", "body.html", "body.txt")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# SES v2 error codes: worth retrying later, or final for this message.
THROTTLING_CODES = frozenset({"TooManyRequestsException", "LimitExceededException"})
# NOTE: a paused account or configuration set stays paused until a person acts, so retrying cannot help.
REJECTION_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "NotFoundException",
        "SendingPausedException",
        "AccountSuspendedException",
    }
)


def ses_client() -> Any:
    """An SES v2 client that makes one attempt per call.

    NOTE: the state machine owns the retrying of a throttled send (EmailThrottled, with backoff and jitter), so
    every attempt shows in the execution history; SDK retries on top would multiply the attempts unseen.
    """
    return boto3.client("sesv2", config=Config(retries={"total_max_attempts": 1}))


@cache
def template_placeholders(folder: str) -> frozenset[str]:
    """Every ``{{name}}`` in the subject and both bodies of the bundled template ``folder``."""
    names: set[str] = set()
    for file_name in TEMPLATE_FILES:
        names.update(_PLACEHOLDER.findall((TEMPLATES_DIR / folder / file_name).read_text(encoding="utf-8")))
    return frozenset(names)


def check_template_data(folder: str, data: dict[str, Any]) -> None:
    """Raise TemplateDataMissing naming every placeholder of ``folder`` whose value is missing, None or blank."""
    missing = sorted(
        name for name in template_placeholders(folder) if data.get(name) is None or not str(data[name]).strip()
    )
    if missing:
        raise TemplateDataMissing(f"template {folder} has no value for {', '.join(missing)}")


def send_template(
    client: Any,
    *,
    folder: str,
    template_name: str,
    sender: str,
    recipient: str,
    data: dict[str, Any],
) -> str:
    """Send the deployed ``template_name`` to ``recipient``; return SES's message id.

    Raises TemplateDataMissing before calling SES, EmailThrottled when SES asks to slow down and EmailRejected
    when it refuses the message. Any other AWS error propagates unchanged.
    """
    check_template_data(folder, data)
    try:
        response = client.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={"Template": {"TemplateName": template_name, "TemplateData": json.dumps(data)}},
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        # The messages name the SES error code only: they are recorded in the reservation, addresses are not.
        if code in THROTTLING_CODES:
            raise EmailThrottled(f"SES throttled the email: {code}") from err
        if code in REJECTION_CODES:
            raise EmailRejected(f"SES rejected the email: {code}") from err
        raise
    return str(response["MessageId"])
