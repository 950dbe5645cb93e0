"""Identifiers: UUIDv7 (time-ordered) as the API renders them.

Built as an integer and formatted as text directly: a ``uuid.UUID`` object per id (its checks, its ``hex`` and
``str``) cost 3.8-4.7 µs per id against 2.0-2.7 µs this way, and a send makes up to five (issue 14).
"""

from __future__ import annotations

import os
import time
import uuid

_RAND_B = 0xFFF << 64
_RAND_C = (1 << 62) - 1
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)


def _uuid7_int() -> int:
    """A UUIDv7 (RFC 9562) as an int: 48-bit Unix milliseconds, version 7, variant 10, 74 random bits."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_AND_VARIANT | (rand >> 68) << 64 & _RAND_B | rand & _RAND_C


def uuid7() -> uuid.UUID:
    """A UUIDv7 as a ``uuid.UUID``."""
    return uuid.UUID(int=_uuid7_int())


def new_id() -> str:
    """An entity id: UUIDv7 as 32 lowercase hex characters, no dashes."""
    return f"{_uuid7_int():032x}"


def new_request_id() -> str:
    """A generated request/correlation id: hyphenated UUIDv7."""
    h = f"{_uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_entity_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
