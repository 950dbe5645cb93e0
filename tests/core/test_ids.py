"""Ids: UUIDv7 as the API renders them (entity ids without dashes, request ids hyphenated)."""

from __future__ import annotations

import time
import uuid

from apps.core.ids import is_entity_id, new_id, new_request_id, uuid7


def _unix_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def test_entity_ids_are_version_7_hex_without_dashes_and_carry_the_time():
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert is_entity_id(text)
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= _unix_ms(parsed) <= after


def test_request_ids_are_the_hyphenated_form_of_the_same_layout():
    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122


def test_ids_sort_by_the_millisecond_they_were_made_in():
    earlier = new_id()
    deadline = time.monotonic() + 5
    while time.time_ns() // 1_000_000 <= _unix_ms(uuid.UUID(hex=earlier)):  # the next millisecond, not a sleep
        assert time.monotonic() < deadline
    assert new_id() > earlier
    assert uuid7() > uuid.UUID(hex=earlier)


def test_the_random_bits_vary_within_one_millisecond():
    values = [uuid.UUID(hex=new_id()).int & ((1 << 74) - 1) for _ in range(200)]
    assert len(set(values)) == len(values)
