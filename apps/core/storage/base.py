"""What both storage backends, the package and the local endpoint share: errors, value types, guards, key rules.

A module of its own so ``local.py`` and ``s3.py`` need not import the package ``__init__`` (which imports
them): the import graph stays acyclic.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings

from apps.core import metrics
from apps.core.errors import Conflict, Unavailable, ValidationFailed

LOCAL_PREFIX = "/storage/local/"
CHUNK_SIZE = 1024 * 1024
_KEY_RE = re.compile(r"^[a-z0-9-]+(?:/[A-Za-z0-9_.-]+)+$")


class StorageUnavailable(Unavailable):
    default_message = "object storage unavailable; retry later"


class ObjectChanged(Conflict):
    """The source of a pinned ``copy`` is no longer the version that was read (replaced meanwhile)."""

    default_message = "the object changed while it was being read"


@dataclass(frozen=True)
class PresignedRequest:
    url: str
    method: str
    headers: dict[str, str]
    expires_at_ms: int


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str
    metadata: dict[str, str]


PutGuard = Callable[[str], Awaitable[bool]]
_put_guards: dict[str, PutGuard] = {}


def register_put_guard(prefix: str, guard: PutGuard) -> None:
    """Let the local signed endpoint accept PUTs under ``prefix`` only while ``await guard(key)`` is true.

    The longest registered prefix decides; a key under no prefix is refused. Apps register theirs in
    ``AppConfig.ready`` (a signed URL alone is not enough: it stays valid after the upload is verified).
    """
    _put_guards[prefix] = guard


async def put_allowed(key: str) -> bool:
    matches = [prefix for prefix in _put_guards if key.startswith(prefix)]
    if not matches:
        return False
    return bool(await _put_guards[max(matches, key=len)](key))


def validate_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key:
        raise ValidationFailed.for_fields({"key": ["invalid object key"]})
    return key


def s3_configured() -> bool:
    """S3 when ``CONFIG.s3_endpoint`` is set, else local files: the one rule ``get_storage`` and the endpoint share."""
    return bool(settings.CONFIG.s3_endpoint)


def count_operation(op: str, result: str) -> None:
    metrics.storage_operations_total.labels(op, result).inc()
