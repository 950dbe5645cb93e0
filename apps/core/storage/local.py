"""Local-file object storage (the embedded default) and its signed endpoint ``/storage/local/<key>``.

The endpoint gives local files the same contract as S3 presigned URLs: an HMAC-SHA256 signature (its own key,
``apps.core.keys``) over method, key, expiry, content type, length and metadata, checked in constant time, and a
PUT only where a registered put guard opens the key. See the package docstring for the whole design.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core import keys
from apps.core.api import error_response
from apps.core.errors import AppError, Forbidden, MethodNotAllowed, NotFound, ValidationFailed
from apps.core.storage.base import (
    CHUNK_SIZE,
    LOCAL_PREFIX,
    ObjectChanged,
    ObjectInfo,
    PresignedRequest,
    StorageUnavailable,
    count_operation,
    put_allowed,
    s3_configured,
    validate_key,
)

_META_DIR = ".meta"


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
        count_operation(op, "not_found")
        raise NotFound("object not found") from None
    except OSError as exc:
        count_operation(op, "error")
        raise StorageUnavailable() from exc
    count_operation(op, "ok")


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
        count_operation("presign_put", "ok")
        return PresignedRequest(
            f"{LOCAL_PREFIX}{quote(key)}?{query}", "PUT", {"Content-Type": content_type}, exp * 1000
        )

    def presigned_get(self, key: str, *, expires_s: int) -> str:
        exp = int(time.time()) + expires_s
        count_operation("presign_get", "ok")
        return f"{LOCAL_PREFIX}{quote(key)}?{urlencode({'exp': exp, 'sig': sign_local('GET', key, exp)})}"

    def open_stream(self, key: str) -> BinaryIO:
        try:
            stream = self.path(key).open("rb")
        except FileNotFoundError:
            count_operation("open", "not_found")
            raise NotFound("object not found") from None
        count_operation("open", "ok")
        return stream

    def head(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            size = path.stat().st_size
            info = json.loads(self.meta_path(key).read_text())
        except FileNotFoundError:
            count_operation("head", "not_found")
            return None
        count_operation("head", "ok")
        return ObjectInfo(size, info.get("content_type", ""), info.get("metadata", {}))

    def delete(self, key: str) -> None:
        for path in (self.path(key), self.meta_path(key)):
            path.unlink(missing_ok=True)
        count_operation("delete", "ok")

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
                count_operation("copy", "changed")
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
            count_operation("put", "error")
            raise
        count_operation("put", "ok")
        return written


class _Chunks:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return chunk


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
        if s3_configured():  # get_storage's rule, without importing the package (which imports this module)
            raise NotFound("local storage is not in use")
        storage = LocalStorage()
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
