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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core import keys, metrics
from apps.core.api import error_response
from apps.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Unavailable,
    ValidationFailed,
)

LOCAL_PREFIX = "/storage/local/"
CHUNK_SIZE = 1024 * 1024
_KEY_RE = re.compile(r"^[a-z0-9-]+(?:/[A-Za-z0-9_.-]+)+$")
_META_DIR = ".meta"


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


def _count(op: str, result: str) -> None:
    metrics.storage_operations_total.labels(op, result).inc()


# -- local files --------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@contextlib.contextmanager
def _local_operation(op: str) -> Iterator[None]:
    """Count a local file operation and map its OS errors like S3's: missing → 404, anything else → 503."""
    try:
        yield
    except FileNotFoundError:
        _count(op, "not_found")
        raise NotFound("object not found") from None
    except OSError as exc:
        _count(op, "error")
        raise StorageUnavailable() from exc
    _count(op, "ok")


def _write_atomic(path: Path, text: str) -> None:
    """Write a small file (a metadata sidecar) via temp file + rename: readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".meta-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_version(stat: os.stat_result) -> str:
    """A local file's identity: writes always create a new file (temp + rename), never rewrite one in place."""
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def sign_local(method: str, key: str, exp: int, ct: str = "", length: str = "", meta: str = "") -> str:
    """HMAC-SHA256 over every parameter that the URL fixes; ``\\n``-joined, so fields cannot shift."""
    message = "\n".join((method, key, str(exp), ct, length, meta)).encode()
    key = keys.purpose_key(keys.LOCAL_UPLOAD_URL)  # its own key: never a JWT or attachment-URL signature
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


