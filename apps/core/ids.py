"""Identifiers: UUIDv7 (time-ordered) as the API renders them."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version, 74 random bits."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64 & (0xFFF << 64)
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_id() -> str:
    """An entity id: UUIDv7 as 32 lowercase hex characters, no dashes."""
    return uuid7().hex


def new_request_id() -> str:
    """A generated request/correlation id: hyphenated UUIDv7."""
    return str(uuid7())


def is_entity_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
