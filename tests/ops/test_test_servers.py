"""The servers the suite starts survive a busy neighbour: a CI run once lost seven S3 tests to one port race."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support import seaweed
from tests.support.ports import _first_ephemeral_port, free_port


def test_free_ports_are_outside_the_range_the_kernel_gives_to_outgoing_connections() -> None:
    first_ephemeral = _first_ephemeral_port()
    ports = {free_port() for _ in range(20)}
    assert all(port < first_ephemeral for port in ports), (sorted(ports), first_ephemeral)
    assert len(ports) > 1  # picked at random, so two workers do not walk one sequence


def test_weed_mini_starts_on_new_ports_when_one_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first attempt's volume port is held by someone else; the second attempt, on new ports, serves S3."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    calls: list[int] = []

    def first_volume_port_taken() -> int:
        calls.append(1)
        # weed_mini asks for -s3, -master, -volume, ... in that order; the third is the volume port
        return taken if len(calls) == 3 else free_port()

    monkeypatch.setattr(seaweed, "free_port", first_volume_port_taken)
    try:
        proc, weed = seaweed.start_weed_mini(tmp_path, "retrytestkey", "retry-test-secret-key-0123456789", timeout=60)
        try:
            assert f"-volume.port={taken}" not in weed.command
            assert weed.command[2] == f"-dir={tmp_path / 'attempt-2' / 'data'}", "the first attempt should have failed"
            assert seaweed._answers_as_seaweed(weed.endpoint)
        finally:
            proc.terminate()
            proc.wait(15)
    finally:
        squatter.close()


def test_a_start_that_never_works_fails_with_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    monkeypatch.setattr(seaweed, "free_port", lambda: taken)  # every port of every attempt is busy
    try:
        with pytest.raises(seaweed.WeedMiniDidNotStart, match=r"attempt 2 of 2\) exited with .*its log ends"):
            seaweed.start_weed_mini(tmp_path, "retrytestkey", "retry-test-secret-key-0123456789", attempts=2)
    finally:
        squatter.close()
