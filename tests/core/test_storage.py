"""The storage interface on local files and on a real S3 server (SeaweedFS, SigV4 checked).

Presigned URLs must refuse a tampered signature, a tampered key, another
content type and an expired URL; objects are private; reads stream.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from django.test import Client

from apps.core import metrics
from apps.core.storage import get_storage, sign_local
from tests.evidence.fixtures import backend, get_object, local_storage, put_object, s3_storage  # noqa: F401 - fixtures

KEY = "evidence/2026/11/0123456789abcdef0123456789abcdef"


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
def test_expired_urls_are_refused():
    client, storage = Client(), get_storage()
    data = b"y" * 10
    storage.put_bytes(KEY, data, content_type="text/plain", metadata={})
    put_ticket = storage.presigned_put(KEY, content_type="text/plain", size_bytes=len(data), metadata={}, expires_s=1)
    get_url = storage.presigned_get(KEY, expires_s=1)
    time.sleep(2.1)
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
