"""Free loopback ports for the servers the tests and benchmarks start.

A port is found free by binding it and closing it again, and the child server binds it a moment later. In that
window anything else may take it. The most frequent taker is not another server but an outgoing connection: every
client socket gets a local port from the kernel's ephemeral range (``ip_local_port_range``), and a test worker
next door opens thousands of them. A server that then binds the same port fails (SeaweedFS exits 255; CI saw it).
So ports are picked at random *below* the ephemeral range, where the kernel never hands out client ports; only
another test's explicit choice can collide there, which is rare, and starters that can retry do (``weed_mini``).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 12_000  # above the well-known and registered ports this machine's services tend to listen on
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_RANDOM = random.SystemRandom()  # not the shared generator: a test that seeds it would give two workers one sequence


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # the Linux default


def _binds(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback TCP port nothing is bound to now, outside the ephemeral range where the system allows it."""
    highest = _first_ephemeral_port() - 1
    if highest - _LOWEST >= 1_000:
        for _ in range(50):
            port = _RANDOM.randint(_LOWEST, highest)
            if _binds(port):
                return port
    with socket.socket() as sock:  # a crowded or unusual system: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
