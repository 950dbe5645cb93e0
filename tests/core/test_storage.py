"""The storage interface on local files and on a real S3 server (SeaweedFS, SigV4 checked).

Presigned URLs must refuse a tampered signature, a tampered key, another
content type and an expired URL; objects are private; reads stream. Server-side
copy/move keep type and metadata, a pinned copy refuses a replaced source, and
the local endpoint writes only where a put guard allows it.
"""

from __future__ import annotations

import datetime
import io
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import botocore.auth
import httpx
import pytest
from django.test import Client

from apps.core import metrics
from apps.core import storage as storage_module
from apps.core.errors import NotFound
from apps.core.storage import ObjectChanged, get_storage, put_allowed, register_put_guard, sign_local
from apps.core.storage import local as local_storage_module
from tests.evidence.fixtures import backend, get_object, local_storage, put_object, s3_storage  # noqa: F401 - fixtures

# A prefix of these tests only, opened for PUT by ``open_test_prefix`` (evidence keys have their own guard).
KEY = "test-objects/2026/11/0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def open_test_prefix(monkeypatch):
    async def always(key: str) -> bool:
        return True

    monkeypatch.setitem(storage_module._put_guards, "test-objects/", always)


def _count(op: str, result: str) -> float:
    return metrics.storage_operations_total.labels(op, result)._value.get()


