"""Thumbnails of image evidence: at most 320 px, with no location (or any other) metadata.

Why it looks like this:

* The original stays evidence: it is only READ (from its content-addressed ``verified_key``), never
  rewritten, moved or re-keyed (docs/transparency.md, "immutable files"). The thumbnail is a separate,
  derived object under its own prefix, ``evidence-thumbnails/{sha256}-320.jpg``, keyed by the
  original's SHA-256: the same photo always has the same thumbnail, so concurrent or repeated
  generation writes identical bytes.
* That prefix is outside ``evidence/``: no upload URL or put guard reaches it, and the upload sweeps
  never touch it.
* Made lazily, on the first request for it, then cached in storage; pages link the thumbnail endpoint,
  never the (multi-megabyte) original.
* Re-encoded as a fresh JPEG from the pixels only: no EXIF (so no GPS position, camera serial, capture
  time), no XMP, no text chunks. The EXIF orientation is applied to the pixels first, so the
  thumbnail is upright.
* Bounded work: the original is spooled to a temporary file in chunks (never whole in memory), images
  above ``MAX_PIXELS`` are refused (decompression bombs), JPEGs are decoded at reduced scale
  (``draft``). Blocking Pillow work runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import warnings
from typing import Any

from apps.core.errors import NotFound
from apps.core.storage import ObjectStorage, get_storage

MAX_SIDE = 320
PREFIX = "evidence-thumbnails/"
# Pillow decodes these; HEIC needs a plugin the project does not ship (those pages link the original).
THUMBNAIL_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_PIXELS = 80_000_000
SPOOL_IN_MEMORY = 2 * 1024 * 1024
CHUNK = 1024 * 1024


class ThumbnailUnavailable(NotFound):
    default_message = "no thumbnail for this file"


def thumbnail_key(sha256: str) -> str:
    """The derived object's key: keyed by the original's hash, never the original's own key."""
    return f"{PREFIX}{sha256.lower()}-{MAX_SIDE}.jpg"


def render(source: Any, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG of at most ``max_side`` px on its longer side, from a seekable file of image bytes.

    Raises ``ThumbnailUnavailable`` for anything Pillow cannot decode or that is too large to decode.
    """
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # corrupt EXIF and similar warnings: the outcome decides
        try:
            image = Image.open(source)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ThumbnailUnavailable("the image is too large to make a thumbnail")
            image.draft("RGB", (max_side * 2, max_side * 2))  # JPEG: decode at a reduced scale
            image = ImageOps.exif_transpose(image)  # upright pixels; the EXIF itself is not carried over
            image.thumbnail((max_side, max_side))
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                background = Image.new("RGB", image.size, (255, 255, 255))
                background.paste(image, mask=image.getchannel("A"))
                image = background
            elif image.mode != "RGB":
                image = image.convert("RGB")
            out = io.BytesIO()
            # Only pixels are written: no exif=, no xmp, no comment → no location data.
            image.save(out, "JPEG", quality=80, optimize=True)
        except ThumbnailUnavailable:
            raise
        except Exception as exc:  # any decoding failure: no thumbnail, the original is still linked
            raise ThumbnailUnavailable() from exc
    return out.getvalue()


def _generate(storage: ObjectStorage, source_key: str, target_key: str, sha256: str) -> None:
    """Read the original in chunks into a spool, render, store the thumbnail (worker thread)."""
    stream = storage.open_stream(source_key)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
            spool.seek(0)
            data = render(spool)
    finally:
        stream.close()
    storage.put_bytes(target_key, data, content_type="image/jpeg", metadata={"source_sha256": sha256.lower()})


async def ensure_thumbnail(source_key: str, sha256: str, mime_type: str) -> str:
    """The thumbnail's key, generating and storing it on first use.

    ``source_key`` must be the original's ``verified_key``. Raises ``ThumbnailUnavailable`` (404) for
    types without thumbnails and undecodable images.
    """
    if mime_type not in THUMBNAIL_TYPES:
        raise ThumbnailUnavailable()
    storage = get_storage()
    key = thumbnail_key(sha256)
    if await asyncio.to_thread(storage.head, key) is None:
        await asyncio.to_thread(_generate, storage, source_key, key, sha256)
    return key
