"""Words for the contribution, evidence and profile pages: friendly labels and local times.

Pages never show a stored code (``community_service``) or an ISO timestamp: a code becomes the label a
person reads, and a time becomes ``<time datetime="…">`` with a readable UTC fallback that
``static/js/local-time.js`` rewrites into the reader's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Every code the evidence pages can show. Unknown codes fall back to "Words like this" (never the raw code).
LABELS: dict[str, str] = {
    # contribution types
    "task_completion": "Task completed",
    "code_review": "Code review",
    "documentation": "Documentation",
    "mentoring": "Mentoring",
    "event_organization": "Event organisation",
    "community_service": "Community service",
    "custom": "Other",
    # modes (Indonesian product names, kept as names)
    "komunitas": "Komunitas (community work)",
    "catatan_komunitas": "Catatan komunitas (community record)",
    "catatan_saksi": "Catatan saksi (witness record)",
    "siaga": "Siaga (emergency)",
    # evidence types
    "photo_with_timestamp": "Photo with timestamp",
    "gps_verification": "GPS location",
    "witness_attestation": "Witness statement",
    # witness relationships
    "supervisor": "Supervisor",
    "peer": "Peer",
    "beneficiary": "Someone who was helped",
    "other": "Other",
    # vouch weights
    "strong": "Strong",
    "moderate": "Moderate",
    "light": "Light",
    # evidence warnings
    "exif_time_mismatch": "The photo's own capture time is more than a day away from the time given",
    "outside_service_area": "The photo's location is outside the service area",
    # moderation states
    "under_review": "Hidden while a moderator reviews it",
    "rejected": "Removed by a moderator",
    # file types
    "image/jpeg": "JPEG photo",
    "image/png": "PNG image",
    "image/webp": "WebP image",
    "image/heic": "HEIC photo",
    "video/mp4": "MP4 video",
    "video/webm": "WebM video",
    "application/pdf": "PDF document",
    "application/geo+json": "GeoJSON file",
    "application/json": "JSON file",
    "text/plain": "Text file",
}

# The vouch form's choices: (value, label, what it means).
WEIGHT_CHOICES = (
    ("strong", "Strong", "I have seen their work often and rely on it"),
    ("moderate", "Moderate", "I have seen some of their work"),
    ("light", "Light", "I know them a little"),
)


@register.filter
def label(value: Any) -> str:
    """The friendly label of a stored code; unknown codes read as words ("new_kind" → "New kind")."""
    if value is None or value == "":
        return ""
    text = str(value)
    if text in LABELS:
        return LABELS[text]
    return text.replace("_", " ").replace(".", " ").strip().capitalize()


def _moment(value: Any) -> datetime | None:
    """Epoch milliseconds (int) or an RFC 3339 string → an aware datetime; ``None`` if unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000, UTC)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@register.simple_tag
def local_time(value: Any, style: str = "datetime") -> SafeString | str:
    """``<time datetime="2026-11-30T15:29:04Z" data-local-time="datetime">30 Nov 2026, 15:29 UTC</time>``.

    The text is a readable UTC fallback for readers without JavaScript; local-time.js replaces it with
    the reader's local time (``style`` ``date`` shows the day only).
    """
    moment = _moment(value)
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    fallback = f"{utc.day} {utc:%b %Y}" if style == "date" else f"{utc.day} {utc:%b %Y, %H:%M} UTC"
    return format_html('<time datetime="{}" data-local-time="{}">{}</time>', iso, style, fallback)


@register.filter
def witness_list(proof: Any) -> list[dict[str, str]]:
    """The witnesses of a witness statement's proof (name and relationship), ignoring malformed entries."""
    if not isinstance(proof, dict) or not isinstance(proof.get("witnesses"), list):
        return []
    return [
        {"name": str(w.get("witness_name") or ""), "relationship": str(w.get("relationship") or "")}
        for w in proof["witnesses"]
        if isinstance(w, dict)
    ]


@register.filter
def coordinates(value: Any) -> str:
    """``-7.7956, 110.3695`` from a location object ``{lat, lon}``; empty when it has none."""
    if not isinstance(value, dict):
        return ""
    lat, lon = value.get("lat"), value.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return ""
    return f"{lat:.5f}, {lon:.5f}"


@register.simple_tag(takes_context=True)
def nav_current(context: Any, prefix: str, suffix: Any = "") -> SafeString | str:
    """`` aria-current="page"`` on the header link of the section being shown (base.html)."""
    request = context.get("request")
    if request is None:
        return ""
    target = f"{prefix}{suffix}"
    path = request.path
    if path == target or (not suffix and path.startswith(target.rstrip("/") + "/")):
        return mark_safe(' aria-current="page"')  # a constant
    return ""
