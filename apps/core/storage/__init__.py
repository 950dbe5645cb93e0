"""The project's object storage: S3 (django-storages/boto3) or local files, one interface.

Why it looks like this:

* Clients upload and download **directly** (presigned URLs); the API never
  proxies file bytes to S3. On local storage (the embedded default) the app
  serves the same contract itself: ``/storage/local/<key>`` URLs carry an
  HMAC-SHA256 signature (its own key, ``apps.core.keys``) over method, key, expiry,
  content type, length and metadata, checked in constant time.
* S3 when ``CONFIG.s3_endpoint`` is set, path-style addressing, private
  objects (no ACL is ever sent), presigned PUTs bound to content type, length
  and metadata (all signed headers, so a client cannot change them).
* Reads are streams (``open_stream``): callers read in chunks and never hold a
  whole object in memory. boto3 is blocking, so callers run stream reads in a
  worker thread (``asyncio.to_thread``); the ``a*`` helpers do that.
* Every operation counts ``gotong_storage_operations_total{op,result}``.
* Callers use ``ObjectStorage``'s members only, never a backend's internals (``_call``,
  the boto3 ``client``): an operation an app needs is added here for both backends
  (``tests/core/test_storage.py`` checks they match the protocol; chat is checked too).
* Verified files never change: ``copy``/``move`` are server-side (S3 CopyObject;
  local temp file + rename), and ``open_pinned`` + ``copy(..., if_version=)``
  guarantee that the bytes copied are the bytes that were read (S3 ETag,
  ``CopySourceIfMatch``; local file identity), so nothing is hashed in one
  object and copied from another.
* The local signed endpoint takes a PUT only where a registered put guard
  (``register_put_guard``) says the key is open for upload; a key without a
  guard is never writable through a URL. Core stays free of app imports: apps
  register their guard in ``AppConfig.ready``.

Keys: uploads ``evidence/{yyyy}/{mm}/{upload_id}``, staging ``evidence/staging/{upload_id}``,
verified evidence ``evidence/sha256/{hex}``; chat attachments ``chat-attachments/{app_env}/sha256/{hex}``.

Layout: ``base.py`` (errors, value types, put guards, key rules: shared, imports neither backend),
``local.py`` (local files and the signed endpoint ``local_object``), ``s3.py`` (S3); this module holds the
protocol, ``get_storage`` and the async helpers, and re-exports the rest so callers import from
``apps.core.storage`` only.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO, Protocol

from django.conf import settings

from apps.core.storage.base import (
    CHUNK_SIZE,
    LOCAL_PREFIX,
    ObjectChanged,
    ObjectInfo,
    PresignedRequest,
    PutGuard,
    StorageUnavailable,
    _put_guards,
    put_allowed,
    register_put_guard,
    s3_configured,
    validate_key,
)
from apps.core.storage.local import LocalStorage, local_object, sign_local
from apps.core.storage.s3 import S3ObjectStorage

__all__ = [
    "CHUNK_SIZE",
    "LOCAL_PREFIX",
    "LocalStorage",
    "ObjectChanged",
    "ObjectInfo",
    "ObjectStorage",
    "PresignedRequest",
    "PutGuard",
    "S3ObjectStorage",
    "StorageUnavailable",
    "_put_guards",
    "adelete",
    "ahead",
    "amove",
    "get_storage",
    "local_object",
    "put_allowed",
    "register_put_guard",
    "sign_local",
    "validate_key",
]


class ObjectStorage(Protocol):
    backend: str

    def presigned_put(
        self, key: str, *, content_type: str, size_bytes: int, metadata: dict[str, str], expires_s: int
    ) -> PresignedRequest: ...

    def presigned_get(self, key: str, *, expires_s: int) -> str: ...

    def open_stream(self, key: str) -> BinaryIO:
        """A readable binary stream of the object (``read(n)`` in chunks); ``NotFound`` if absent."""

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str]) -> None:
        """Server-side write (tests, benchmarks, fixtures); uploads from users go through presigned PUTs."""

    def put_stream(self, key: str, stream: BinaryIO, *, size: int, content_type: str, metadata: dict[str, str]) -> None:
        """Server-side streaming write of exactly ``size`` bytes from ``stream`` (never whole in memory)."""

    def open_pinned(self, key: str) -> tuple[BinaryIO, str]:
        """``open_stream`` plus a version token of exactly the bytes being read, for ``copy(if_version=)``."""

    def copy(self, src: str, dst: str, *, if_version: str | None = None) -> None:
        """Server-side copy keeping content type and metadata; ``ObjectChanged`` if ``src`` is not ``if_version``."""

    def move(self, src: str, dst: str) -> None:
        """Copy then delete ``src``; ``NotFound`` if ``src`` is absent (e.g. a concurrent move took it)."""


_cache: dict[tuple, ObjectStorage] = {}


def get_storage() -> ObjectStorage:
    """S3 when ``CONFIG.s3_endpoint`` is set, else local files; rebuilt when the configuration changes."""
    cfg = settings.CONFIG
    if s3_configured():
        cache_key: tuple = ("s3", cfg.s3_endpoint, cfg.s3_bucket, cfg.s3_region, cfg.s3_access_key, cfg.s3_secret_key)
    else:
        cache_key = ("local", str(settings.MEDIA_ROOT))
    storage = _cache.get(cache_key)
    if storage is None:
        storage = S3ObjectStorage(cfg) if s3_configured() else LocalStorage()
        _cache[cache_key] = storage
    return storage


async def ahead(key: str) -> ObjectInfo | None:
    storage = get_storage()
    return await asyncio.to_thread(storage.head, key)


async def adelete(key: str) -> None:
    storage = get_storage()
    await asyncio.to_thread(storage.delete, key)


async def amove(src: str, dst: str) -> None:
    storage = get_storage()
    await asyncio.to_thread(storage.move, src, dst)
