"""C2PA content credentials of evidence media, read with the official ``c2pa-python`` library.

Interface (used by ``services_uploads.confirm_upload``):

``content_credentials(path, mime_type) -> dict | None``
    ``None`` when the type cannot carry C2PA here (anything but ``image/*`` and ``video/*``);
    otherwise the summary stored on the evidence::

        {"present": bool, "validation_state": "valid" | "invalid" | "trusted" | None,
         "codes": [validation status codes], "claim_generator": str | None,
         "issuer": str | None, "signed_at": str | None}

Why it is shaped like this:

- The summary is evidence about the file, not a gate: a missing, untrusted or broken manifest
  never refuses an upload, it is recorded and shown to members and moderators. So this
  function never raises; whatever the bytes are, the caller gets a summary.
- Validation is c2pa's own (claim signature, data hash, certificate profile). We only map its
  ``validation_state`` and keep its failure codes. A manifest c2pa calls ``Invalid`` stays
  ``invalid``; we never upgrade a state.
- Trust is decided by c2pa against ``settings.CONFIG.c2pa_trust_anchors`` only (the PEM
  *replaces* any built-in list), with ``verify_trust`` on: a good signature by a certificate
  outside those anchors is ``valid`` with ``signingCredential.untrusted``; chained to an
  anchor it is ``trusted``. No anchors configured = nothing is ever ``trusted``.
- No network: remote manifests and OCSP are not fetched (a file must not make the server
  call out, and confirm must not wait on a third party).
- Bounded: c2pa reads the local spooled file through a stream (seek + read of the parts it
  needs); the file is never loaded whole into memory. Only when c2pa cannot parse the
  container do we scan the file once more, in chunks, for a C2PA manifest-store box, to say
  whether the broken file was claiming C2PA at all.
- Manifest strings are untrusted input that end up in the database, the transparency leaf and
  webhooks: they are cut to a bounded length and the code list is capped.

This is blocking CPU and file work: call it from a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

CREDENTIAL_TYPES_PREFIXES = ("image/", "video/")

# c2pa's validation_state values -> ours.
STATES = {"Valid": "valid", "Trusted": "trusted", "Invalid": "invalid"}

# Standard C2PA status code for "an error not specifically listed" (C2PA 2.x, 15.2.3): used when
# the container cannot be parsed at all, so c2pa produced no status codes of its own.
GENERAL_ERROR = "general.error"
# The softest failure c2pa reports: the signature holds but the signer is not in our anchors.
UNTRUSTED = "signingCredential.untrusted"

MAX_CODES = 20
MAX_CODE_CHARS = 100
MAX_TEXT_CHARS = 200

# JUMBF description box type of a C2PA manifest store (UUID 63327061-0011-0010-8000-00AA00389B71).
MANIFEST_STORE_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
SCAN_CHUNK = 1024 * 1024


def absent(codes: list[str] | None = None) -> dict[str, Any]:
    """The summary of a file without (readable) content credentials."""
    return {
        "present": False,
        "validation_state": None,
        "codes": list(codes or []),
        "claim_generator": None,
        "issuer": None,
        "signed_at": None,
    }


def unreadable() -> dict[str, Any]:
    """A file that carries a C2PA manifest store c2pa could not read: never ``valid``."""
    return {**absent([GENERAL_ERROR]), "present": True, "validation_state": "invalid"}


def content_credentials(path: str, mime_type: str) -> dict[str, Any] | None:
    """Read and validate the C2PA manifest of the local file at ``path``; see the module docstring."""
    if not mime_type.startswith(CREDENTIAL_TYPES_PREFIXES):
        return None
    import c2pa  # native library: loaded on first use, not at Django start-up

    try:
        with (
            c2pa.Context.from_dict(_reader_settings()) as context,
            open(path, "rb") as stream,
        ):
            reader = c2pa.Reader.try_create(mime_type, stream, None, context)
            if reader is None:
                return absent()
            with reader:
                store = json.loads(reader.json())
        return summarize(store)
    except c2pa.C2paError.NotSupported:
        # A type c2pa cannot read (e.g. video/webm): no credentials unless it carries a store anyway.
        return unreadable() if _has_manifest_store(path) else absent()
    except c2pa.C2paError as exc:
        log.info("c2pa could not read %s (%s): %s", path, mime_type, type(exc).__name__)
    except Exception:  # the summary must never take the confirm step down with it
        log.exception("content credentials of %s (%s) failed", path, mime_type)
    return unreadable() if _has_manifest_store(path) else absent([GENERAL_ERROR])


def summarize(store: dict[str, Any]) -> dict[str, Any]:
    """Map c2pa's manifest-store JSON to our summary (pure; unit-testable without files)."""
    state = STATES.get(str(store.get("validation_state")))
    codes = _failure_codes(store)
    if state is None:  # unknown or missing state: never claim it is valid
        state = "invalid"
        codes = codes or [GENERAL_ERROR]
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    signature = manifest.get("signature_info") or {}
    return {
        "present": True,
        "validation_state": state,
        "codes": codes,
        "claim_generator": _text(_claim_generator(manifest)),
        "issuer": _text(signature.get("issuer") or signature.get("common_name")),
        "signed_at": _text(signature.get("time")),
    }


