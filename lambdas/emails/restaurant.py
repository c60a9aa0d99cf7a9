"""OnRestaurantBooked → ask the restaurant to confirm, with a link carrying a fresh one-time token."""

from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.config import RestaurantEmailConfig, load_restaurant_email_config
from shared.contract import DETAIL_TYPE_BOOKED, STATUS_PENDING
from shared.errors import ReservationNotFound
from shared.formatting import party_description, readable_datetime
from shared.observability import logger, metrics, tracer
from shared.reservations import ReservationTable
from shared.tokens import new_token, token_hash

from emails.booking_event import require_valid, reservation_id_of
from emails.idempotency import idempotency_config, persistence_layer
from emails.sender import check_template_data, send_template, ses_client

TEMPLATE_FOLDER = "restaurant_booking_request"
# What the restaurant's email shows of the reservation, and the guest's address: it is not in this email, but a
# booking without one must fail here, before the restaurant is asked to confirm a guest nobody can tell.
USED_ATTRIBUTES = ("firstName", "lastName", "email", "dateTime", "partySize")

CONFIG = load_restaurant_email_config()
TABLE = ReservationTable(CONFIG.table_name)
SES = ses_client()
IDEMPOTENCY = idempotency_config()
PERSISTENCE = persistence_layer(CONFIG.idempotency_table_name)


def request_confirmation(reservation_id: str, table: ReservationTable, ses: Any, config: RestaurantEmailConfig) -> dict:
    """Store a new token's hash on the PENDING reservation, then email the restaurant the link with the token.

    Returns the SES message id and template name, or ``{"skipped": "not pending"}`` when the reservation is no
    longer PENDING. The token itself is only ever in the email.
    """
    reservation = table.get(reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"reservation {reservation_id} does not exist")
    if reservation.get("status") != STATUS_PENDING:
        logger.info("Restaurant email skipped", reservationId=reservation_id, reason="not pending")
        return {"skipped": "not pending"}

    require_valid(reservation, reservation_id, USED_ATTRIBUTES)

    token = new_token()
    data = {
        "guestName": f"{reservation['firstName'].strip()} {reservation['lastName'].strip()}",
        "dateTime": readable_datetime(reservation["dateTime"]),
        "partyDescription": party_description(reservation["partySize"]),
        "confirmUrl": f"{config.api_url}confirmReservation/{reservation_id}?token={token}",
        "reservationId": reservation_id,
        "restaurantName": config.restaurant_name,
    }
    # Checked before the hash is stored, so a reservation that cannot be emailed keeps its previous link.
    check_template_data(TEMPLATE_FOLDER, data)
    if not table.store_token_hash(reservation_id, token_hash(token)):
        logger.info("Restaurant email skipped", reservationId=reservation_id, reason="not pending")
        return {"skipped": "not pending"}

    message_id = send_template(
        ses,
        folder=TEMPLATE_FOLDER,
        template_name=config.template_name,
        sender=config.sender_email,
        recipient=config.restaurant_email,
        data=data,
    )
    logger.info("Restaurant email sent", reservationId=reservation_id, messageId=message_id)
    return {"messageId": message_id, "template": config.template_name}


@idempotent_function(data_keyword_argument="event", config=IDEMPOTENCY, persistence_store=PERSISTENCE)
def _send_once(event: dict[str, Any], reservation_id: str) -> dict:
    return request_confirmation(reservation_id, TABLE, SES, CONFIG)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    """Lambda entry point; the input is the EventBridge event, passed whole by the state machine."""
    reservation_id = reservation_id_of(event, DETAIL_TYPE_BOOKED)
    logger.set_correlation_id(reservation_id)
    IDEMPOTENCY.register_lambda_context(context)
    result = _send_once(event=event, reservation_id=reservation_id)
    if "messageId" in result:
        metrics.add_metric(name="RestaurantEmailSent", unit="Count", value=1)
    return result
