"""The typed configuration validates every variable at start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gotong.config import DEV_JWT_SECRET, DEV_SECRET_KEY, ConfigError, RateLimit, load_config
from tests.conftest import ROOT

GOOD_PRODUCTION = {
    "APP_ENV": "production",
    "SURREAL_ENDPOINT": "wss://db.internal:8000",
    "SURREAL_PASS": "s3cret-db-pass",
    "REDIS_URL": "redis://redis:6379/0",
    "S3_ENDPOINT": "https://s3.example.org",
    "JWT_SECRET": "j" * 40,
    "SECRET_KEY": "k" * 40,
    "GOTONG_ROYONG_WEBHOOK_SECRET": "w" * 40,
    "CHAT_REALTIME_TRANSPORT": "redis",
    "TRANSPARENCY_SIGNING_KEY": "PRIVATE+KEY+example.org/log+46eebe2b+ATKQRAak+Logal2fu5SXnmDPWthrdSIzOF8f2ZrGqH1y",
}


def test_defaults_are_the_embedded_development_profile():
    cfg = load_config({})
    assert cfg.app_env == "development"
    assert cfg.surreal_endpoint == "mem://"
    assert (cfg.surreal_ns, cfg.surreal_db) == ("gotong", "chat")
    assert cfg.surreal_is_memory
    assert cfg.surreal_is_embedded
    assert cfg.redis_url == ""
    assert cfg.chat_realtime_channel_prefix == "gotong:chat:realtime"
    # Retry defaults: a schedule close to Svix's that outlasts a 24 h outage (tests/webhooks/test_retry_schedule.py).
    assert (cfg.webhook_max_attempts, cfg.webhook_backoff_base_ms, cfg.webhook_backoff_max_ms) == (9, 5000, 36_000_000)
    assert cfg.secret_key == DEV_SECRET_KEY != cfg.jwt_secret
    assert cfg.rate_limit_default == RateLimit(100, 1, 200)
    assert cfg.evidence_service_area == (-11.0, 6.0, 95.0, 141.0)
    assert cfg.worker_metrics_port == 9101
    assert cfg.asgi_server == "uvicorn"  # chosen by measurement, docs/benchmarks.md (issue 14 point 6)
    assert load_config({"ASGI_SERVER": "daphne"}).asgi_server == "daphne"
    assert load_config({"EVIDENCE_SERVICE_AREA": "-1,1,-2,2"}).evidence_service_area == (-1.0, 1.0, -2.0, 2.0)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"ASGI_SERVER": "gunicorn"}, "ASGI_SERVER"),
        ({"SURREAL_ENDPOINT": "rocksdb://x"}, "SURREAL_ENDPOINT"),
        ({"SURREAL_ENDPOINT": ""}, "SURREAL_ENDPOINT"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"CHAT_REALTIME_TRANSPORT": "kafka"}, "CHAT_REALTIME_TRANSPORT"),
        ({"CHAT_REALTIME_TRANSPORT": "redis"}, "REDIS_URL"),
        ({"WEBHOOK_ENABLED": "maybe"}, "WEBHOOK_ENABLED"),
        ({"WEBHOOK_MAX_ATTEMPTS": "0"}, "WEBHOOK_MAX_ATTEMPTS"),
        ({"WEBHOOK_MARKOV_URL": "ftp://x"}, "WEBHOOK_MARKOV_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
        ({"RATE_LIMIT_DEFAULT": "fast"}, "RATE_LIMIT_DEFAULT"),
        ({"METRICS_ALLOWED_CIDRS": "10.0.0.0/8,nonsense"}, "METRICS_ALLOWED_CIDRS"),
        ({"S3_ENDPOINT": "minio:9000"}, "S3_ENDPOINT"),
        ({"EVIDENCE_SERVICE_AREA": "1,2,3"}, "EVIDENCE_SERVICE_AREA"),
        ({"EVIDENCE_SERVICE_AREA": "10,5,95,141"}, "EVIDENCE_SERVICE_AREA"),
        ({"WORKER_METRICS_PORT": "x"}, "WORKER_METRICS_PORT"),
        ({"MODERATION_REPORT_THRESHOLD": "0"}, "MODERATION_REPORT_THRESHOLD"),
        ({"SURREAL_SURREALKV_MAX_MEMTABLE_SIZE": "lots"}, "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE"),
        ({"SURREAL_SURREALKV_MAX_MEMTABLE_SIZE": "64KiB"}, "SURREAL_SURREALKV_MAX_MEMTABLE_SIZE"),
        ({"SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY": "12TB"}, "SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY"),
    ],
)
def test_malformed_values_stop_start_up_naming_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load_config(env)


def test_the_file_engine_gets_bounded_memory_unless_the_operator_says_otherwise(monkeypatch):
    """surrealkv sizes its write buffer and block cache from the host's RAM (1 GiB and half the RAM here):
    the config bounds both at 64 MiB, and the data layer hands them to the engine before it starts."""
    from django.conf import settings

    from apps.core.db import client

    assert (load_config({}).surrealkv_max_memtable_size, load_config({}).surrealkv_block_cache_capacity) == (
        "64MiB",
        "64MiB",
    )
    chosen = load_config(
        {"SURREAL_SURREALKV_MAX_MEMTABLE_SIZE": "256mb", "SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY": "2G"}
    )
    assert (chosen.surrealkv_max_memtable_size, chosen.surrealkv_block_cache_capacity) == ("256mb", "2G")
    monkeypatch.setattr(settings, "CONFIG", chosen)
    for variable in client.ENGINE_MEMORY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    client.bound_engine_memory()
    assert client.os.environ["SURREAL_SURREALKV_MAX_MEMTABLE_SIZE"] == "256mb"
    assert client.os.environ["SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY"] == "2G"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        load_config({"PORT": "x", "LOG_LEVEL": "y"})
    assert "PORT" in str(caught.value)
    assert "LOG_LEVEL" in str(caught.value)


def test_webhook_secret_alias_is_accepted():
    assert load_config({"WEBHOOK_SECRET": "alias-secret"}).webhook_secret == "alias-secret"
    both = {"WEBHOOK_SECRET": "alias", "GOTONG_ROYONG_WEBHOOK_SECRET": "main"}
    assert load_config(both).webhook_secret == "main"


def test_a_valid_production_profile_loads():
    cfg = load_config(GOOD_PRODUCTION)
    assert cfg.is_production
    assert not cfg.surreal_is_embedded


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"JWT_SECRET": DEV_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"SECRET_KEY": DEV_SECRET_KEY}, r"\bSECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, r"\bSECRET_KEY must be set"),
        ({"SECRET_KEY": "change-me-to-another-32-or-more-random-characters"}, r"\bSECRET_KEY must be set"),
        ({"SECRET_KEY": "j" * 40}, "SECRET_KEY must differ from JWT_SECRET"),
        ({"GOTONG_ROYONG_WEBHOOK_SECRET": ""}, "GOTONG_ROYONG_WEBHOOK_SECRET"),
        ({"SURREAL_ENDPOINT": "mem://"}, "SURREAL_ENDPOINT"),
        ({"SURREAL_ENDPOINT": "surrealkv://data/x"}, "SURREAL_ENDPOINT"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"S3_ENDPOINT": ""}, "S3_ENDPOINT"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"SURREAL_PASS": "root"}, "SURREAL_PASS"),
        ({"TRANSPARENCY_SIGNING_KEY": ""}, "TRANSPARENCY_SIGNING_KEY"),
    ],
)
def test_production_refuses_development_conveniences(change, named):
    env = {**GOOD_PRODUCTION, **change}
    if change.get("REDIS_URL") == "":
        env["CHAT_REALTIME_TRANSPORT"] = "local"
    with pytest.raises(ConfigError, match=named):
        load_config(env)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TRANSPARENCY_SIGNING_KEY": "not-a-key"}, "TRANSPARENCY_SIGNING_KEY"),
        ({"TRANSPARENCY_SIGNING_KEY": "PRIVATE+KEY+a b+00000000+" + "A" * 44}, "TRANSPARENCY_SIGNING_KEY"),
        ({"TRANSPARENCY_ORIGIN": "has space/log"}, "TRANSPARENCY_ORIGIN"),
        ({"TRANSPARENCY_ORIGIN": "a+b"}, "TRANSPARENCY_ORIGIN"),
        ({"C2PA_TRUST_ANCHORS": "/nonexistent/anchors.pem"}, "C2PA_TRUST_ANCHORS"),
    ],
)
def test_transparency_and_c2pa_variables_are_checked_at_start_up(env, named):
    with pytest.raises(ConfigError, match=named):
        load_config(env)


def test_django_refuses_to_start_with_an_invalid_variable():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "test", "PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PORT" in result.stderr


# -- the pinned runtime packages ---------------------------------------------------------------------------


def _product_names() -> set[str]:
    """Dotted names the product imports (``from a import b`` gives ``a`` and ``a.b``), plus the dotted
    strings of the settings (INSTALLED_APPS, backends), which Django imports by name."""
    import ast

    names: set[str] = set()
    for path in [*(ROOT / "apps").rglob("*.py"), *(ROOT / "gotong").rglob("*.py"), ROOT / "manage.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif path.parent.name == "gotong" and isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


def _modules_of(distribution: str) -> set[str]:
    from importlib.metadata import files

    modules = set()
    for file in files(distribution) or []:
        if file.suffix == ".py" and not file.parts[0].endswith((".dist-info", ".data")):
            parts = list(file.with_suffix("").parts)
            modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_runtime_pin_is_imported_or_says_who_imports_it():
    """Issue 13: a pinned package nothing uses is removed; one used only by another package says so."""
    import re

    names = _product_names()
    unused = []
    for line in (ROOT / "requirements" / "base.txt").read_text().splitlines():
        requirement, _, comment = line.partition("#")
        if not requirement.strip():
            continue
        distribution = re.split(r"[\[=<>~ ]", requirement.strip())[0]
        modules = _modules_of(distribution)
        assert modules, f"{distribution} is pinned but not installed"
        imported = any(name == m or name.startswith(m + ".") for name in names for m in modules)
        if not imported and not re.match(r"\s*indirect: \S", comment):
            unused.append(distribution)
    assert unused == [], f"pinned, never imported and no 'indirect:' reason: {unused}"
