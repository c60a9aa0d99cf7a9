"""Builds the app's stack from its context: shared by app.py and the infrastructure tests."""

from typing import Final

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from workflow.settings import read_settings
from workflow.stack import BookingStack

STACK_NAME: Final[str] = "RestaurantBooking"


def build(app: App) -> BookingStack:
    """Check the context of ``app``, add the booking stack to it and have cdk-nag review it at synthesis.

    cdk-nag 3 is a CDK validation plugin: an unacknowledged finding makes the synthesis fail with its report.
    """
    settings = read_settings(app.node)
    stack = BookingStack(app, STACK_NAME, settings=settings, description="Restaurant bookings with email workflow")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack
