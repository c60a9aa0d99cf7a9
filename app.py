#!/usr/bin/env python3
"""The CDK app: reads the settings from context and builds the RestaurantBooking stack, offline.

Context (cdk.json, or ``cdk synth -c key=value``):

- ``restaurantEmail``: where booking requests are sent (required).
- ``senderEmail``: the SES-verified From address of every email (required).
- ``restaurantName``: the name printed in the emails (required).
- ``alarmEmail``: subscribed to the alarm topic when set (optional).
"""

import sys

from aws_cdk import App

from workflow.build import build
from workflow.settings import SettingsError


def main() -> None:
    app = App()
    try:
        build(app)
    except SettingsError as err:
        sys.exit(f"Cannot synthesize: {err}")
    app.synth()


if __name__ == "__main__":
    main()
