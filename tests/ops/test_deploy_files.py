"""Deployment files: pinned versions, every variable documented, compose files valid."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from gotong.config import ConfigError, load_config
from tests.conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE_FILES = [DOCKER / "compose.dev.yaml", DOCKER / "compose.prod.yaml"]


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def configured_variables() -> set[str]:
    source = (ROOT / "gotong" / "config.py").read_text()
    return set(re.findall(r'r\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_env_example_lists_every_variable_the_config_reads():
    variables = configured_variables()
    assert len(variables) > 30
    assert variables - set(env_example()) == set()


def test_env_example_is_a_valid_development_configuration():
    assert load_config(env_example()).app_env == "development"


def test_production_refuses_the_placeholder_secrets_of_env_example():
    env = {
        **env_example(),
        "APP_ENV": "production",
        "SURREAL_ENDPOINT": "ws://db:8000",
        "REDIS_URL": "redis://r:6379/0",
        "S3_ENDPOINT": "https://s3",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    for name in ("JWT_SECRET", "SECRET_KEY must be set", "GOTONG_ROYONG_WEBHOOK_SECRET", "SURREAL_PASS"):
        assert name in str(caught.value)


def _deploy_texts() -> dict[str, str]:
    files = [*DOCKER.iterdir(), ROOT / ".env.example", *(ROOT / "requirements").iterdir()]
    return {str(path.relative_to(ROOT)): path.read_text() for path in files if path.is_file()}


def test_no_floating_latest_tags_anywhere():
    offenders = [name for name, text in _deploy_texts().items() if re.search(r"\blatest\b", text, re.I)]
    assert offenders == []


def test_every_image_and_base_image_is_pinned_to_a_version():
    for path in COMPOSE_FILES:
        for service, spec in yaml.safe_load(path.read_text())["services"].items():
            image = spec.get("image", "")
            assert re.search(r":v?\d[\w.\-]*$|:RELEASE\.", image), f"{path.name} {service}: {image!r}"
    base = re.search(r"^FROM\s+(\S+)", (DOCKER / "Dockerfile").read_text(), re.M).group(1)
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base), base


def test_python_requirements_are_pinned_exactly():
    for path in (ROOT / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-r"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line), f"{path.name}: {line}"


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    text = (DOCKER / "Dockerfile").read_text()
    user = re.search(r"^USER\s+(\S+)", text, re.M).group(1)
    assert user not in ("root", "0")
    assert "HEALTHCHECK" in text
    assert "/health" in text
    assert "collectstatic" in text


def test_production_topology_has_two_api_replicas_worker_tikv_redis_and_collector():
    services = yaml.safe_load((DOCKER / "compose.prod.yaml").read_text())["services"]
    api = [name for name, spec in services.items() if "serve" in spec.get("command", [])]
    assert len(api) >= 2
    assert any("run_worker" in spec.get("command", []) for spec in services.values())
    assert any("tikv://pd:2379" in spec.get("command", []) for spec in services.values())
    assert {"pd", "tikv", "redis", "otel-collector"} <= set(services)
    for name in api:
        assert services[name]["environment"]["CHAT_REALTIME_TRANSPORT"] == "redis"
        assert services[name]["environment"]["APP_ENV"] == "production"


def test_dev_topology_has_file_backed_surrealdb_redis_and_minio_with_bucket():
    services = yaml.safe_load((DOCKER / "compose.dev.yaml").read_text())["services"]
    assert services["surrealdb"]["image"] == "surrealdb/surrealdb:v3.0.0-beta.4"
    assert any(arg.startswith("file:") for arg in services["surrealdb"]["command"])
    assert services["redis"]["image"].startswith("redis:7.")
    assert "mc mb" in " ".join(services["minio-buckets"]["entrypoint"])


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_validates(path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed; scripts/test.sh installs it (apt-get install docker-compose)")
    result = subprocess.run(
        [binary, "-f", str(path), "--env-file", str(ROOT / ".env.example"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
