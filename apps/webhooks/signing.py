"""Request signatures and trace headers of a delivery (05-webhooks.md "Request").

Two schemes are sent on every request so any receiver can verify: the
project's ``X-GR-Signature`` (HMAC-SHA256 over the body, hex) and Standard
Webhooks (HMAC-SHA256 over ``id.timestamp.body``, base64). The Standard
Webhooks key is the secret's UTF-8 bytes, which a standard library reads from
``base64(secret)``. During rotation both secrets sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def gr_signature(secret: str, body: bytes) -> str:
    """``sha256=<lowercase hex HMAC-SHA256(secret, body)>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def verify_gr_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of an ``X-GR-Signature`` header (the dev receiver uses it)."""
    return bool(header) and hmac.compare_digest(gr_signature(secret, body), header.strip())


def signature_headers(*, current: str, previous: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both signature schemes; with a previous secret, dual signatures during rotation."""
    headers = {
        "X-GR-Signature": gr_signature(current, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(current, event_id, timestamp, body),
    }
    if previous:
        headers["X-GR-Signature-Previous"] = gr_signature(previous, body)
        headers["webhook-signature"] += " " + standard_signature(previous, event_id, timestamp, body)
    return headers


def is_traceparent(value: str | None) -> bool:
    return bool(value) and _TRACEPARENT.match(value) is not None


def traceparent_for(stored: str | None) -> str:
    """The row's trace context when valid (continue the request's trace), else a fresh sampled one."""
    if stored and is_traceparent(stored):
        return stored
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
