"""The content-credentials badge: one wording for the contribution page and the admin review pages.

Both pages load this library (``{% load content_credentials %}``) and render
``{% credentials_badge media.content_credentials %}``, so a member and a moderator read the
same words for the same summary (see ``apps.evidence.credentials``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# C2PA failure codes a person can read; any other code is shown as the code itself.
CODE_WORDS = {
    "assertion.dataHash.mismatch": "file changed after signing",
    "assertion.bmffHash.mismatch": "file changed after signing",
    "assertion.boxesHash.mismatch": "file changed after signing",
    "assertion.hashedURI.mismatch": "manifest altered after signing",
    "claimSignature.mismatch": "signature does not match",
    "claimSignature.missing": "signature missing",
    "claimSignature.outsideValidity": "signed outside the certificate's validity",
    "signingCredential.invalid": "signing certificate not acceptable",
    "signingCredential.revoked": "signing certificate revoked",
    "signingCredential.expired": "signing certificate expired",
    "signingCredential.untrusted": "signer not trusted",
    "general.error": "manifest unreadable",
}


def badge_text(credentials: dict[str, Any] | None) -> str:
    """The badge wording; ``""`` when content credentials do not apply (``None``: not an image or video)."""
    if not isinstance(credentials, dict):
        return ""
    state = credentials.get("validation_state")
    if not credentials.get("present") or state is None:
        return "Content credentials: none"
    if state in ("valid", "trusted"):
        return f"Content credentials: {state}"
    codes = credentials.get("codes") or []
    if not codes:
        return "Content credentials: invalid"
    code = str(codes[0])
    words = CODE_WORDS.get(code)
    return f"Content credentials: invalid — {words} ({code})" if words else f"Content credentials: invalid — {code}"


def badge_state(credentials: dict[str, Any] | None) -> str:
    """CSS modifier: valid, trusted, invalid or none."""
    if not isinstance(credentials, dict) or not credentials.get("present"):
        return "none"
    state = credentials.get("validation_state")
    return state if state in ("valid", "trusted", "invalid") else "none"


def _tooltip(credentials: dict[str, Any]) -> str:
    parts = []
    if credentials.get("issuer"):
        parts.append(f"signed by {credentials['issuer']}")
    if credentials.get("claim_generator"):
        parts.append(f"with {credentials['claim_generator']}")
    if credentials.get("signed_at"):
        parts.append(f"at {credentials['signed_at']}")
    if credentials.get("codes"):
        parts.append("codes: " + ", ".join(str(c) for c in credentials["codes"]))
    return "; ".join(parts)


@register.simple_tag
def credentials_badge(credentials: dict[str, Any] | None) -> SafeString | str:
    """``<span class="cc-badge cc-<state>">…</span>``, or nothing when not applicable; everything escaped."""
    text = badge_text(credentials)
    if not text:
        return ""
    assert isinstance(credentials, dict)
    return format_html(
        '<span class="cc-badge cc-{}" title="{}">{}</span>', badge_state(credentials), _tooltip(credentials), text
    )
