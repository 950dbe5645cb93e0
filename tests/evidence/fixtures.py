"""Storage backends and generated files for evidence and storage tests (imported by conftests and modules)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client

# -- storage backends -----------------------------------------------------------------


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.CONFIG = dataclasses.replace(settings.CONFIG, s3_endpoint="")
    settings.MEDIA_ROOT = tmp_path / "media"
    return "local"


@pytest.fixture
def s3_storage(settings, s3_server):
    import boto3
    from botocore.config import Config

    bucket = f"ev-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server["endpoint"],
        aws_access_key_id=s3_server["access_key"],
        aws_secret_access_key=s3_server["secret_key"],
        region_name=s3_server["region"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)
    settings.CONFIG = dataclasses.replace(
        settings.CONFIG,
        s3_endpoint=s3_server["endpoint"],
        s3_access_key=s3_server["access_key"],
        s3_secret_key=s3_server["secret_key"],
        s3_region=s3_server["region"],
        s3_bucket=bucket,
    )
    return "s3"


@pytest.fixture(params=["local", "s3"])
def backend(request) -> str:
    """Runs a test on local files and on the real S3 server."""
    return request.getfixturevalue(f"{request.param}_storage")


def put_object(client: Client, url: str, headers: dict[str, str], data: bytes, **overrides: str) -> int:
    """PUT the bytes where the ticket says: the app itself (local) or S3 over real HTTP."""
    headers = {**headers, **overrides}
    if url.startswith("http://testserver/"):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
        response = client.generic(
            "PUT", url.removeprefix("http://testserver"), data, content_type=headers.get("Content-Type", ""), **extra
        )
        return response.status_code
    return httpx.put(url, content=data, headers=headers).status_code


def get_object(client: Client, url: str) -> tuple[int, bytes]:
    if url.startswith("/") or url.startswith("http://testserver/"):
        response = client.get(url.removeprefix("http://testserver"))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, body
    response = httpx.get(url)
    return response.status_code, response.content


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- generated files (never committed) -----------------------------------------------------


def _rational(value: float) -> tuple[int, int]:
    return (round(value * 10000), 10000)


def _dms(value: float) -> tuple[tuple[int, int], ...]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return ((degrees, 1), (minutes, 1), _rational(seconds))


def jpeg(
    *,
    lat: float | None = -6.2,
    lon: float | None = 106.8166,
    captured: datetime | None = None,
    size: tuple[int, int] = (64, 48),
    offset: str = "+07:00",
) -> bytes:
    """A real JPEG with EXIF capture time, GPS and camera, made with Pillow + piexif."""
    import piexif
    from PIL import Image

    captured = captured or datetime.now(UTC) - timedelta(hours=1)
    local = captured.astimezone(UTC) + timedelta(hours=int(offset[:3]))
    exif: dict[str, Any] = {
        "0th": {piexif.ImageIFD.Make: b"Gotong", piexif.ImageIFD.Model: b"TestCam 1"},
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: local.strftime("%Y:%m:%d %H:%M:%S").encode(),
            piexif.ExifIFD.OffsetTimeOriginal: offset.encode(),
        },
        "GPS": {},
    }
    if lat is not None and lon is not None:
        exif["GPS"] = {
            piexif.GPSIFD.GPSLatitudeRef: b"S" if lat < 0 else b"N",
            piexif.GPSIFD.GPSLatitude: _dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"W" if lon < 0 else b"E",
            piexif.GPSIFD.GPSLongitude: _dms(lon),
        }
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 80)).save(out, "JPEG", exif=piexif.dump(exif), quality=85)
    return out.getvalue()


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def jpeg_with_raw_exif(tiff: bytes) -> bytes:
    """A JPEG whose APP1 segment carries ``tiff`` as-is (for malformed and bomb EXIF)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    data = out.getvalue()
    payload = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + segment + data[2:]
