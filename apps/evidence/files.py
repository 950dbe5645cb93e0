"""Checking an uploaded evidence file: one streaming pass, then EXIF from the first bytes.

Runs in a worker thread (``asyncio.to_thread``): hashing and EXIF parsing are
CPU work that must not block the event loop. The object is read once, in
chunks; only its first ``HEAD_BYTES`` are kept (magic bytes and the EXIF
segment live there), so memory stays bounded whatever the file size. The
stored original is never modified: EXIF is parsed from that in-memory copy.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, BinaryIO

from apps.core.errors import EvidenceRejected

MIB = 1024 * 1024
LIMITS = {
    "image/jpeg": 15 * MIB,
    "image/png": 15 * MIB,
    "image/webp": 15 * MIB,
    "image/heic": 15 * MIB,
    "video/mp4": 100 * MIB,
    "video/webm": 100 * MIB,
    "application/pdf": 10 * MIB,
    "application/geo+json": 1 * MIB,
    "application/json": 1 * MIB,
    "text/plain": 1 * MIB,
}
ALLOWED_TYPES = tuple(LIMITS)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")
JSON_TYPES = ("application/json", "application/geo+json")
HEAD_BYTES = 256 * 1024
CHUNK = 1024 * 1024
MAX_EXIF_BYTES = 64 * 1024
MAX_IFD_ENTRIES = 512
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def rejected(reason: str, message: str) -> EvidenceRejected:
    return EvidenceRejected(message, details={"reason": reason})


@dataclass
class Inspection:
    sha256: str
    size: int
    mime_type: str | None  # sniffed; None = not an allowed type
    exif: dict[str, Any] | None
    exif_error: EvidenceRejected | None = None  # reported after the hash and type checks


def sniff(head: bytes, *, is_text: bool) -> str | None:
    """The type from magic bytes; text types from content (valid UTF-8, no NUL)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "image/heic" if head[8:12] in _HEIC_BRANDS else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else None
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if is_text and head:
        first = head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
        return "application/json" if first in (b"{", b"[") else "text/plain"
    return None


def type_agrees(sniffed: str, declared: str) -> bool:
    if sniffed == declared:
        return True
    if sniffed == "application/json":
        # JSON is also valid GeoJSON and valid plain text as far as magic bytes can tell.
        return declared in ("application/geo+json", "text/plain")
    return False


