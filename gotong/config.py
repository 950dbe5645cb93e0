"""The one typed configuration of the process, read and validated at start-up.

Every environment variable of the product (see ``../shared/spec/00-product.md``)
is parsed here and nowhere else. A malformed value stops start-up with a
message naming the variable; ``settings.py`` turns this object into Django
settings. A ``.env`` file is read if present, but the real environment wins.
Parsing one value (integers, sizes, rates, ...) lives in ``gotong/env_reader.py``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gotong.env_reader import EnvReader, RateLimit, check_url  # RateLimit is imported from here too

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret-change-me-0123456789"
# Django's SECRET_KEY and the seed of the URL-signing keys (apps/core/keys.py); never the JWT key.
DEV_SECRET_KEY = "dev-only-django-secret-key-change-me-0123456789abcdef"

# Webhook retry defaults: a schedule close to Svix's (apps/webhooks/policy.py SVIX_SCHEDULE_MS). With these
# two values the policy uses that table; any other value selects the spec formula min(BASE·2^(n−1), MAX).
DEFAULT_WEBHOOK_MAX_ATTEMPTS = 9
DEFAULT_WEBHOOK_BACKOFF_BASE_MS = 5_000
DEFAULT_WEBHOOK_BACKOFF_MAX_MS = 36_000_000

ENVIRONMENTS = ("development", "test", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REALTIME_TRANSPORTS = ("local", "redis")
ASGI_SERVERS = ("daphne", "uvicorn")
EMBEDDED_SCHEMES = ("mem", "memory", "surrealkv", "file")
SERVER_SCHEMES = ("ws", "wss")


class ConfigError(ValueError):
    """A variable is missing, malformed or not allowed in this environment."""


@dataclass(frozen=True)
class AppConfig:
    app_env: str = "development"
    port: int = 8000
    # The ASGI server `manage.py serve` runs in-process (apps/core/servers/). uvicorn by measurement (issue 14
    # point 6, docs/benchmarks.md: 5,000 idle sockets + 50 msg/s delivery p95 50 vs 194 ms, fan-out +36 %);
    # daphne stays selectable.
    asgi_server: str = "uvicorn"
    surreal_endpoint: str = "mem://"
    surreal_ns: str = "gotong"
    surreal_db: str = "chat"
    surreal_user: str = "root"
    surreal_pass: str = "root"
    # mem:// group commit: at most this many queued write transactions per engine call (1 = one at a time).
    surreal_write_batch: int = 32
    # Memory bounds of the embedded file engine (surrealkv://), passed to it through its own variables.
    # Its defaults scale with the host (a 1 GiB write buffer and half the RAM as block cache on this 24 GiB
    # machine), so one app process would grow for hours; docs/data-layer.md "Engine memory".
    surrealkv_max_memtable_size: str = "64MiB"
    surrealkv_block_cache_capacity: str = "64MiB"
    redis_url: str = ""
    chat_realtime_transport: str = "local"
    chat_realtime_channel_prefix: str = "gotong:chat:realtime"
    s3_endpoint: str = ""
    s3_bucket: str = "gotong-royong-evidence"
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    jwt_secret: str = DEV_JWT_SECRET
    secret_key: str = DEV_SECRET_KEY
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_secret_previous: str = ""
    webhook_enabled: bool = True
    webhook_markov_url: str = "http://127.0.0.1:3000/api/v1/platforms/gotong_royong/webhook"
    webhook_max_attempts: int = DEFAULT_WEBHOOK_MAX_ATTEMPTS
    webhook_backoff_base_ms: int = DEFAULT_WEBHOOK_BACKOFF_BASE_MS
    webhook_backoff_max_ms: int = DEFAULT_WEBHOOK_BACKOFF_MAX_MS
    webhook_timeout_ms: int = 10000
    webhook_source_platform_id: str = "gotong_royong"
    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str = ""
    allowed_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]", "testserver")
    csrf_trusted_origins: tuple[str, ...] = ("http://localhost:8000", "http://127.0.0.1:8000")
    trusted_proxy_count: int = 0
    metrics_allowed_cidrs: tuple[str, ...] = ()
    media_root: str = "media"
    max_body_bytes: int = 1_048_576
    # How long a process may answer a request from the sign-in state it read for an earlier one
    # (apps/accounts/auth_cache.py); at most 900 so a revocation elsewhere still lands within the spec's second.
    auth_state_cache_ms: int = 500
    worker_metrics_port: int = 9101
    worker_poll_interval_ms: int = 500
    # Evidence GPS outside this box gets a warning: (lat_min, lat_max, lon_min, lon_max); default Indonesia.
    evidence_service_area: tuple[float, float, float, float] = (-11.0, 6.0, 95.0, 141.0)
    moderation_report_threshold: int = 3
    rate_limit_default: RateLimit = field(default_factory=lambda: RateLimit(100, 1, 200))
    rate_limit_auth: RateLimit = field(default_factory=lambda: RateLimit(10, 60, 10))
    rate_limit_chat_send: RateLimit = field(default_factory=lambda: RateLimit(10, 1, 30))
    rate_limit_evidence_upload: RateLimit = field(default_factory=lambda: RateLimit(60, 3600, 60))
    rate_limit_transparency: RateLimit = field(default_factory=lambda: RateLimit(20, 1, 60))
    # The transparency log (docs/transparency.md): a C2SP signed-note Ed25519 key in the Go note format
    # "PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || 32-byte seed)>". Empty: development generates one and keeps
    # it with the data; production refuses to start without one.
    transparency_signing_key: str = ""
    # The checkpoint origin line (a schema-less URL, no spaces or "+"); also the default key name.
    transparency_origin: str = "localhost/gotong-royong"
    # PEM file of trusted C2PA signing roots; empty: no anchors (valid signatures show as valid, never trusted).
    c2pa_trust_anchors: str = ""
    # The server's garbage collector (apps/core/gc_tuning.py, issue 14): freeze the start-up heap, and
    # CPython's three thresholds (young allocations, then counts of younger collections); chosen by bench/gc_pauses.py.
    gc_freeze: bool = True
    gc_thresholds: tuple[int, int, int] = (20_000, 10, 10)
    # A full collection that paused the server this long (ms) freezes what survived it, so later ones do not walk
    # the same sockets again; 0: never (apps/core/gc_tuning.py).
    gc_refreeze_after_ms: int = 50

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def surreal_scheme(self) -> str:
        return self.surreal_endpoint.split("://", 1)[0].lower()

    @property
    def surreal_is_embedded(self) -> bool:
        return self.surreal_scheme in EMBEDDED_SCHEMES

    @property
    def surreal_is_memory(self) -> bool:
        return self.surreal_scheme in ("mem", "memory")


def _environment(dotenv_path: Path | None) -> dict[str, str]:
    """``.env`` (if present) overlaid by ``os.environ``: the real environment wins."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ)
    return merged


