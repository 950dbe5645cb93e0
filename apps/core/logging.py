"""Log formatting: JSON lines in production, text in development.

Every record gets ``correlation_id``, ``request_id`` and ``user_id`` from the
request context, and secrets are scrubbed from messages and extra fields before
they are written: tokens, passwords and Authorization headers never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from apps.core import context

_SECRET_WORDS = (
    r"passw(?:or)?d|passphrase|(?<![a-z])pass(?![a-z])|secret|token|authorization|cookie|refresh"
    r"|access[_-]?key|api[_-]?key|credential|session"
)
_SECRET_KEYS = re.compile(_SECRET_WORDS, re.I)
_SECRET_PATTERNS = [
    # JWTs: three base64url segments, the first starting with {"  (eyJ)
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # Authorization schemes anywhere: "Bearer xyz", "Basic dXNlcjpwYXNz"
    (re.compile(r"(?i)\b((?:bearer|basic)\s+)[^\s,;\"'}\]]+"), r"\1[redacted]"),
    # An Authorization header value, whatever its scheme ("Authorization: Token abc")
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!\[redacted)[^,;\"'}\r\n]+"), r"\1[redacted]"),
    # key=value / key: value / "key": "value" / 'key': 'value' for secret-looking keys (new_password, refresh_token…)
    (
        re.compile(rf"(?i)(\w*(?:{_SECRET_WORDS})\w*[\"']?\s*[:=]\s*[\"']?)(?!\[redacted)[^\s,;\"'}}\]]+"),
        r"\1[redacted]",
    ),
    # password hashes: "$argon2id$…", "$argon2i$…", "$argon2d$…" (also inside Django's "argon2$argon2id$…")
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s\"']+"), "[redacted-hash]"),
]
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT_FIELDS = ("correlation_id", "request_id", "user_id")


def scrub(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub_value(key: str, value: object, depth: int = 0) -> object:
    """A JSON-ready copy of ``value`` with secret keys redacted and secret-looking text scrubbed."""
    if _SECRET_KEYS.search(key):
        return "[redacted]"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub(value)
    if depth < 8:
        if isinstance(value, dict):
            return {str(k): _scrub_value(str(k), v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [_scrub_value("", v, depth + 1) for v in value]
    # Anything else is logged by its text, scrubbed like a message.
    return scrub(str(value))


class ContextFilter(logging.Filter):
    """Adds the request context to every record (empty strings outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = context.current()
        for name in _CONTEXT_FIELDS:
            if not getattr(record, name, None):
                setattr(record, name, getattr(ctx, name))
        if not getattr(record, "route", None) and ctx.route:
            record.route = ctx.route
        return True


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: _scrub_value(key, value)
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRS and key not in _CONTEXT_FIELDS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for name in _CONTEXT_FIELDS:
            payload[name] = getattr(record, name, "") or None
        payload.update(_extras(record))
        if record.exc_info:
            payload["exception"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            payload["stack"] = scrub(self.formatStack(record.stack_info))
        # ensure_ascii keeps the line one line whatever the message holds; default=str never fails a log call
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        ids = f"cid={getattr(record, 'correlation_id', '') or '-'}"
        line = f"{ts} {record.levelname:<7} {record.name}: {scrub(record.getMessage())} [{ids}] {extras}".rstrip()
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line