def inspect_stream(stream: BinaryIO, *, is_image_expected: bool = True, spool: BinaryIO | None = None) -> Inspection:
    """Hash the whole stream chunk by chunk, sniff its type, read EXIF from its head.

    ``spool``: a file that receives every chunk of the same pass, so a later reader (C2PA content
    credentials) sees exactly the bytes that were hashed, without a second read of the object.
    """
    digest = hashlib.sha256()
    head = bytearray()
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_text = True
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if spool is not None:
            spool.write(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if is_text and size <= 1 * MIB:
            try:
                decoder.decode(chunk)
                is_text = b"\x00" not in chunk
            except UnicodeDecodeError:
                is_text = False
        else:
            is_text = False
    if is_text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_text = False
    mime = sniff(bytes(head), is_text=is_text and size > 0)
    exif, exif_error = None, None
    if mime in IMAGE_TYPES and is_image_expected:
        try:
            exif = read_exif(bytes(head))
        except EvidenceRejected as exc:
            exif_error = exc
    return Inspection(digest.hexdigest(), size, mime, exif, exif_error)


# -- EXIF -------------------------------------------------------------------------


def read_exif(head: bytes) -> dict[str, Any] | None:
    """Capture time, GPS and camera from the image's EXIF; ``None`` if it has none.

    Raises ``evidence_rejected`` ``exif_too_large`` (an EXIF bomb: oversized
    segment, huge IFDs, IFD loops) or ``exif_malformed`` (offsets out of range,
    unreadable values, GPS outside ±90/±180).
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; the rules below decide
        try:
            image = Image.open(io.BytesIO(head))
            raw = image.info.get("exif")
        except Exception:  # any failure to parse the header from the first bytes: no EXIF to report
            return None
        if not raw:
            return None
        if raw.startswith(b"Exif\x00\x00"):
            raw = raw[6:]
        check_exif_structure(raw)
        try:
            exif = image.getexif()
            details = dict(exif.get_ifd(0x8769))
            return {
                "captured_at_ms": _capture_ms(details, exif),
                **_gps(dict(exif.get_ifd(0x8825))),
                "camera_make": _text(exif.get(0x010F)),
                "camera_model": _text(exif.get(0x0110)),
            }
        except EvidenceRejected:
            raise
        except Exception as exc:  # values Pillow cannot interpret (bad rationals, types, lengths)
            raise rejected("exif_malformed", "the image's EXIF data is malformed") from exc


def check_exif_structure(raw: bytes) -> None:
    """Walk the TIFF structure with hard bounds before Pillow interprets it."""
    if len(raw) > MAX_EXIF_BYTES:
        raise rejected("exif_too_large", "the image's EXIF data is too large")
    if len(raw) < 8 or raw[:4] not in (b"II*\x00", b"MM\x00*"):
        raise rejected("exif_malformed", "the image's EXIF data is malformed")
    order = "<" if raw[:2] == b"II" else ">"
    seen: set[int] = set()
    # (offset, is a main IFD): only IFD0/IFD1 chain through "next IFD"; sub-IFDs may omit that pointer.
    pending = [(struct.unpack(order + "I", raw[4:8])[0], True)]
    while pending:
        offset, main = pending.pop()
        if offset == 0:
            continue
        if offset in seen or len(seen) > 16:
            raise rejected("exif_too_large", "the image's EXIF data has looping or too many directories")
        seen.add(offset)
        if offset + 2 > len(raw):
            raise rejected("exif_malformed", "the image's EXIF data is malformed")
        count = struct.unpack(order + "H", raw[offset : offset + 2])[0]
        if count > MAX_IFD_ENTRIES:
            raise rejected("exif_too_large", "the image's EXIF directory has too many entries")
        end = offset + 2 + count * 12
        if end > len(raw):
            raise rejected("exif_malformed", "the image's EXIF data is malformed")
        for i in range(count):
            entry = raw[offset + 2 + i * 12 : offset + 14 + i * 12]
            tag = struct.unpack(order + "H", entry[:2])[0]
            if tag in (0x8769, 0x8825, 0xA005):
                pending.append((struct.unpack(order + "I", entry[8:12])[0], False))
        if main and end + 4 <= len(raw):
            pending.append((struct.unpack(order + "I", raw[end : end + 4])[0], True))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.replace("\x00", "").strip()
    return text[:100] or None


def _capture_ms(details: dict[int, Any], exif: Any) -> int | None:
    raw = _text(details.get(0x9003) or exif.get(0x0132))  # DateTimeOriginal, else DateTime
    if not raw:
        return None
    try:
        moment = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError as exc:
        raise rejected("exif_malformed", "the image's EXIF capture time is malformed") from exc
    offset = _text(details.get(0x9011) or details.get(0x9010))  # OffsetTimeOriginal, OffsetTime
    tz = UTC  # no offset recorded: read as UTC (the 24 h tolerance absorbs any local zone)
    if offset and len(offset) == 6 and offset[0] in "+-":
        sign = 1 if offset[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    return int(moment.replace(tzinfo=tz).timestamp() * 1000)


def _degrees(value: Any) -> float:
    d, m, s = (float(part) for part in value)
    return d + m / 60 + s / 3600


def _gps(gps: dict[int, Any]) -> dict[str, float | None]:
    if 2 not in gps or 4 not in gps:
        return {"lat": None, "lon": None}
    lat, lon = _degrees(gps[2]), _degrees(gps[4])
    if _text(gps.get(1)) in ("S", "s"):
        lat = -lat
    if _text(gps.get(3)) in ("W", "w"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise rejected("exif_malformed", "the image's EXIF GPS position is out of range")
    return {"lat": round(lat, 7), "lon": round(lon, 7)}


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes already in memory (tests, benchmarks); uploads are hashed by ``inspect_stream``."""
    return hashlib.sha256(data).hexdigest()


VERIFIED_PREFIX = "evidence/sha256/"


def verified_key(sha256: str) -> str:
    """The content-addressed key of a verified file: no upload URL reaches it, and only it is ever served.

    The same bytes always land on the same key, so copying verified bytes over it changes nothing.
    """
    return VERIFIED_PREFIX + sha256.lower()