class LocalStorage:
    """Files under ``MEDIA_ROOT``; metadata in a JSON sidecar under ``MEDIA_ROOT/.meta``."""

    backend = "local"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or settings.MEDIA_ROOT)

    def path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not str(path).startswith(str(self.root.resolve()) + os.sep):
            raise ValidationFailed.for_fields({"key": ["invalid object key"]})
        return path

    def meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / (validate_key(key) + ".json")

    def presigned_put(
        self, key: str, *, content_type: str, size_bytes: int, metadata: dict[str, str], expires_s: int
    ) -> PresignedRequest:
        exp = int(time.time()) + expires_s
        meta = _b64(json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode())
        sig = sign_local("PUT", key, exp, content_type, str(size_bytes), meta)
        query = urlencode({"exp": exp, "ct": content_type, "len": size_bytes, "meta": meta, "sig": sig})
        _count("presign_put", "ok")
        return PresignedRequest(
            f"{LOCAL_PREFIX}{quote(key)}?{query}", "PUT", {"Content-Type": content_type}, exp * 1000
        )

    def presigned_get(self, key: str, *, expires_s: int) -> str:
        exp = int(time.time()) + expires_s
        _count("presign_get", "ok")
        return f"{LOCAL_PREFIX}{quote(key)}?{urlencode({'exp': exp, 'sig': sign_local('GET', key, exp)})}"

    def open_stream(self, key: str) -> BinaryIO:
        try:
            stream = self.path(key).open("rb")
        except FileNotFoundError:
            _count("open", "not_found")
            raise NotFound("object not found") from None
        _count("open", "ok")
        return stream

    def head(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            size = path.stat().st_size
            info = json.loads(self.meta_path(key).read_text())
        except FileNotFoundError:
            _count("head", "not_found")
            return None
        _count("head", "ok")
        return ObjectInfo(size, info.get("content_type", ""), info.get("metadata", {}))

    def delete(self, key: str) -> None:
        for path in (self.path(key), self.meta_path(key)):
            path.unlink(missing_ok=True)
        _count("delete", "ok")

    def put_bytes(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str]) -> None:
        self.write_stream(key, _Chunks(data), content_type=content_type, metadata=metadata, limit=len(data))

    def put_stream(self, key: str, stream: BinaryIO, *, size: int, content_type: str, metadata: dict[str, str]) -> None:
        self.write_stream(key, stream, content_type=content_type, metadata=metadata, limit=size)

    def open_pinned(self, key: str) -> tuple[BinaryIO, str]:
        stream = self.open_stream(key)
        return stream, _file_version(os.fstat(stream.fileno()))

    def copy(self, src: str, dst: str, *, if_version: str | None = None) -> None:
        """Copy from one open file (checked against ``if_version``) to a temp file, then rename into place."""
        src_path, dst_path = self.path(src), self.path(dst)
        with _local_operation("copy"), src_path.open("rb") as source:
            if if_version is not None and _file_version(os.fstat(source.fileno())) != if_version:
                _count("copy", "changed")
                raise ObjectChanged()
            sidecar = self.meta_path(src).read_text()
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dst_path.parent, prefix=".copy-")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_SIZE)
                _write_atomic(self.meta_path(dst), sidecar)
                os.replace(tmp, dst_path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def move(self, src: str, dst: str) -> None:
        """Sidecar copied first, then the file renamed, then the old sidecar removed.

        At every step one of the two keys has both file and sidecar, so a crash leaves a readable object.
        """
        src_path, dst_path = self.path(src), self.path(dst)
        with _local_operation("move"):
            if not src_path.is_file():
                raise FileNotFoundError(src)
            _write_atomic(self.meta_path(dst), self.meta_path(src).read_text())
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_path, dst_path)
            self.meta_path(src).unlink(missing_ok=True)

    def write_stream(self, key: str, stream: Any, *, content_type: str, metadata: dict[str, str], limit: int) -> int:
        """Copy ``stream`` to the object in chunks (temp file + rename: readers never see half a file)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    written += len(chunk)
                    if written > limit:
                        raise ValidationFailed.for_fields({"body": [f"body exceeds the signed length of {limit}"]})
                    out.write(chunk)
            if written != limit:
                raise ValidationFailed.for_fields(
                    {"body": [f"body has {written} bytes, the URL was signed for {limit}"]}
                )
            _write_atomic(self.meta_path(key), json.dumps({"content_type": content_type, "metadata": metadata}))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            _count("put", "error")
            raise
        _count("put", "ok")
        return written


class _Chunks:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return chunk


# -- S3 ---------------------------------------------------------------------


class S3ObjectStorage:
    """S3 through django-storages' ``S3Storage`` (its boto3 client does the signing)."""

    backend = "s3"

    def __init__(self, cfg: Any) -> None:
        from storages.backends.s3 import S3Storage

        self.bucket_name = cfg.s3_bucket
        self.store = S3Storage(
            bucket_name=cfg.s3_bucket,
            endpoint_url=cfg.s3_endpoint,
            region_name=cfg.s3_region,
            access_key=cfg.s3_access_key,
            secret_key=cfg.s3_secret_key,
            addressing_style="path",
            signature_version="s3v4",
            default_acl=None,
            querystring_auth=True,
            file_overwrite=True,
        )
        self.client = self.store.connection.meta.client

    def _call(self, op: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result = func(*args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                _count(op, "not_found")
                raise NotFound("object not found") from exc
            if code in ("412", "PreconditionFailed"):
                _count(op, "changed")
                raise ObjectChanged() from exc
            _count(op, "error")
            raise StorageUnavailable() from exc
        except BotoCoreError as exc:
            _count(op, "error")
            raise StorageUnavailable() from exc
        _count(op, "ok")
        return result

    def presigned_put(
        self, key: str, *, content_type: str, size_bytes: int, metadata: dict[str, str], expires_s: int
    ) -> PresignedRequest:
        params = {
            "Bucket": self.bucket_name,
            "Key": validate_key(key),
            "ContentType": content_type,
            "ContentLength": size_bytes,
            "Metadata": metadata,
        }
        url = self._call(
            "presign_put", self.client.generate_presigned_url, "put_object", Params=params, ExpiresIn=expires_s
        )
        headers = {"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
        return PresignedRequest(url, "PUT", headers, (int(time.time()) + expires_s) * 1000)

    def presigned_get(self, key: str, *, expires_s: int) -> str:
        params = {"Bucket": self.bucket_name, "Key": validate_key(key)}
        return self._call(
            "presign_get", self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=expires_s
        )

    def open_stream(self, key: str) -> BinaryIO:
        # The raw StreamingBody: read(n) pulls n bytes from the socket (django-storages' File would
        # download the whole object first).
        response = self._call("open", self.client.get_object, Bucket=self.bucket_name, Key=validate_key(key))
        return response["Body"]

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._call("head", self.client.head_object, Bucket=self.bucket_name, Key=validate_key(key))
        except NotFound:
            return None
        return ObjectInfo(
            int(response["ContentLength"]), response.get("ContentType", ""), dict(response.get("Metadata") or {})
        )

    def delete(self, key: str) -> None:
        self._call("delete", self.client.delete_object, Bucket=self.bucket_name, Key=validate_key(key))

    def put_bytes(self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str]) -> None:
        self._call(
            "put",
            self.client.put_object,
            Bucket=self.bucket_name,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            Metadata=metadata,
        )

    def put_stream(self, key: str, stream: BinaryIO, *, size: int, content_type: str, metadata: dict[str, str]) -> None:
        """boto3's ``upload_fileobj`` streams in parts (multipart above its threshold), never the whole body."""
        self._call(
            "put",
            self.client.upload_fileobj,
            stream,
            self.bucket_name,
            validate_key(key),
            ExtraArgs={"ContentType": content_type, "Metadata": metadata},
        )

    def open_pinned(self, key: str) -> tuple[BinaryIO, str]:
        response = self._call("open", self.client.get_object, Bucket=self.bucket_name, Key=validate_key(key))
        return response["Body"], response["ETag"]

    def _copy_object(self, src: str, dst: str, if_version: str | None) -> None:
        extra = {"CopySourceIfMatch": if_version} if if_version is not None else {}
        self.client.copy_object(
            Bucket=self.bucket_name,
            Key=validate_key(dst),
            CopySource={"Bucket": self.bucket_name, "Key": validate_key(src)},
            MetadataDirective="COPY",
            **extra,
        )

    def copy(self, src: str, dst: str, *, if_version: str | None = None) -> None:
        """CopyObject (server-side, metadata kept); ``CopySourceIfMatch`` pins the ETag that was read."""
        self._call("copy", self._copy_object, src, dst, if_version)

    def move(self, src: str, dst: str) -> None:
        """CopyObject then DeleteObject: a PUT that lands in between is deleted, one after it is never read."""

        def move() -> None:
            self._copy_object(src, dst, None)
            self.client.delete_object(Bucket=self.bucket_name, Key=validate_key(src))

        self._call("move", move)


_cache: dict[tuple, ObjectStorage] = {}


def get_storage() -> ObjectStorage:
    """S3 when ``CONFIG.s3_endpoint`` is set, else local files; rebuilt when the configuration changes."""
    cfg = settings.CONFIG
    if cfg.s3_endpoint:
        cache_key: tuple = ("s3", cfg.s3_endpoint, cfg.s3_bucket, cfg.s3_region, cfg.s3_access_key, cfg.s3_secret_key)
    else:
        cache_key = ("local", str(settings.MEDIA_ROOT))
    storage = _cache.get(cache_key)
    if storage is None:
        storage = S3ObjectStorage(cfg) if cfg.s3_endpoint else LocalStorage()
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


# -- the local backend's signed endpoint ----------------------------------------


def _check_signature(request: HttpRequest, key: str, method: str) -> dict[str, str]:
    params = {name: request.GET.get(name, "") for name in ("exp", "ct", "len", "meta", "sig")}
    try:
        exp = int(params["exp"])
    except ValueError:
        raise Forbidden("invalid signature") from None
    if method == "PUT":
        expected = sign_local("PUT", key, exp, params["ct"], params["len"], params["meta"])
    else:
        expected = sign_local("GET", key, exp)
    if not hmac.compare_digest(expected.encode(), params["sig"].encode()):
        raise Forbidden("invalid signature")
    if exp < time.time():
        raise Forbidden("signed URL expired")
    return params


@csrf_exempt
async def local_object(request: HttpRequest, key: str) -> HttpResponse:
    """PUT/GET of a local object through a signed URL (the signature, not a session, authorises it)."""
    try:
        storage = get_storage()
        if not isinstance(storage, LocalStorage):
            raise NotFound("local storage is not in use")
        validate_key(key)
        if request.method == "PUT":
            params = _check_signature(request, key, "PUT")
            if request.content_type != params["ct"] and request.headers.get("Content-Type") != params["ct"]:
                raise Forbidden("Content-Type differs from the signed one")
            if request.headers.get("Content-Length") != params["len"]:
                raise Forbidden("Content-Length differs from the signed one")
            if not await put_allowed(key):
                raise Forbidden("this object is not open for upload")
            metadata = json.loads(_unb64(params["meta"]) or b"{}")
            await asyncio.to_thread(
                storage.write_stream,
                key,
                request,
                content_type=params["ct"],
                metadata=metadata,
                limit=int(params["len"]),
            )
            return HttpResponse(status=200)
        if request.method in ("GET", "HEAD"):
            _check_signature(request, key, "GET")
            info = await asyncio.to_thread(storage.head, key)
            if info is None:
                raise NotFound("object not found")
            stream = await asyncio.to_thread(storage.open_stream, key)
            response = FileResponse(stream, content_type=info.content_type or "application/octet-stream")
            response["Cache-Control"] = "private, max-age=300"
            response["X-Content-Type-Options"] = "nosniff"
            return response
        response = error_response(MethodNotAllowed(f'method "{request.method}" not allowed'))
        response["Allow"] = "GET, HEAD, PUT"
        return response
    except AppError as exc:
        return error_response(exc)
