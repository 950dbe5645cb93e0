"""CBOR for the SurrealDB SDK with cbor2's C codec, byte for byte what the SDK's own pure-Python codec produces.

Why: the SDK encodes every request and decodes every answer in pure Python. Measured on a send (issue 14 point 3):
its transaction's request took 74 us to encode and the answer 196 us to decode, against 14 and 27 us here; a
page of 50 messages took about 1.5 ms to decode (``../shared/notes/environment.md``). ``install()`` points the
three places the SDK's async connections encode and decode at these functions.

* **Encoding** has one fast path: values made of ``dict``, ``list``, ``tuple``, ``str``, ``int``, ``float``,
  ``bool``, ``bytes`` and ``None`` (what repositories send). ``None`` goes out as SurrealDB's NONE (tag 6) and
  integers outside the signed 64-bit range are refused, as the SDK does. Any other value (record ids, datetimes,
  UUIDs, decimals, sets, the SDK's own types) sends the whole message through the SDK's encoder, so no value is
  ever encoded differently. ``tests/core/test_codec.py`` compares the bytes.
* **Decoding** uses the SDK's own tag decoder for SurrealDB's tags (record ids, NONE, datetimes, durations,
  decimals, ranges, sets, geometry, files). One deliberate difference: a CBOR null (SurrealDB's NULL, which the
  project never stores) decodes to ``None``, where the SDK returns its ``Null`` marker; the project's JSON
  answers could not render that marker anyway.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Mapping
from typing import Any

import cbor2
from surrealdb.connections import async_embedded, async_ws
from surrealdb.data import cbor as sdk_cbor
from surrealdb.request_message.descriptors import cbor_ws

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_TAG_NONE = 6


class _NotPlain(Exception):
    """A value the fast path does not encode; the SDK's encoder takes the whole message."""


def _encode_none(encoder: cbor2.CBOREncoder, _value: None) -> None:
    encoder.encode_length(6, _TAG_NONE)  # tag 6 (NONE) ...
    encoder.encode_length(7, 22)  # ... around a CBOR null, as the SDK writes it


def _encode_int(encoder: cbor2.CBOREncoder, value: int) -> None:
    if not _I64_MIN <= value <= _I64_MAX:
        raise _NotPlain  # the SDK's encoder raises its own error for it
    encoder.encode_int(value)


def _not_plain(_encoder: cbor2.CBOREncoder, _value: Any) -> None:
    raise _NotPlain


# Types cbor2 would encode natively but differently from the SDK (or that the SDK tags its own way) go to the
# SDK; so does every type cbor2 does not know (``default``).
_ENCODERS = {type(None): _encode_none, int: _encode_int} | {
    kind: _not_plain
    for kind in (
        datetime.datetime,
        datetime.date,
        uuid.UUID,
        decimal.Decimal,
        set,
        frozenset,
        sdk_cbor.SurrealSet,
        sdk_cbor.PreciseDatetime,
    )
}


def encode(obj: Any) -> bytes:
    """The SDK's ``surrealdb.data.cbor.encode``, through C for plain values."""
    try:
        return cbor2.dumps(obj, encoders=_ENCODERS, default=_not_plain)
    except _NotPlain:
        return sdk_cbor.encode(obj)


def _thaw(value: Any) -> Any:
    """cbor2 hands a tag's content over as immutable values (tuples, frozendicts); the SDK's as lists and dicts."""
    if isinstance(value, (tuple, list)):
        return [_thaw(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    return value


def _tag(tag: cbor2.CBORTag, _immutable: bool) -> Any:
    # The SDK's tag decoder reads only ``tag.tag`` and ``tag.value``.
    return sdk_cbor.tag_decoder(None, cbor2.CBORTag(tag.tag, _thaw(tag.value)))  # type: ignore[arg-type]


def decode(data: bytes) -> Any:
    """The SDK's ``surrealdb.data.cbor.decode``, in C; a CBOR null becomes ``None`` (module docstring)."""
    return cbor2.loads(data, tag_hook=_tag)


_TARGETS = ((cbor_ws, "encode", encode), (async_ws, "decode", decode), (async_embedded, "decode", decode))


def install() -> None:
    """Point the SDK's async connections at this codec (idempotent). Fails loudly if the pinned SDK moved them."""
    for module, name, function in _TARGETS:
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"surrealdb SDK changed: {module.__name__}.{name} is gone; see apps/core/db/codec.py")
        setattr(module, name, function)


def installed() -> bool:
    return all(getattr(module, name) is function for module, name, function in _TARGETS)
