"""Template helpers of the admin site."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def ms(value: int | None) -> str:
    """Epoch milliseconds → ``YYYY-MM-DD HH:MM:SS`` UTC (the API's *_ms fields, readable)."""
    if value in (None, ""):
        return "—"
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


@register.filter
def short(value: str | None, length: int = 12) -> str:
    return "—" if not value else (value if len(value) <= length else value[:length] + "…")
