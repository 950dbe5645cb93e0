"""``manage.py transparency_keygen`` prints a signing key the configuration accepts and its verifier key."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.transparency import verifier as v
from apps.transparency.signing import format_checkpoint, parse_private_key
from gotong.config import load_config
from tests.conftest import ROOT


def keygen(*args: str) -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("transparency_keygen", *args, stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    private_line, verifier_line = lines
    assert private_line.startswith("TRANSPARENCY_SIGNING_KEY=PRIVATE+KEY+")
    assert verifier_line.startswith("TRANSPARENCY_VERIFIER_KEY=")
    return private_line.split("=", 1)[1], verifier_line.split("=", 1)[1], err.getvalue()


def test_keygen_prints_a_matching_key_pair_that_signs_verifiable_checkpoints() -> None:
    private, public, _ = keygen("--name", "example.org/log")
    signer = parse_private_key(private)
    assert signer.name == "example.org/log"
    assert signer.verifier_key() == public
    checker = v.parse_verifier_key(public)
    assert checker.key_hash == signer.key_hash
    assert public.startswith(f"example.org/log+{signer.key_hash.hex()}+")
    note = signer.sign(format_checkpoint("example.org/log", 1, v.leaf_hash(b"x")))
    assert v.verify_checkpoint(note, checker, origin="example.org/log").tree_size == 1
    # The configuration's own check accepts the key (production requires one).
    assert load_config({"TRANSPARENCY_SIGNING_KEY": private}).transparency_signing_key == private


def test_each_run_generates_a_new_key() -> None:
    first, _, _ = keygen("--name", "example.org/log")
    second, _, _ = keygen("--name", "example.org/log")
    assert first != second


def test_default_name_is_the_configured_origin_and_a_different_name_is_flagged() -> None:
    private, _, err = keygen()
    assert parse_private_key(private).name == settings.CONFIG.transparency_origin
    assert err == ""
    _, _, err = keygen("--name", "other.example/log")
    assert "differs from TRANSPARENCY_ORIGIN" in err


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\tname", "jalan/merdékà"])
def test_bad_names_are_refused(name: str) -> None:
    out = io.StringIO()
    with pytest.raises(CommandError, match="--name"):
        call_command("transparency_keygen", "--name", name, stdout=out)
    assert out.getvalue() == ""


def test_keygen_runs_from_manage_py() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "transparency_keygen", "--name", "example.org/log"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    private, public = (line.split("=", 1)[1] for line in result.stdout.splitlines()[:2])
    assert parse_private_key(private).verifier_key() == public
