"""Data access for the reservation table, shared by the API and the email functions.

Every write is conditional: a reservation is created only if its id is new, and changed only while it is in
the state the change expects, so no write here can create an item by accident.
"""

from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.contract import PARTITION_KEY, STATUS_CONFIRMED, STATUS_PENDING

_CONDITION_FAILED = "ConditionalCheckFailedException"


def plain_numbers(value: Any) -> Any:
    """Replace DynamoDB's Decimals, at any depth, by int when whole and float otherwise."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value


class ReservationTable:
    """Reads and conditional writes on the reservation table."""

    def __init__(self, table_name: str) -> None:
        self._table = boto3.resource("dynamodb").Table(table_name)

    def get(self, reservation_id: str) -> dict[str, Any] | None:
        """Return the reservation, read consistently, with plain numbers; None if it does not exist."""
        response = self._table.get_item(Key={PARTITION_KEY: reservation_id}, ConsistentRead=True)
        item = response.get("Item")
        return plain_numbers(item) if item is not None else None

    def create_pending(self, item: dict[str, Any]) -> None:
        """Store a new PENDING reservation; fails if the id is already taken."""
        self._table.put_item(
            Item={**item, "status": STATUS_PENDING},
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": PARTITION_KEY},
        )

    def store_token_hash(self, reservation_id: str, token_hash: str) -> bool:
        """Record the confirmation token's hash while the reservation is PENDING; False if it no longer is."""
        try:
            self._table.update_item(
                Key={PARTITION_KEY: reservation_id},
                UpdateExpression="SET confirmTokenHash = :hash",
                ConditionExpression="attribute_exists(#key) AND #status = :pending",
                ExpressionAttributeNames={"#key": PARTITION_KEY, "#status": "status"},
                ExpressionAttributeValues={":hash": token_hash, ":pending": STATUS_PENDING},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True

    def confirm(self, reservation_id: str, token_hash: str, confirmed_at: str) -> dict[str, Any] | None:
        """Mark a PENDING reservation CONFIRMED if the token hash matches; return it, or None if the condition fails."""
        try:
            response = self._table.update_item(
                Key={PARTITION_KEY: reservation_id},
                UpdateExpression="SET #status = :confirmed, confirmedAt = :confirmedAt",
                ConditionExpression="attribute_exists(#key) AND #status = :pending AND confirmTokenHash = :hash",
                ExpressionAttributeNames={"#key": PARTITION_KEY, "#status": "status"},
                ExpressionAttributeValues={
                    ":confirmed": STATUS_CONFIRMED,
                    ":pending": STATUS_PENDING,
                    ":hash": token_hash,
                    ":confirmedAt": confirmed_at,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return None
            raise
        return plain_numbers(response["Attributes"])
