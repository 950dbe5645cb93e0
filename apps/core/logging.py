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

_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authorization|cookie|refresh|access_key|api_key", re.I)
_SECRET_PATTERNS = [
    # JWTs: three base64url segments, the first starting with {"  (eyJ)
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:password|pass|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s,;\"'}]+"), r"\1[redacted]"),
    (re.compile(r"\$argon2id?\$[^\s\"']+"), "[redacted-hash]"),
]
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_CONTEXT_FIELDS = ("correlation_id", "request_id", "user_id")


def scrub(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub_value(key: str, value: object) -> object:
    if _SECRET_KEYS.search(key):
        return "[redacted]"
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    return value


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