def _tamper(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def _flip(signature: str) -> str:
    return ("A" if signature[0] != "A" else "B") + signature[1:]


def _signature_param(url: str) -> str:
    return "X-Amz-Signature" if "X-Amz-Signature" in url else "sig"


def _absolute(url: str) -> str:
    return "http://testserver" + url if url.startswith("/") else url


@pytest.mark.usefixtures("backend")
def test_presigned_put_get_roundtrip_and_metadata():
    client, storage = Client(), get_storage()
    data = b"hello evidence" * 1000
    ticket = storage.presigned_put(KEY, content_type="text/plain", size_bytes=len(data),
                                   metadata={"user_id": "u1", "sha256": "ab"}, expires_s=300)  # fmt: skip
    assert ticket.method == "PUT"
    assert ticket.headers["Content-Type"] == "text/plain"
    assert put_object(client, _absolute(ticket.url), ticket.headers, data) in (200, 201, 204)
    info = storage.head(KEY)
    assert info.size == len(data)
    assert info.metadata == {"user_id": "u1", "sha256": "ab"}
    with storage.open_stream(KEY) as stream:
        chunks = []
        while chunk := stream.read(4096):
            assert len(chunk) <= 4096
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert get_object(client, storage.presigned_get(KEY, expires_s=60)) == (200, data)
    storage.delete(KEY)
    assert storage.head(KEY) is None


@pytest.mark.usefixtures("backend")
def test_tampered_and_rebound_urls_are_refused():
    client, storage = Client(), get_storage()
    data = b"x" * 100
    ticket = storage.presigned_put(KEY, content_type="text/plain", size_bytes=len(data), metadata={}, expires_s=300)
    url = _absolute(ticket.url)
    param = _signature_param(url)
    signature = dict(parse_qsl(urlsplit(url).query))[param]
    assert put_object(client, _tamper(url, param, _flip(signature)), ticket.headers, data) == 403
    assert put_object(client, url.replace(KEY, KEY[:-1] + "0"), ticket.headers, data) == 403
    assert put_object(client, url, ticket.headers, data, **{"Content-Type": "image/jpeg"}) == 403
    assert storage.head(KEY) is None
    storage.put_bytes(KEY, data, content_type="text/plain", metadata={})
    get_url = storage.presigned_get(KEY, expires_s=60)
    get_param = _signature_param(get_url)
    get_sig = dict(parse_qsl(urlsplit(get_url).query))[get_param]
    assert get_object(client, _tamper(get_url, get_param, _flip(get_sig)))[0] == 403


@pytest.mark.usefixtures("backend")
def test_expired_urls_are_refused(monkeypatch):
    """URLs signed two minutes ago for one minute (signer clocks moved back, no sleep) are refused."""
    client, storage = Client(), get_storage()
    data = b"y" * 10
    storage.put_bytes(KEY, data, content_type="text/plain", metadata={})
    fresh_get = storage.presigned_get(KEY, expires_s=60)
    past = time.time() - 120
    then = datetime.datetime.fromtimestamp(past, datetime.UTC).replace(tzinfo=None)
    with monkeypatch.context() as signing_in_the_past:
        signing_in_the_past.setattr(local_storage_module, "time", SimpleNamespace(time=lambda: past))  # local signer
        signing_in_the_past.setattr(botocore.auth, "get_current_datetime", lambda: then)  # S3 SigV4 signer
        put_ticket = storage.presigned_put(
            KEY, content_type="text/plain", size_bytes=len(data), metadata={}, expires_s=60
        )
        get_url = storage.presigned_get(KEY, expires_s=60)
    assert get_object(client, fresh_get)[0] == 200  # the same URL made now still works: only the age differs
    assert put_object(client, _absolute(put_ticket.url), put_ticket.headers, data) == 403
    assert get_object(client, get_url)[0] == 403


@pytest.mark.usefixtures("s3_storage")
def test_objects_are_private_on_s3():
    storage = get_storage()
    storage.put_bytes(KEY, b"secret", content_type="text/plain", metadata={})
    plain = f"{storage.client.meta.endpoint_url}/{storage.bucket_name}/{KEY}"
    assert httpx.get(plain).status_code == 403


@pytest.mark.usefixtures("local_storage")
def test_local_signature_covers_every_parameter():
    base = sign_local("PUT", KEY, 100, "text/plain", "10", "e30")
    assert base != sign_local("PUT", KEY, 100, "text/plain", "11", "e30")
    assert base != sign_local("PUT", KEY, 101, "text/plain", "10", "e30")
    assert base != sign_local("GET", KEY, 100, "text/plain", "10", "e30")


@pytest.mark.usefixtures("local_storage")
def test_local_keys_cannot_escape_the_media_root():
    client = Client()
    assert client.get("/storage/local/evidence/../../etc/passwd?exp=9999999999&sig=x").status_code in (400, 403, 404)
    with pytest.raises(Exception):  # noqa: B017 - any refusal
        get_storage().path("../outside")


@pytest.mark.usefixtures("local_storage")
def test_operations_are_counted():
    before = metrics.storage_operations_total.labels("delete", "ok")._value.get()
    get_storage().delete(KEY)
    assert metrics.storage_operations_total.labels("delete", "ok")._value.get() == before + 1


def _put_ticket(key: str, data: bytes):
    ticket = get_storage().presigned_put(key, content_type="text/plain", size_bytes=len(data), metadata={},
                                         expires_s=300)  # fmt: skip
    return _absolute(ticket.url), ticket.headers


@pytest.mark.usefixtures("backend")
def test_copy_move_and_put_stream_keep_type_and_metadata():
    storage = get_storage()
    data = b"0123456789" * 300_000  # 3 MB: several chunks
    src, dst, moved = KEY, KEY[:-1] + "1", KEY[:-1] + "2"
    before = {op: _count(op, "ok") for op in ("put", "copy", "move")}
    with io.BytesIO(data) as stream:
        storage.put_stream(src, stream, size=len(data), content_type="text/plain", metadata={"sha256": "ab"})
    storage.copy(src, dst)
    for key in (src, dst):
        info = storage.head(key)
        assert (info.size, info.content_type, info.metadata) == (len(data), "text/plain", {"sha256": "ab"})
        with storage.open_stream(key) as stream:
            assert stream.read() == data
    storage.move(dst, moved)
    assert storage.head(dst) is None
    assert storage.head(moved).metadata == {"sha256": "ab"}
    with storage.open_stream(moved) as stream:
        assert stream.read() == data
    assert {op: _count(op, "ok") - before[op] for op in before} == {"put": 1, "copy": 1, "move": 1}
    with pytest.raises(NotFound):
        storage.move(dst, moved)  # the source is gone: a second (concurrent) move finds nothing
    with pytest.raises(NotFound):
        storage.copy(dst, KEY[:-1] + "3")
    assert storage.head(KEY[:-1] + "3") is None
    assert _count("move", "not_found") >= 1


@pytest.mark.usefixtures("backend")
def test_pinned_copy_refuses_a_replaced_source():
    """What was read is what is copied: a source replaced after the read is never copied."""
    storage = get_storage()
    storage.put_bytes(KEY, b"the bytes that were hashed", content_type="text/plain", metadata={})
    stream, version = storage.open_pinned(KEY)
    with stream:
        assert stream.read() == b"the bytes that were hashed"
    storage.put_bytes(KEY, b"bytes put there afterwards!", content_type="text/plain", metadata={})
    target = KEY[:-1] + "9"
    with pytest.raises(ObjectChanged):
        storage.copy(KEY, target, if_version=version)
    assert storage.head(target) is None
    stream, version = storage.open_pinned(KEY)
    stream.close()
    storage.copy(KEY, target, if_version=version)
    with storage.open_stream(target) as copied:
        assert copied.read() == b"bytes put there afterwards!"


@pytest.mark.usefixtures("local_storage")
def test_local_put_needs_a_guard_that_allows_it(monkeypatch):
    client = Client()
    data = b"attacker bytes"
    refused_keys = [
        "chat-attachments/test/sha256/" + "a" * 64,  # no guard at all
        "evidence/sha256/" + "b" * 64,  # under the evidence guard, but never an upload key
        "evidence/staging/0123456789abcdef0123456789abcdef",
        "evidence/2026/11/0123456789abcdef0123456789abcdef",  # no such pending upload
    ]
    for key in refused_keys:
        url, headers = _put_ticket(key, data)
        response = client.generic("PUT", url.removeprefix("http://testserver"), data, content_type="text/plain")
        assert response.status_code == 403, key
        assert response.json()["error"] == {"code": "forbidden", "message": "this object is not open for upload"}
        assert get_storage().head(key) is None
        assert not get_storage().path(key).exists()

    async def closed(key: str) -> bool:
        return False

    monkeypatch.setitem(storage_module._put_guards, "test-objects/closed/", closed)
    url, headers = _put_ticket("test-objects/closed/x", data)
    assert put_object(client, url, headers, data) == 403  # the longest prefix decides
    assert get_storage().head("test-objects/closed/x") is None
    url, headers = _put_ticket("test-objects/open/x", data)
    assert put_object(client, url, headers, data) == 200


def test_put_guard_registry():
    import asyncio

    async def only_a(key: str) -> bool:
        return key.endswith("/a")

    register_put_guard("guard-test/", only_a)
    try:
        assert asyncio.run(put_allowed("guard-test/x/a")) is True
        assert asyncio.run(put_allowed("guard-test/x/b")) is False
        assert asyncio.run(put_allowed("unguarded/x/a")) is False
    finally:
        storage_module._put_guards.pop("guard-test/")


def protocol_members() -> set[str]:
    """The public operations and attributes of ``ObjectStorage``: all any caller may use."""
    declared = set(storage_module.ObjectStorage.__annotations__)
    declared |= {name for name in vars(storage_module.ObjectStorage) if not name.startswith("_")}
    return declared


@pytest.mark.parametrize("backend_class", [storage_module.LocalStorage, storage_module.S3ObjectStorage])
def test_both_backends_implement_the_whole_protocol_with_its_signatures(backend_class):
    import inspect

    assert protocol_members() >= {"backend", "put_stream", "open_stream", "presigned_get", "copy", "move"}
    for name in protocol_members():
        assert hasattr(backend_class, name), f"{backend_class.__name__} lacks {name}"
        declared = getattr(storage_module.ObjectStorage, name, None)
        if callable(declared):
            expected = [(p.name, p.kind) for p in inspect.signature(declared).parameters.values()]
            actual = [(p.name, p.kind) for p in inspect.signature(getattr(backend_class, name)).parameters.values()]
            assert actual == expected, f"{backend_class.__name__}.{name}"
