"""Log formatting: JSON lines in production (python-json-logger), text in development.

Every record gets ``correlation_id``, ``request_id`` and ``user_id`` from the
request context (``ContextFilter``), and secrets are scrubbed from messages,
extra fields, exceptions and stacks before any formatter sees them
(``ScrubSecretsFilter``): tokens, passwords and Authorization headers never
reach a log.

Why the scrubbing is a filter and not part of a formatter: the JSON formatter is
python-json-logger's, unchanged but for field names; a filter on the handler
works with any formatter, and it rewrites the record once, so every handler
after it (the console, pytest's capture) sees only scrubbed values.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _LibJsonFormatter

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


def _extra_names(record: logging.LogRecord) -> list[str]:
    """The ``extra=`` fields of a record (and ``route``): not standard, not context, not private."""
    return [
        key
        for key in record.__dict__
        if key not in _STANDARD_ATTRS and key not in _CONTEXT_FIELDS and not key.startswith("_")
    ]


class ScrubSecretsFilter(logging.Filter):
    """Rewrites a record in place with secrets removed; never drops a record.

    The message is rendered (``msg % args``) and scrubbed; extra fields become
    scrubbed JSON-ready copies (the caller's objects are not touched); an
    exception is rendered once into ``exc_text``, scrubbed, and ``exc_info``
    cleared, so no formatter can render the raw traceback again (every
    ``logging.Formatter``, python-json-logger's included, prints ``exc_text``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_scrubbed", False):
            return True  # a second handler with this filter: already done
        self._scrub_message(record)
        for key in _extra_names(record):
            setattr(record, key, _scrub_value(key, getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = _RENDER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        record._scrubbed = True
        return True

    @staticmethod
    def _scrub_message(record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict) and not record.args:
            record.msg = _scrub_value("", record.msg)  # python-json-logger logs a dict message as fields
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad format call is the handler's to report (handleError)
            return
        record.msg, record.args = scrub(message), None


_RENDER = logging.Formatter()
# python-json-logger's names → ours (the shape tests/core/test_logging.py asserts and log queries rely on).
_RENAMED = {"levelname": "level", "name": "logger", "exc_info": "exception", "stack_info": "stack"}


class JsonFormatter(_LibJsonFormatter):
    """python-json-logger, one object per line: timestamp (UTC, ms), level, logger, message, the
    three context ids (``null`` outside a request), then the extra fields; ``exception``/``stack``
    when present. Scrubbing is ``ScrubSecretsFilter``'s job, on the handler."""

    def __init__(self, fmt: list[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", _RENAMED)
        kwargs.setdefault("reserved_attrs", sorted(_STANDARD_ATTRS))
        super().__init__(fmt or ["levelname", "name", "message", *_CONTEXT_FIELDS], **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        for name in _CONTEXT_FIELDS:
            log_data[name] = log_data.get(name) or None


class TextFormatter(logging.Formatter):
    """One readable line for development: time, level, logger, message, correlation id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={getattr(record, k)}" for k in _extra_names(record))
        ids = f"cid={getattr(record, 'correlation_id', '') or '-'}"
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()} [{ids}] {extras}".rstrip()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line
