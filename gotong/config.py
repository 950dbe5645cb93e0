"""The one typed configuration of the process, read and validated at start-up.

Every environment variable of the product (see ``../shared/spec/00-product.md``)
is parsed here and nowhere else. A malformed value stops start-up with a
message naming the variable; ``settings.py`` turns this object into Django
settings. A ``.env`` file is read if present, but the real environment wins.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

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
EMBEDDED_SCHEMES = ("mem", "memory", "surrealkv", "file")
BYTE_SIZE = re.compile(r"(\d{1,15})\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?", re.IGNORECASE)
SERVER_SCHEMES = ("ws", "wss")


class ConfigError(ValueError):
    """A variable is missing, malformed or not allowed in this environment."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` tokens per ``per_seconds``, holding at most ``burst``."""

    rate: float
    per_seconds: float
    burst: int

    @property
    def tokens_per_second(self) -> float:
        return self.rate / self.per_seconds


@dataclass(frozen=True)
class AppConfig:
    app_env: str = "development"
    port: int = 8000
    surreal_endpoint: str = "mem://"
    surreal_ns: str = "gotong"
    surreal_db: str = "chat"
    surreal_user: str = "root"
    surreal_pass: str = "root"
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


class _Reader:
    """Reads typed values from an environment mapping, collecting every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None else value.strip()

    def text(self, name: str, default: str, *, allow_empty: bool = True) -> str:
        value = self.raw(name, default)
        if not value and not allow_empty:
            self.problems.append(f"{name} must not be empty")
            return default
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.raw(name, default)
        value = value.upper() if upper else value.lower()
        if value not in choices:
            self.problems.append(f"{name}={value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def byte_size(self, name: str, default: str) -> str:
        """A size as SurrealDB reads it: digits and an optional unit (b, k/kb/kib, m/mb/mib, g/gb/gib), >= 1 MiB."""
        value = self.text(name, default, allow_empty=False).strip()
        found = BYTE_SIZE.fullmatch(value)
        units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
                 "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}  # fmt: skip
        if found is None or int(found[1]) * units[(found[2] or "").lower()] < 1 << 20:
            self.problems.append(f"{name}={value!r} must be a size of at least 1 MiB, e.g. 64MiB or 1GiB")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(name, str(default))
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{name}={value!r} is not an integer")
            return default
        if not minimum <= number <= maximum:
            self.problems.append(f"{name}={number} is outside {minimum}..{maximum}")
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, "true" if default else "false").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={value!r} is not a boolean (true/false)")
        return default

    def csv(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.env.get(name)
        if value is None:
            return default
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def rate(self, name: str, default: RateLimit) -> RateLimit:
        """``RATE/SECONDS:BURST``, e.g. ``100/1:200`` or ``10/60:10``."""
        value = self.env.get(name)
        if value is None:
            return default
        try:
            rate_part, burst = value.strip().split(":")
            rate, per = rate_part.split("/")
            parsed = RateLimit(float(rate), float(per), int(burst))
        except ValueError:
            self.problems.append(f"{name}={value!r} is not RATE/SECONDS:BURST (e.g. 100/1:200)")
            return default
        if parsed.rate <= 0 or parsed.per_seconds <= 0 or parsed.burst < 1:
            self.problems.append(f"{name}={value!r} needs positive rate, seconds and burst")
            return default
        return parsed

    def area(self, name: str, default: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """``LAT_MIN,LAT_MAX,LON_MIN,LON_MAX``, e.g. ``-11,6,95,141``."""
        value = self.env.get(name)
        if value is None:
            return default
        try:
            lat_min, lat_max, lon_min, lon_max = (float(part) for part in value.split(","))
        except ValueError:
            self.problems.append(f"{name}={value!r} is not LAT_MIN,LAT_MAX,LON_MIN,LON_MAX")
            return default
        if not (-90 <= lat_min < lat_max <= 90 and -180 <= lon_min < lon_max <= 180):
            self.problems.append(f"{name}={value!r} is not a valid lat/lon box")
            return default
        return (lat_min, lat_max, lon_min, lon_max)


def _check_url(reader: _Reader, name: str, value: str, schemes: tuple[str, ...]) -> None:
    if not value:
        return
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        reader.problems.append(f"{name}={value!r} must be a URL with scheme {'/'.join(schemes)}")


def load_config(env: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None) -> AppConfig:
    """Build the configuration from ``env`` (default: ``.env`` overlaid by ``os.environ``)."""
    if env is None:
        merged: dict[str, str] = {}
        if dotenv_path is not None and dotenv_path.is_file():
            from dotenv import dotenv_values

            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ)
        env = merged

    r = _Reader(env)
    defaults = AppConfig()
    app_env = r.choice("APP_ENV", defaults.app_env, ENVIRONMENTS)
    webhook_secret = r.text("GOTONG_ROYONG_WEBHOOK_SECRET", "") or r.text("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
    endpoint = r.text("SURREAL_ENDPOINT", defaults.surreal_endpoint, allow_empty=False)
    scheme = endpoint.split("://", 1)[0].lower() if "://" in endpoint else ""
    if scheme not in EMBEDDED_SCHEMES + SERVER_SCHEMES:
        r.problems.append(
            f"SURREAL_ENDPOINT={endpoint!r} must start with mem://, surrealkv://, file://, ws:// or wss://"
        )
    redis_url = r.text("REDIS_URL", "")
    _check_url(r, "REDIS_URL", redis_url, ("redis", "rediss", "unix"))
    s3_endpoint = r.text("S3_ENDPOINT", "")
    _check_url(r, "S3_ENDPOINT", s3_endpoint, ("http", "https"))
    markov_url = r.text("WEBHOOK_MARKOV_URL", defaults.webhook_markov_url, allow_empty=False)
    _check_url(r, "WEBHOOK_MARKOV_URL", markov_url, ("http", "https"))
    otlp = r.text("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    _check_url(r, "OTEL_EXPORTER_OTLP_ENDPOINT", otlp, ("http", "https", "grpc"))
    cidrs = r.csv("METRICS_ALLOWED_CIDRS", ())
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            r.problems.append(f"METRICS_ALLOWED_CIDRS has an invalid network {cidr!r}")

    config = AppConfig(
        app_env=app_env,
        port=r.integer("PORT", defaults.port, minimum=1, maximum=65535),
        surreal_endpoint=endpoint,
        surreal_ns=r.text("SURREAL_NS", defaults.surreal_ns, allow_empty=False),
        surreal_db=r.text("SURREAL_DB", defaults.surreal_db, allow_empty=False),
        surreal_user=r.text("SURREAL_USER", defaults.surreal_user),
        surreal_pass=r.text("SURREAL_PASS", defaults.surreal_pass),
        surrealkv_max_memtable_size=r.byte_size(
            "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE", defaults.surrealkv_max_memtable_size
        ),
        surrealkv_block_cache_capacity=r.byte_size(
            "SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY", defaults.surrealkv_block_cache_capacity
        ),
        redis_url=redis_url,
        chat_realtime_transport=r.choice("CHAT_REALTIME_TRANSPORT", "local", REALTIME_TRANSPORTS),
        chat_realtime_channel_prefix=r.text(
            "CHAT_REALTIME_CHANNEL_PREFIX", defaults.chat_realtime_channel_prefix, allow_empty=False
        ),
        s3_endpoint=s3_endpoint,
        s3_bucket=r.text("S3_BUCKET", defaults.s3_bucket, allow_empty=False),
        s3_region=r.text("S3_REGION", defaults.s3_region, allow_empty=False),
        s3_access_key=r.text("S3_ACCESS_KEY", ""),
        s3_secret_key=r.text("S3_SECRET_KEY", ""),
        jwt_secret=r.text("JWT_SECRET", DEV_JWT_SECRET, allow_empty=False),
        secret_key=r.text("SECRET_KEY", DEV_SECRET_KEY, allow_empty=False),
        webhook_secret=webhook_secret,
        webhook_secret_previous=r.text("GOTONG_ROYONG_WEBHOOK_SECRET_PREVIOUS", ""),
        webhook_enabled=r.boolean("WEBHOOK_ENABLED", True),
        webhook_markov_url=markov_url,
        webhook_max_attempts=r.integer("WEBHOOK_MAX_ATTEMPTS", defaults.webhook_max_attempts, minimum=1, maximum=100),
        webhook_backoff_base_ms=r.integer(
            "WEBHOOK_BACKOFF_BASE_MS", defaults.webhook_backoff_base_ms, minimum=1, maximum=3_600_000
        ),
        webhook_backoff_max_ms=r.integer(
            "WEBHOOK_BACKOFF_MAX_MS", defaults.webhook_backoff_max_ms, minimum=1, maximum=86_400_000
        ),
        webhook_timeout_ms=r.integer("WEBHOOK_TIMEOUT_MS", 10000, minimum=100, maximum=600_000),
        webhook_source_platform_id=r.text("WEBHOOK_SOURCE_PLATFORM_ID", "gotong_royong", allow_empty=False),
        log_level=r.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
        otel_exporter_otlp_endpoint=otlp,
        allowed_hosts=r.csv("ALLOWED_HOSTS", defaults.allowed_hosts),
        csrf_trusted_origins=r.csv("CSRF_TRUSTED_ORIGINS", defaults.csrf_trusted_origins),
        trusted_proxy_count=r.integer("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10),
        metrics_allowed_cidrs=cidrs,
        media_root=r.text("MEDIA_ROOT", defaults.media_root, allow_empty=False),
        max_body_bytes=r.integer("MAX_BODY_BYTES", defaults.max_body_bytes, minimum=1024, maximum=1 << 30),
        worker_metrics_port=r.integer("WORKER_METRICS_PORT", defaults.worker_metrics_port, minimum=0, maximum=65535),
        worker_poll_interval_ms=r.integer(
            "WORKER_POLL_INTERVAL_MS", defaults.worker_poll_interval_ms, minimum=10, maximum=60_000
        ),
        evidence_service_area=r.area("EVIDENCE_SERVICE_AREA", defaults.evidence_service_area),
        moderation_report_threshold=r.integer(
            "MODERATION_REPORT_THRESHOLD", defaults.moderation_report_threshold, minimum=1, maximum=1000
        ),
        rate_limit_default=r.rate("RATE_LIMIT_DEFAULT", defaults.rate_limit_default),
        rate_limit_auth=r.rate("RATE_LIMIT_AUTH", defaults.rate_limit_auth),
        rate_limit_chat_send=r.rate("RATE_LIMIT_CHAT_SEND", defaults.rate_limit_chat_send),
        rate_limit_evidence_upload=r.rate("RATE_LIMIT_EVIDENCE_UPLOAD", defaults.rate_limit_evidence_upload),
        rate_limit_transparency=r.rate("RATE_LIMIT_TRANSPARENCY", defaults.rate_limit_transparency),
        transparency_signing_key=r.text("TRANSPARENCY_SIGNING_KEY", ""),
        transparency_origin=r.text("TRANSPARENCY_ORIGIN", defaults.transparency_origin, allow_empty=False),
        c2pa_trust_anchors=r.text("C2PA_TRUST_ANCHORS", ""),
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


def _check_transparency(r: _Reader, config: AppConfig) -> None:
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


def _check_production(r: _Reader, env: Mapping[str, str], config: AppConfig) -> None:
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
