"""The C CBOR codec (apps/core/db/codec.py) is the SDK's codec, byte for byte and value for value.

Encoding is compared as bytes with the SDK's own ``encode``: plain values (generated), every SDK type and the
edge cases (NONE, 64-bit bounds, NaN, subclasses of the built-in types). Decoding is compared on the engine's own
answers: every SurrealDB type a query can return, recorded as the engine sent it.
"""

from __future__ import annotations

import decimal
import enum
import math
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from surrealdb.data import cbor as sdk_cbor
from surrealdb.data.types.datetime import PreciseDatetime
from surrealdb.data.types.duration import Duration
from surrealdb.data.types.geometry import GeometryPoint
from surrealdb.data.types.null import Null
from surrealdb.data.types.range import BoundExcluded, BoundIncluded, Range
from surrealdb.data.types.record_id import RecordID
from surrealdb.data.types.set import SurrealSet
from surrealdb.data.types.table import Table

from apps.core.db import codec, run_sync

I64_MIN, I64_MAX = -(2**63), 2**63 - 1

plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=I64_MIN, max_value=I64_MAX)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=64),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.text(max_size=12), children, max_size=6)
        | st.tuples(children, children)
    ),
    max_leaves=40,
)


class Colour(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 7


def test_installed_by_the_data_layer(surreal_db):
    assert codec.installed()


@settings(max_examples=300, deadline=None)
@given(plain_values)
def test_plain_values_encode_to_the_sdks_bytes(value):
    assert codec.encode(value) == sdk_cbor.encode(value)


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"edited_at_ms": None, "mentions": [None, 0, -1]},
        [I64_MIN, I64_MAX, 0, 23, 24, 255, 256, 65535, 65536, 2**32, -(2**32) - 1],
        [math.nan, math.inf, -math.inf, -0.0, 1.5, 1e300],
        [True, False, b"", b"\x00\xff", "", "é ☃ 𝄞"],
        RecordID("chat_message", ["t1", 7]),
        Table("chat_thread"),
        datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC),
        PreciseDatetime.from_seconds_and_nanos(1_796_127_006, 123_456_789),
        uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        decimal.Decimal("1.50"),
        {1, 2},
        frozenset({"a"}),
        SurrealSet([{"a": 1}]),
        Duration.parse(90, 5),
        GeometryPoint(1.0, 2.0),
        Range(BoundIncluded(1), BoundExcluded(5)),
        Null,
        [Colour.RED, Size.BIG],
        OrderedDict([("b", 1), ("a", None)]),
        {"row": {"id": RecordID("user", "u1"), "at": datetime(2026, 1, 1, tzinfo=UTC), "n": None}},
    ],
    ids=repr,
)
def test_every_kind_of_value_encodes_to_the_sdks_bytes(value):
    assert codec.encode(value) == sdk_cbor.encode(value)


@pytest.mark.parametrize("value", [2**63, I64_MIN - 1, {"deep": [2**64]}])
def test_integers_outside_64_bits_are_refused_as_the_sdk_refuses_them(value):
    with pytest.raises(ValueError) as ours:
        codec.encode(value)
    with pytest.raises(ValueError) as theirs:
        sdk_cbor.encode(value)
    assert str(ours.value) == str(theirs.value)


ENGINE_VALUES = """
RETURN {
    record: type::record('chat_message', ['t1', 7]),
    table: type::table('chat_thread'),
    none: NONE,
    datetime: d'2026-12-01T12:00:00.123456789Z',
    duration: 1h30m5ns,
    zero_duration: 0ns,
    uuid: u'0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    decimal: 1.50dec,
    float: 1.5f,
    int: 9223372036854775807,
    set: <set> [3, 1, 2],
    geometry: (1.0, 2.0),
    range: 1..5,
    bytes: <bytes> 'abc',
    text: 'é ☃ 𝄞',
    nested: [{ a: [NONE, true, false, -1] }],
    empty: { array: [], object: {} }
};
"""


def test_engine_answers_decode_to_the_sdks_values(surreal_db, monkeypatch):
    """The engine's own answer bytes, decoded by the client (which calls the engine directly on ``mem://``) and by
    the SDK's pure-Python codec: the same values of the same types."""
    recorded: list[bytes] = []
    decode = codec.decode

    def recording(data: bytes):
        recorded.append(data)
        return decode(data)

    monkeypatch.setattr(codec, "decode", recording)
    ours = run_sync(surreal_db.query, ENGINE_VALUES)[-1]
    assert len(recorded) == 1
    theirs = sdk_cbor.decode(recorded[0])["result"][0]["result"]
    assert ours == theirs
    assert {key: type(value) for key, value in ours.items()} == {key: type(value) for key, value in theirs.items()}
    assert ours["record"] == RecordID("chat_message", ["t1", 7])
    assert ours["none"] is None
    assert ours["datetime"].isoformat_with_nanoseconds().startswith("2026-12-01T12:00:00.123456789")


def test_a_cbor_null_decodes_to_none_where_the_sdk_returns_its_marker():
    """The one deliberate difference (module docstring of apps/core/db/codec.py)."""
    raw = sdk_cbor.encode({"a": Null, "b": None})
    assert codec.decode(raw) == {"a": None, "b": None}
    assert sdk_cbor.decode(raw) == {"a": Null, "b": None}
