"""The logger, tracer and metrics every handler shares.

Service name and log level come from POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL, set per function by the
stack. Log lines use a fixed message with context in keys; the correlation id is the reservation id.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "RestaurantBooking"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
