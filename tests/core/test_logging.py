"""Log lines: JSON in production, request context on every line, no secrets."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from apps.core import context
from apps.core.logging import ContextFilter, JsonFormatter, ScrubSecretsFilter, TextFormatter

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTIzNDU2Nzg5YWJjZGVmIiwiZXhwIjoxNzAwMDAwMDAwfQ"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
DJANGO_ARGON2 = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$Zm9vYmFyYmF6cXV4"


class Capture:
    """A handler with the project's filters (context, then scrubbing) and a formatter, as settings.LOGGING has."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(ContextFilter())
        self.handler.addFilter(ScrubSecretsFilter())
        self.handler.setFormatter(formatter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def capture_json() -> Iterator[tuple[logging.Logger, Capture]]:
    logger = logging.getLogger("gotong.test")
    cap = Capture(JsonFormatter())
    logger.addHandler(cap.handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield logger, cap
    logger.removeHandler(cap.handler)
    logger.setLevel(old)


@pytest.fixture
def restore_context() -> Iterator[None]:
    saved = context.current()
    yield
    context.set_context(saved)


def test_json_one_object_per_line_with_fields(capture_json, restore_context):
    logger, cap = capture_json
    context.set_context(context.RequestContext(request_id="req-1", correlation_id="cor-1", user_id="u" * 32))
    logger.info("first %s", "line\nwith newline", extra={"route": "/v1/x", "status": 201, "duration_ms": 1.5})
    logger.warning("second")
    raw_lines = cap.text.splitlines()
    assert len(raw_lines) == 2
    first, second = cap.lines()
    assert first["message"] == "first line\nwith newline"
    assert first["level"] == "INFO"
    assert first["logger"] == "gotong.test"
    assert first["timestamp"].endswith("+00:00")
    assert (first["correlation_id"], first["request_id"], first["user_id"]) == ("cor-1", "req-1", "u" * 32)
    assert (first["route"], first["status"], first["duration_ms"]) == ("/v1/x", 201, 1.5)
    assert second["level"] == "WARNING"


def test_json_outside_a_request_has_null_ids(capture_json, restore_context):
    logger, cap = capture_json
    context.set_context(context.RequestContext())
    logger.info("background")
    (line,) = cap.lines()
    assert line["correlation_id"] is None
    assert line["request_id"] is None
    assert line["user_id"] is None


def test_json_exception_is_one_line(capture_json):
    logger, cap = capture_json
    try:
        raise ValueError(f"bad token={JWT}")
    except ValueError:
        logger.exception("failed")
    (line,) = cap.lines()
    assert "ValueError" in line["exception"]
    assert JWT not in cap.text


def test_access_log_carries_correlation_id(api):
    logger = logging.getLogger("gotong.access")
    cap = Capture(JsonFormatter())
    logger.addHandler(cap.handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = api.get("/v1/no-such-route", HTTP_X_CORRELATION_ID="abc-123", HTTP_X_REQUEST_ID="req-77")
    finally:
        logger.removeHandler(cap.handler)
        logger.setLevel(old)
    assert response.status_code == 404
    lines = [line for line in cap.lines() if line["logger"] == "gotong.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["correlation_id"] == "abc-123"
    assert line["request_id"] == "req-77"
    assert line["status"] == 404
    assert line["route"] == "unmatched"
    assert isinstance(line["duration_ms"], float | int)
    assert "GET /v1/no-such-route 404" in line["message"]


def test_access_log_through_caplog(api, caplog):
    caplog.set_level(logging.INFO, logger="gotong.access")
    api.get("/v1/no-such-route", HTTP_X_CORRELATION_ID="abc-123")
    records = [r for r in caplog.records if r.name == "gotong.access"]
    assert records
    ContextFilter().filter(records[-1])
    assert records[-1].correlation_id == "abc-123"


SECRET_MESSAGES = [
    (f"issued token {JWT}", [JWT, JWT.split(".")[2]]),
    ("header Authorization: Bearer xyz-secret-token", ["xyz-secret-token"]),
    ("auth=bearer abc.def.ghi", ["abc.def.ghi"]),
    ("sign-in password=hunter22 for user", ["hunter22"]),
    ('payload {"password": "hunter22", "email": "a@b.c"}', ["hunter22"]),
    ("payload {'new_password': 'hunter22'}", ["hunter22"]),
    ("dict {'authorization': 'Basic dXNlcjpwYXNz'}", ["dXNlcjpwYXNz"]),
    ("Authorization: Basic dXNlcjpwYXNz", ["dXNlcjpwYXNz"]),
    ("refresh_token=rt-0123456789abcdef", ["rt-0123456789abcdef"]),
    ("Authorization: Token tok-abc-999", ["tok-abc-999"]),
    ("{'Authorization': 'Bearer hdr-xyz-1'}", ["hdr-xyz-1"]),
    ("SURREAL_PASS=rootpw-secret1", ["rootpw-secret1"]),
    ("cookie gr_session=sess-value-42; csrftoken=csrf-77", ["sess-value-42", "csrf-77"]),
    ("api_key: sk_live_abcdef123", ["sk_live_abcdef123"]),
    (f"stored hash {ARGON2}", [ARGON2, "c29tZXNhbHRzb21lc2FsdA"]),
    (f"django hash {DJANGO_ARGON2}", ["Zm9vYmFyYmF6cXV4"]),
    ("hash $argon2d$v=19$m=16,t=2,p=1$c2FsdA$aGFzaA", ["aGFzaA"]),
    ("hash $argon2i$v=19$m=16,t=2,p=1$c2FsdA$aGFzaA", ["aGFzaA"]),
]


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
@pytest.mark.parametrize(("message", "secrets"), SECRET_MESSAGES)
def test_secrets_scrubbed_from_messages(formatter, message, secrets):
    logger = logging.getLogger("gotong.test.secrets")
    cap = Capture(formatter)
    logger.addHandler(cap.handler)
    try:
        logger.warning(message)  # in the message itself
        logger.warning("value: %s", message)  # through %-args
        logger.warning("extra", extra={"detail": message, "items": [message], "pair": ("x", message)})
    finally:
        logger.removeHandler(cap.handler)
    for secret in secrets:
        assert secret not in cap.text, cap.text
    assert "redacted" in cap.text


def test_ordinary_text_is_not_redacted():
    from apps.core.logging import scrub

    for text in ["invalid token for user", "tests passed: 3", "bypass=1", "session expired", "GET /v1/x 200"]:
        assert scrub(text) == text
    assert scrub("Authorization: Bearer abc") == "Authorization: [redacted]"


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
def test_secret_keys_redacted_in_extras(formatter):
    logger = logging.getLogger("gotong.test.secrets")
    cap = Capture(formatter)
    logger.addHandler(cap.handler)

    class Opaque:
        def __str__(self) -> str:
            return f"Opaque(token={JWT})"

    try:
        logger.warning(
            "request",
            extra={
                "password": "pw-plain-1",
                "token": "tok-plain-2",
                "authorization": "Bearer hdr-plain-3",
                "headers": {"Authorization": "hdr-plain-4", "X-Request-ID": "visible-rid"},
                "body": {"user": {"password": "pw-nested-5", "email": "e@x.y"}, "list": [{"token": "tok-list-6"}]},
                "args_list": [{"access_token": "tok-7"}],
                "obj": Opaque(),
                "email": "person@example.org",
            },
        )
        logger.warning("request %s", {"password": "pw-arg-8", "refresh": "rf-9"})
    finally:
        logger.removeHandler(cap.handler)
    for secret in [
        "pw-plain-1",
        "tok-plain-2",
        "hdr-plain-3",
        "hdr-plain-4",
        "pw-nested-5",
        "tok-list-6",
        "tok-7",
        JWT,
        "pw-arg-8",
        "rf-9",
    ]:
        assert secret not in cap.text, cap.text
    # Non-secret data stays readable.
    assert "visible-rid" in cap.text
    assert "person@example.org" in cap.text


def test_configured_console_handler_has_context_filter_and_formatter():
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["context", "scrub"]
    assert settings.LOGGING["filters"]["scrub"]["()"] == "apps.core.logging.ScrubSecretsFilter"
    assert console["formatter"] == ("json" if settings.CONFIG.is_production else "text")
    assert settings.LOGGING["formatters"]["json"]["()"] == "apps.core.logging.JsonFormatter"


def test_production_settings_choose_json():
    import subprocess
    import sys

    code = (
        "import os, django; from django.conf import settings; django.setup(); "
        "print(settings.LOGGING['handlers']['console']['formatter'])"
    )
    env = {
        "APP_ENV": "production",
        "JWT_SECRET": "x" * 40,
        "SECRET_KEY": "z" * 40,
        "GOTONG_ROYONG_WEBHOOK_SECRET": "y" * 40,
        "SURREAL_ENDPOINT": "ws://127.0.0.1:1/rpc",
        "SURREAL_PASS": "not-root",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "S3_ENDPOINT": "http://127.0.0.1:1",
        "TRANSPARENCY_SIGNING_KEY": "PRIVATE+KEY+example.org/log+46eebe2b+ATKQRAak+Logal2fu5SXnmDPWthrdSIzOF8f2ZrGqH1y",
        "DJANGO_SETTINGS_MODULE": "gotong.settings",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "json"


def test_json_lines_come_from_python_json_logger():
    from pythonjsonlogger.json import JsonFormatter as LibraryFormatter

    assert isinstance(JsonFormatter(), LibraryFormatter)


def test_the_filter_scrubs_for_any_formatter_and_leaves_the_callers_data_alone():
    """Scrubbing lives in the filter: a plain ``logging.Formatter`` behind it writes no secret either."""
    logger = logging.getLogger("gotong.test.secrets")
    cap = Capture(logging.Formatter("%(message)s %(detail)s"))
    detail = {"password": "pw-caller-1", "note": f"token={JWT}"}
    logger.addHandler(cap.handler)
    try:
        try:
            raise RuntimeError(f"Authorization: Bearer exc-secret-2 {ARGON2}")
        except RuntimeError:
            logger.error("failed with %s", "password=arg-secret-3", extra={"detail": detail}, stack_info=True)
            logger.exception("again", extra={"detail": detail})
    finally:
        logger.removeHandler(cap.handler)
    for secret in ["pw-caller-1", JWT, "exc-secret-2", ARGON2, "arg-secret-3"]:
        assert secret not in cap.text, cap.text
    assert "RuntimeError" in cap.text  # the exception is still logged, only scrubbed
    assert "Stack (most recent call last)" in cap.text
    assert detail == {"password": "pw-caller-1", "note": f"token={JWT}"}  # the caller's object is not rewritten


def test_unscrubbed_records_reach_no_handler_after_the_filter():
    """The record is rewritten in place: a second handler (pytest's capture, say) sees scrubbed values only."""
    record = logging.LogRecord("gotong.test", logging.ERROR, __file__, 1, "token=%s", ("tok-rec-1",), None)
    record.headers = {"Authorization": "Bearer hdr-rec-2"}
    try:
        raise ValueError(f"refresh_token=rt-rec-3 {JWT}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert ScrubSecretsFilter().filter(record) is True
    assert ScrubSecretsFilter().filter(record) is True  # a second filter is a no-op
    rendered = logging.Formatter().format(record) + JsonFormatter().format(record)
    for secret in ["tok-rec-1", "hdr-rec-2", "rt-rec-3", JWT]:
        assert secret not in rendered, rendered
    assert record.exc_info is None
    assert "ValueError" in record.exc_text
    assert json.loads(JsonFormatter().format(record))["exception"] == record.exc_text
