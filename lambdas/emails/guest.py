"""OnReservationConfirmed → tell the guest the restaurant confirmed the table."""

from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.config import GuestEmailConfig, load_guest_email_config
from shared.contract import DETAIL_TYPE_CONFIRMED, STATUS_CONFIRMED
from shared.errors import ReservationNotFound
from shared.formatting import party_description, readable_datetime
from shared.observability import logger, metrics, tracer
from shared.reservations import ReservationTable

from emails.booking_event import require_valid, reservation_id_of
from emails.idempotency import idempotency_config, persistence_layer
from emails.sender import send_template, ses_client

TEMPLATE_FOLDER = "guest_booking_confirmed"
# What the guest's email needs of the reservation, the address it goes to included.
USED_ATTRIBUTES = ("firstName", "lastName", "email", "dateTime", "partySize")

CONFIG = load_guest_email_config()
TABLE = ReservationTable(CONFIG.table_name)
SES = ses_client()
IDEMPOTENCY = idempotency_config()
PERSISTENCE = persistence_layer(CONFIG.idempotency_table_name)


def tell_guest(reservation_id: str, table: ReservationTable, ses: Any, config: GuestEmailConfig) -> dict:
    """Email the guest that the reservation is confirmed; skip it if the reservation is not CONFIRMED."""
    reservation = table.get(reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"reservation {reservation_id} does not exist")
    if reservation.get("status") != STATUS_CONFIRMED:
        logger.info("Guest email skipped", reservationId=reservation_id, reason="not confirmed")
        return {"skipped": "not confirmed"}
    require_valid(reservation, reservation_id, USED_ATTRIBUTES)

    message_id = send_template(
        ses,
        folder=TEMPLATE_FOLDER,
        template_name=config.template_name,
        sender=config.sender_email,
        recipient=reservation["email"],
        data={
            "firstName": reservation["firstName"].strip(),
            "restaurantName": config.restaurant_name,
            "dateTime": readable_datetime(reservation["dateTime"]),
            "partyDescription": party_description(reservation["partySize"]),
            "reservationId": reservation_id,
        },
    )
    logger.info("Guest email sent", reservationId=reservation_id, messageId=message_id)
    return {"messageId": message_id, "template": config.template_name}


@idempotent_function(data_keyword_argument="event", config=IDEMPOTENCY, persistence_store=PERSISTENCE)
def _send_once(event: dict[str, Any], reservation_id: str) -> dict:
    return tell_guest(reservation_id, TABLE, SES, CONFIG)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    """Lambda entry point; the input is the EventBridge event, passed whole by the state machine."""
    reservation_id = reservation_id_of(event, DETAIL_TYPE_CONFIRMED)
    logger.set_correlation_id(reservation_id)
    IDEMPOTENCY.register_lambda_context(context)
    result = _send_once(event=event, reservation_id=reservation_id)
    if "messageId" in result:
        metrics.add_metric(name="GuestEmailSent", unit="Count", value=1)
    return result
