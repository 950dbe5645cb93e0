"""Security baseline of 07-operations.md that only shows in a production process."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, server_env

PRODUCTION = {
    "APP_ENV": "production",
    "SURREAL_ENDPOINT": "ws://db.internal:8000",
    "SURREAL_PASS": "a-real-database-password",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "S3_ENDPOINT": "https://s3.internal",
    "JWT_SECRET": "j" * 48,
    "SECRET_KEY": "k" * 48,
    "GOTONG_ROYONG_WEBHOOK_SECRET": "w" * 48,
    "CHAT_REALTIME_TRANSPORT": "redis",
    "TRANSPARENCY_SIGNING_KEY": "PRIVATE+KEY+example.org/log+46eebe2b+ATKQRAak+Logal2fu5SXnmDPWthrdSIzOF8f2ZrGqH1y",
}

PROBE = """
import json, logging, django
django.setup()
from django.conf import settings
handler = logging.getLogger().handlers[0]
print(json.dumps({
    "hsts": settings.SECURE_HSTS_SECONDS,
    "debug": settings.DEBUG,
    "cookie_secure": settings.AUTH_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "formatter": type(handler.formatter).__name__,
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "prefix": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
}))
"""


def _probe(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=server_env(DJANGO_SETTINGS_MODULE="gotong.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_turns_on_hsts_secure_cookies_json_logs_and_the_shared_redis_layer():
    result = _probe(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hsts"] >= 31_536_000
    assert seen["debug"] is False
    assert seen["cookie_secure"] is True
    assert seen["csrf_secure"] is True
    assert seen["formatter"] == "JsonFormatter"
    assert seen["channel_layer"] == "channels_redis.core.RedisChannelLayer"
    assert seen["prefix"] == "gotong:chat:realtime"


def test_production_refuses_to_start_with_debug_or_an_embedded_engine():
    for change in ({"DEBUG": "true"}, {"SURREAL_ENDPOINT": "mem://"}, {"JWT_SECRET": "short"}):
        result = _probe(**{**PRODUCTION, **change})
        assert result.returncode != 0
        assert next(iter(change)) in result.stderr
