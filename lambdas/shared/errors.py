"""Named errors of the booking system.

Lambda reports an uncaught exception by its class name, and the state machine's Retry and Catch match on that
name, so the email errors below keep exactly the names listed in docs/design.md. Their messages end up in the
recorded ``emailFailure`` cause: they never carry a guest's name, email address or a confirmation token.
"""


class BookingError(Exception):
    """Base class of the errors this system raises on purpose."""


class ConfigurationMissing(BookingError):
    """A required environment variable is not set."""


class EmailThrottled(BookingError):
    """SES asked us to slow down; retrying later may succeed."""


class EmailRejected(BookingError):
    """SES refused the message; retrying will not help."""


class TemplateDataMissing(BookingError):
    """A placeholder of the email template has no value."""


class ReservationNotFound(BookingError):
    """The reservation named by the event does not exist."""


class InvalidReservation(BookingError):
    """The stored reservation has an attribute absent, or of a type or value no booking could have."""


class InvalidEvent(BookingError):
    """The input is not a booking event this function handles."""


class RecordNotMappable(BookingError):
    """A DynamoDB stream record lacks what is needed to build its event; ``attributes`` names what is wrong."""

    def __init__(self, message: str, attributes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.attributes = attributes


class EventNotPublished(BookingError):
    """EventBridge did not accept the event built from a stream record."""


class RecordHeldBack(BookingError):
    """A stream record left for Lambda's retry because an earlier record of its batch failed."""


class InvalidBookingRequest(BookingError):
    """A booking request failed validation; ``errors`` maps each bad field to the reason."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid booking request")
        self.errors = errors
