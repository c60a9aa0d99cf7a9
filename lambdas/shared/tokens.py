"""Confirmation tokens and reservation ids: how they are made and recognised."""

import hashlib
import secrets
import uuid


def new_token() -> str:
    """A fresh confirmation token, URL-safe, 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Hex SHA-256 of a confirmation token, as stored in confirmTokenHash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_reservation_id(value: object) -> bool:
    """True for a UUID in the canonical lower-case form the API issues."""
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
