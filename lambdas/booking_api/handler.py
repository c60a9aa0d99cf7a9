"""API Gateway entry point: routes each request to booking_api.logic and shapes the HTTP answer."""

import re
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.config import load_booking_api_config
from shared.errors import InvalidBookingRequest
from shared.observability import logger, metrics, tracer
from shared.reservations import ReservationTable

from booking_api import logic, pages
from booking_api.validation import decode_body, parse_booking_body, validate_booking

CONFIG = load_booking_api_config()
TABLE = ReservationTable(CONFIG.table_name)

app = APIGatewayRestResolver()
# NOTE: traces never record responses here: a confirmation page carries the token in its form.

HTML = "text/html; charset=utf-8"
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# Paths that exist, with the methods they answer, so a wrong method gets 405 rather than 404.
# NOTE: a path that matches here with a method it answers reached the not-found handler only because the router
# refused its id (a NUL, a line break): that is a malformed id, so 404, as for any other.
_KNOWN_PATHS = (
    (re.compile(r"/bookRestaurant/?"), "POST"),
    (re.compile(r"/confirmReservation/[^/]+/?"), "GET, POST"),
)
# Only a JSON body is a booking. A browser may send text/plain or a form across sites without asking first, so
# requiring this media type keeps another site's page from creating bookings with a simple form post.
JSON_MEDIA_TYPE = "application/json"
# A confirmation form holds one field; this bounds the work on a hostile body.
_MAX_FORM_FIELDS = 10


def _json(status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={**JSON_HEADERS, **(headers or {})},
    )


def _html(status: HTTPStatus, page: str) -> Response:
    return Response(status_code=status.value, content_type=HTML, body=page, headers=dict(pages.HTML_HEADERS))


def _confirmation_page(result: logic.ConfirmationResult, reservation_id: str, token: str | None) -> Response:
    if result.outcome is logic.Outcome.SHOW_FORM and token is not None:
        return _html(HTTPStatus.OK, pages.confirmation_form(reservation_id, token, result.date_time, result.party_size))
    if result.outcome in (logic.Outcome.CONFIRMED, logic.Outcome.ALREADY_CONFIRMED):
        already = result.outcome is logic.Outcome.ALREADY_CONFIRMED
        return _html(HTTPStatus.OK, pages.confirmed(result.date_time, result.party_size, already=already))
    return _html(HTTPStatus.NOT_FOUND, pages.not_found())


def _form_token() -> str | None:
    """The token from the urlencoded form body, else from the query string."""
    event = app.current_event
    try:
        body = decode_body(event.body, bool(event.is_base64_encoded))
        fields = parse_qs(body, max_num_fields=_MAX_FORM_FIELDS)
    except ValueError:
        fields = {}
    tokens = fields.get("token")
    if tokens:
        return tokens[0]
    return event.get_query_string_value("token")


def _declares_json() -> bool:
    """True when Content-Type is application/json, in any case, with or without parameters such as charset."""
    value = app.current_event.headers.get("Content-Type") or ""
    return value.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


@app.post("/bookRestaurant")
@tracer.capture_method(capture_response=False)
def book_restaurant() -> Response:
    """Validate a booking request and store it as PENDING."""
    if not _declares_json():
        logger.info("Booking request rejected", fields=["Content-Type"])
        return _json(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            {"message": "Unsupported media type", "errors": {"Content-Type": f"must be {JSON_MEDIA_TYPE}"}},
        )
    event = app.current_event
    payload = parse_booking_body(event.body, bool(event.is_base64_encoded))
    now = logic.utc_now()
    request = validate_booking(payload, now)
    reservation_id = logic.book(request, TABLE, now)
    metrics.add_metric(name="ReservationRequested", unit="Count", value=1)
    return _json(HTTPStatus.CREATED, {"reservationId": reservation_id})


@app.get("/confirmReservation/<reservationId>")
@tracer.capture_method(capture_response=False)
def show_confirmation(reservationId: str) -> Response:
    """Show the confirmation button for a valid link; reads only."""
    token = app.current_event.get_query_string_value("token")
    result = logic.view_confirmation(reservationId, token, TABLE)
    metrics.add_metric(name="ConfirmationPageViewed", unit="Count", value=1)
    return _confirmation_page(result, reservationId, token)


@app.post("/confirmReservation/<reservationId>")
@tracer.capture_method(capture_response=False)
def confirm_reservation(reservationId: str) -> Response:
    """Confirm the reservation if the posted token matches."""
    result = logic.confirm(reservationId, _form_token(), TABLE, logic.utc_now())
    if result.outcome is logic.Outcome.CONFIRMED:
        metrics.add_metric(name="ReservationConfirmed", unit="Count", value=1)
    return _confirmation_page(result, reservationId, None)


@app.exception_handler(InvalidBookingRequest)
def invalid_booking(err: InvalidBookingRequest) -> Response:
    """Answer 400 naming every bad field; values are never logged."""
    logger.info("Booking request rejected", fields=sorted(err.errors))
    return _json(HTTPStatus.BAD_REQUEST, {"message": "Invalid booking request", "errors": err.errors})


@app.not_found
def route_not_found(_: NotFoundError) -> Response:
    """404 for an unknown path or a malformed id, 405 for a known path with another method."""
    event = app.current_event
    for pattern, allowed in _KNOWN_PATHS:
        if pattern.fullmatch(event.path):
            if event.http_method in allowed.split(", "):
                return _json(HTTPStatus.NOT_FOUND, {"message": "Not found"})
            return _json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method not allowed"}, {"Allow": allowed})
    return _json(HTTPStatus.NOT_FOUND, {"message": "Not found"})


@app.exception_handler(Exception)
def unexpected_error(_: Exception) -> Response:
    """Our own bugs and AWS failures: log the stack, answer a fixed message."""
    logger.exception("Unexpected error")
    return _json(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "Internal server error"})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point."""
    return app.resolve(event, context)