def _failure_codes(store: dict[str, Any]) -> list[str]:
    """Failure codes of the active manifest and its ingredients, the decisive ones first.

    ``signingCredential.untrusted`` goes last: it accompanies every signature outside our
    anchors, so it must not hide the reason an ``invalid`` manifest is invalid.
    """
    results = store.get("validation_results") or {}
    entries: list[Any] = list((results.get("activeManifest") or {}).get("failure") or [])
    for delta in results.get("ingredientDeltas") or []:
        entries.extend(((delta or {}).get("validationDeltas") or {}).get("failure") or [])
    if not results:  # older shape: one flat list of statuses, all of them failures
        entries = list(store.get("validation_status") or [])
    codes: list[str] = []
    for entry in entries:
        code = entry.get("code") if isinstance(entry, dict) else None
        if isinstance(code, str) and code and code[:MAX_CODE_CHARS] not in codes:
            codes.append(code[:MAX_CODE_CHARS])
    codes.sort(key=lambda c: c == UNTRUSTED)  # stable: keeps c2pa's order otherwise
    return codes[:MAX_CODES]


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get("name"):
        first = info[0]
        return " ".join(str(part) for part in (first["name"], first.get("version")) if part)
    generator = manifest.get("claim_generator")
    return str(generator) if generator else None


def _text(value: Any) -> str | None:
    return str(value)[:MAX_TEXT_CHARS] if value not in (None, "") else None


def _reader_settings() -> dict[str, Any]:
    """c2pa settings for reading: full validation, trust from our anchors only, no network."""
    config: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    anchors = _trust_anchors()
    if anchors:
        config["trust"] = {"trust_anchors": anchors}
    return config


def _trust_anchors() -> str | None:
    """The PEM text of ``C2PA_TRUST_ANCHORS``; unreadable = no anchors (nothing becomes trusted)."""
    anchors_path = settings.CONFIG.c2pa_trust_anchors
    if not anchors_path:
        return None
    try:
        text = Path(anchors_path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        log.error("C2PA_TRUST_ANCHORS=%r cannot be read; validating without trust anchors", anchors_path)
        return None
    return text if "-----BEGIN CERTIFICATE-----" in text else None


def _has_manifest_store(path: str) -> bool:
    """Whether the file contains a C2PA manifest-store box: one pass in bounded chunks."""
    overlap = len(MANIFEST_STORE_UUID) - 1
    tail = b""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(SCAN_CHUNK):
                window = tail + chunk
                if MANIFEST_STORE_UUID in window:
                    return True
                tail = window[-overlap:]
    except OSError:
        return False
    return False