def _database(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    endpoint = r.text("SURREAL_ENDPOINT", defaults.surreal_endpoint, allow_empty=False)
    scheme = endpoint.split("://", 1)[0].lower() if "://" in endpoint else ""
    if scheme not in EMBEDDED_SCHEMES + SERVER_SCHEMES:
        r.problems.append(
            f"SURREAL_ENDPOINT={endpoint!r} must start with mem://, surrealkv://, file://, ws:// or wss://"
        )
    return {
        "surreal_endpoint": endpoint,
        "surreal_ns": r.text("SURREAL_NS", defaults.surreal_ns, allow_empty=False),
        "surreal_db": r.text("SURREAL_DB", defaults.surreal_db, allow_empty=False),
        "surreal_user": r.text("SURREAL_USER", defaults.surreal_user),
        "surreal_pass": r.text("SURREAL_PASS", defaults.surreal_pass),
        "surreal_write_batch": r.integer("SURREAL_WRITE_BATCH", defaults.surreal_write_batch, minimum=1, maximum=256),
        "surrealkv_max_memtable_size": r.byte_size(
            "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE", defaults.surrealkv_max_memtable_size
        ),
        "surrealkv_block_cache_capacity": r.byte_size(
            "SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY", defaults.surrealkv_block_cache_capacity
        ),
    }


def _realtime(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    redis_url = r.text("REDIS_URL", "")
    check_url(r, "REDIS_URL", redis_url, ("redis", "rediss", "unix"))
    return {
        "redis_url": redis_url,
        "chat_realtime_transport": r.choice("CHAT_REALTIME_TRANSPORT", "local", REALTIME_TRANSPORTS),
        "chat_realtime_channel_prefix": r.text(
            "CHAT_REALTIME_CHANNEL_PREFIX", defaults.chat_realtime_channel_prefix, allow_empty=False
        ),
    }


def _storage(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    s3_endpoint = r.text("S3_ENDPOINT", "")
    check_url(r, "S3_ENDPOINT", s3_endpoint, ("http", "https"))
    return {
        "s3_endpoint": s3_endpoint,
        "s3_bucket": r.text("S3_BUCKET", defaults.s3_bucket, allow_empty=False),
        "s3_region": r.text("S3_REGION", defaults.s3_region, allow_empty=False),
        "s3_access_key": r.text("S3_ACCESS_KEY", ""),
        "s3_secret_key": r.text("S3_SECRET_KEY", ""),
        "media_root": r.text("MEDIA_ROOT", defaults.media_root, allow_empty=False),
    }


def _webhooks(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    webhook_secret = r.text("GOTONG_ROYONG_WEBHOOK_SECRET", "") or r.text("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    markov_url = r.text("WEBHOOK_MARKOV_URL", defaults.webhook_markov_url, allow_empty=False)
    check_url(r, "WEBHOOK_MARKOV_URL", markov_url, ("http", "https"))
    return {
        "webhook_secret": webhook_secret,
        "webhook_secret_previous": r.text("GOTONG_ROYONG_WEBHOOK_SECRET_PREVIOUS", ""),
        "webhook_enabled": r.boolean("WEBHOOK_ENABLED", True),
        "webhook_markov_url": markov_url,
        "webhook_max_attempts": r.integer(
            "WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts, minimum=1, maximum=100
        ),
        "webhook_backoff_base_ms": r.integer(
            "WEBHOOK_BACKOFF_BASE_MS", defaults.webhook_backoff_base_ms, minimum=1, maximum=3_600_000
        ),
        "webhook_backoff_max_ms": r.integer(
            "WEBHOOK_BACKOFF_MAX_MS", defaults.webhook_backoff_max_ms, minimum=1, maximum=86_400_000
        ),
        "webhook_timeout_ms": r.integer("WEBHOOK_TIMEOUT_MS", 10000, minimum=100, maximum=600_000),
        "webhook_source_platform_id": r.text("WEBHOOK_SOURCE_PLATFORM_ID", "gotong_royong", allow_empty=False),
    }


def _http(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    """The web process: port, hosts, proxies, body size and the keys it signs with."""
    return {
        "port": r.integer("PORT", defaults.port, minimum=1, maximum=65535),
        "asgi_server": r.choice("ASGI_SERVER", defaults.asgi_server, ASGI_SERVERS),
        "jwt_secret": r.text("JWT_SECRET", DEV_JWT_SECRET, allow_empty=False),
        "secret_key": r.text("SECRET_KEY", DEV_SECRET_KEY, allow_empty=False),
        "allowed_hosts": r.csv("ALLOWED_HOSTS", defaults.allowed_hosts),
        "csrf_trusted_origins": r.csv("CSRF_TRUSTED_ORIGINS", defaults.csrf_trusted_origins),
        "trusted_proxy_count": r.integer("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10),
        "max_body_bytes": r.integer("MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1024, maximum=1 << 30),
        "auth_state_cache_ms": r.integer("AUTH_STATE_CACHE_MS", defaults.auth_state_cache_ms, minimum=0, maximum=900),
    }


def _operations(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    """Logs, traces, metrics and the worker loop."""
    otlp = r.text("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    check_url(r, "OTEL_EXPORTER_OTLP_ENDPOINT", otlp, ("http", "https", "grpc"))
    cidrs = r.csv("METRICS_ALLOWED_CIDRS", ())
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            r.problems.append(f"METRICS_ALLOWED_CIDRS has an invalid network {cidr!r}")
    return {
        "log_level": r.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        "otel_exporter_otlp_endpoint": otlp,
        "metrics_allowed_cidrs": cidrs,
        "worker_metrics_port": r.integer("WORKER_METRICS_PORT", defaults.worker_metrics_port, minimum=0, maximum=65535),
        "worker_poll_interval_ms": r.integer(
            "WORKER_POLL_INTERVAL_MS", defaults.worker_poll_interval_ms, minimum=10, maximum=60_000
        ),
    }


def _domain(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    """Evidence, moderation and the transparency log."""
    return {
        "evidence_service_area": r.area("EVIDENCE_SERVICE_AREA", defaults.evidence_service_area),
        "moderation_report_threshold": r.integer(
            "MODERATION_REPORT_THRESHOLD", defaults.moderation_report_threshold, minimum=1, maximum=1000
        ),
        "transparency_signing_key": r.text("TRANSPARENCY_SIGNING_KEY", ""),
        "transparency_origin": r.text("TRANSPARENCY_ORIGIN", defaults.transparency_origin, allow_empty=False),
        "c2pa_trust_anchors": r.text("C2PA_TRUST_ANCHORS", ""),
    }


def _gc(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    """``GC_FREEZE``, ``GC_THRESHOLDS`` (``GEN0,GEN1,GEN2``; 0 would turn automatic collection off: refused) and
    ``GC_REFREEZE_AFTER_MS``."""
    value = r.text("GC_THRESHOLDS", ",".join(map(str, defaults.gc_thresholds)), allow_empty=False)
    try:
        thresholds = tuple(int(part) for part in value.split(","))
    except ValueError:
        thresholds = ()
    if len(thresholds) != 3 or not (1 <= thresholds[0] <= 10_000_000 and all(1 <= t <= 10_000 for t in thresholds[1:])):
        r.problems.append(f"GC_THRESHOLDS={value!r} must be GEN0,GEN1,GEN2: 1..10000000, then 1..10000 twice")
        thresholds = defaults.gc_thresholds
    return {
        "gc_freeze": r.boolean("GC_FREEZE", defaults.gc_freeze),
        "gc_thresholds": thresholds,
        "gc_refreeze_after_ms": r.integer(
            "GC_REFREEZE_AFTER_MS", defaults.gc_refreeze_after_ms, minimum=0, maximum=60_000
        ),
    }


def _rate_limits(r: EnvReader, defaults: AppConfig) -> dict[str, Any]:
    return {
        "rate_limit_default": r.rate("RATE_LIMIT_DEFAULT", defaults.rate_limit_default),
        "rate_limit_auth": r.rate("RATE_LIMIT_AUTH", defaults.rate_limit_auth),
        "rate_limit_chat_send": r.rate("RATE_LIMIT_CHAT_SEND", defaults.rate_limit_chat_send),
        "rate_limit_evidence_upload": r.rate("RATE_LIMIT_EVIDENCE_UPLOAD", defaults.rate_limit_evidence_upload),
        "rate_limit_transparency": r.rate("RATE_LIMIT_TRANSPARENCY", defaults.rate_limit_transparency),
    }


def load_config(env: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None) -> AppConfig:
    """Build the configuration from ``env`` (default: ``.env`` overlaid by ``os.environ``).

    Each area's reader records its problems in ``r`` instead of raising, so one ``ConfigError`` lists them all.
    """
    if env is None:
        env = _environment(dotenv_path)
    r = EnvReader(env)
    defaults = AppConfig()
    config = AppConfig(
        app_env=r.choice("APP_ENV", defaults.app_env, ENVIRONMENTS),
        **_database(r, defaults),
        **_realtime(r, defaults),
        **_storage(r, defaults),
        **_webhooks(r, defaults),
        **_http(r, defaults),
        **_operations(r, defaults),
        **_domain(r, defaults),
        **_rate_limits(r, defaults),
        **_gc(r, defaults),
    )
    _check_transparency(r, config)
    if config.chat_realtime_transport == "redis" and not config.redis_url:
        r.problems.append("CHAT_REALTIME_TRANSPORT=redis needs REDIS_URL")
    if config.webhook_backoff_max_ms < config.webhook_backoff_base_ms:
        r.problems.append("WEBHOOK_BACKOFF_MAX_MS must be >= WEBHOOK_BACKOFF_BASE_MS")
    if config.is_production:
        _check_production(r, env, config)
    if r.problems:
        raise ConfigError("invalid configuration: " + "; ".join(r.problems))
    return config


PLACEHOLDER_MARKER = "change-me"
_ORIGIN_RE = re.compile(r"^[!-*,-~]+$")  # visible ASCII without "+" (C2SP tlog-checkpoint origin / note key name)
_NOTE_PRIVATE_KEY_RE = re.compile(r"^PRIVATE\+KEY\+([!-*,-~]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]{44})$")


def _check_transparency(r: EnvReader, config: AppConfig) -> None:
    """The log's origin and key are checked for shape here; the key's hash is checked by the signer at start-up."""
    if not _ORIGIN_RE.match(config.transparency_origin):
        r.problems.append("TRANSPARENCY_ORIGIN must be visible ASCII without spaces or '+' (e.g. example.org/log)")
    key = config.transparency_signing_key
    if key and not _NOTE_PRIVATE_KEY_RE.match(key):
        r.problems.append(
            "TRANSPARENCY_SIGNING_KEY must be a note signing key: PRIVATE+KEY+<name>+<8 hex>+<base64 of 33 bytes>"
        )
    if config.c2pa_trust_anchors and not Path(config.c2pa_trust_anchors).is_file():
        r.problems.append(f"C2PA_TRUST_ANCHORS={config.c2pa_trust_anchors!r} must name a readable PEM file")


def _weak_secret(secret: str) -> bool:
    """A development default, a placeholder from .env.example, or too short to resist guessing."""
    return (
        secret in (DEV_JWT_SECRET, DEV_WEBHOOK_SECRET, DEV_SECRET_KEY)
        or PLACEHOLDER_MARKER in secret.lower()
        or len(secret) < 32
    )


def _check_production(r: EnvReader, env: Mapping[str, str], config: AppConfig) -> None:
    """Production refuses development conveniences (seed-infrastructure security baseline)."""
    if _weak_secret(config.jwt_secret):
        r.problems.append("JWT_SECRET must be set to a real secret of at least 32 characters in production")
    if _weak_secret(config.secret_key):
        r.problems.append("SECRET_KEY must be set to a real secret of at least 32 characters in production")
    elif config.secret_key == config.jwt_secret:
        # One key per purpose: whoever holds the JWT key must not be able to derive the URL-signing keys.
        r.problems.append("SECRET_KEY must differ from JWT_SECRET in production")
    if _weak_secret(config.webhook_secret):
        r.problems.append(
            "GOTONG_ROYONG_WEBHOOK_SECRET must be set to a real secret of at least 32 characters in production"
        )
    if config.surreal_is_embedded:
        r.problems.append("SURREAL_ENDPOINT must be a ws:// or wss:// server in production (no mem:// or file engines)")
    if not config.redis_url:
        r.problems.append("REDIS_URL is required in production (no in-process stores)")
    if not config.s3_endpoint:
        r.problems.append("S3_ENDPOINT is required in production")
    if config.surreal_pass == "root" or PLACEHOLDER_MARKER in config.surreal_pass.lower():
        r.problems.append("SURREAL_PASS must not be the default or a placeholder in production")
    if not config.transparency_signing_key:
        r.problems.append(
            "TRANSPARENCY_SIGNING_KEY is required in production (the transparency log's checkpoint signing key)"
        )
    if env.get("DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        r.problems.append("DEBUG must be off in production")
