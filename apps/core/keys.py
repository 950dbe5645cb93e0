"""One key per purpose (issue 12 point 4): every signer gets its own key, derived with a purpose label.

``JWT_SECRET`` signs access and refresh tokens only (``SIMPLE_JWT``). The signed URLs
of local storage and of chat attachments use keys derived from ``SECRET_KEY``:
``HMAC-SHA256(SECRET_KEY, label)``. Why: with one shared secret, a signature made
for one purpose was valid for another whenever the signed bytes could be made to
coincide, and leaking one key (e.g. a JWT key handed to another service to verify
tokens) exposed every URL signer. With derived keys, a URL key reveals neither
``SECRET_KEY`` nor the other URL key, and none of them verifies a JWT.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

LOCAL_UPLOAD_URL = "gotong:local-upload-url"  # apps/core/storage/local.py sign_local (local PUT and GET URLs)
ATTACHMENT_URL = "gotong:attachment-url"  # apps/chat/attachments.py signature (attachment downloads)
PURPOSES = (LOCAL_UPLOAD_URL, ATTACHMENT_URL)


def purpose_key(label: str) -> bytes:
    """The 32-byte key of one purpose: ``HMAC-SHA256(SECRET_KEY, label)``.

    Only the labels in ``PURPOSES`` are accepted, so a typo cannot silently make a
    new key (URLs signed with it would be refused everywhere else). Derived on each
    call (one HMAC, microseconds) so a changed ``settings.CONFIG`` takes effect at once.
    """
    if label not in PURPOSES:
        raise ValueError(f"unknown key purpose {label!r}")
    return hmac.new(settings.CONFIG.secret_key.encode(), label.encode(), hashlib.sha256).digest()
