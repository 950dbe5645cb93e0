"""``transparency_audit`` names what an attacker with database access changed (issue 10, point 6)."""

from __future__ import annotations

import base64

import pytest

from apps.core.db import get_db, run_sync
from apps.transparency import registry, services, tree, verifier
from apps.transparency.audit import run_audit
from tests.transparency.support import KIND, append_many, entry, run_audit_command


def query(sql: str, **variables) -> list:
    return run_sync(get_db().query, sql, variables)[-1]


@pytest.fixture
def log_of_50():
    run_sync(append_many, 20)
    run_sync(services.integrate)  # checkpoint 20
    run_sync(append_many, 30, start=20)
    run_sync(services.integrate)  # checkpoint 50


audit = run_audit_command


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_a_clean_log_passes(log_of_50):
    status, lines = audit()
    assert status == 0, lines
    assert lines[-1].startswith("transparency audit: OK; 50 entries, 50 integrated, 2 checkpoints checked")


def test_edited_leaf_data_is_named(log_of_50):
    query("UPDATE tlog_leaf:7 SET data = $d;", d=verifier.canonical_json(entry(7, note="changed")))
    status, lines = audit()
    assert status == 1
    assert lines[0] == "FIRST PROBLEM: entry 7: its stored leaf hash does not match its data (the data was edited)"


def test_leaf_and_its_hash_edited_together_are_named_by_the_integrated_node(log_of_50):
    data = verifier.canonical_json(entry(33, note="forged"))
    query("UPDATE tlog_leaf:33 SET data = $d, leaf_hash = $h;", d=data, h=b64(verifier.leaf_hash(data.encode())))
    status, lines = audit()
    assert status == 1
    assert lines[0].startswith("FIRST PROBLEM: entry 33: its data does not match the leaf hash integrated")


def test_a_deleted_leaf_is_named(log_of_50):
    query("DELETE tlog_leaf:12;")
    status, lines = audit()
    assert status == 1
    assert lines[0] == "FIRST PROBLEM: entry 12 is missing"


def test_an_edited_node_is_named(log_of_50):
    query("UPDATE type::record('tlog_node', [2, 3]) SET hash = $h;", h=b64(b"\x00" * 32))
    status, lines = audit()
    assert status == 1
    assert lines[0] == (
        "FIRST PROBLEM: entry 12: the stored tree node (level 2, index 3) covering entries 12..15 differs from those "
        "entries"
    )


def test_a_forged_checkpoint_note_is_named(log_of_50):
    note = query("SELECT VALUE note FROM ONLY tlog_checkpoint:20;")
    forged = note.replace("\n20\n", "\n21\n", 1)
    query("UPDATE tlog_checkpoint:20 SET note = $n;", n=forged)
    status, lines = audit()
    assert status == 1
    assert any(line.startswith("FIRST PROBLEM: checkpoint 20: its signed note does not verify") for line in lines)


def test_a_consistent_rewrite_of_entries_and_tree_is_caught_by_the_signed_checkpoint(log_of_50):
    """Rewrite entry 25 with its leaf hash and every stored node: all hashes match the data, only the
    signed checkpoint of 50 can tell, and the audit names the entries since the last good checkpoint."""
    data = verifier.canonical_json(entry(25, note="rewritten"))
    query("UPDATE tlog_leaf:25 SET data = $d, leaf_hash = $h;", d=data, h=b64(verifier.leaf_hash(data.encode())))
    rows = query("SELECT index, data FROM tlog_leaf ORDER BY index;")
    nodes = tree.integrate(0, [verifier.leaf_hash(r["data"].encode()) for r in rows], {})
    for (level, index), value in nodes.items():
        query("UPDATE type::record('tlog_node', [$l, $i]) SET hash = $h;", l=level, i=index, h=b64(value))
    status, lines = audit()
    assert status == 1
    assert lines[0] == (
        "FIRST PROBLEM: checkpoint 50: its root does not match the stored entries although every stored hash "
        "matches its data: entries 20..49 (after checkpoint 20) were rewritten together with the tree"
    )


def test_registered_kind_rows_and_files_are_compared_with_their_leaves(log_of_50):
    rows = {f"item{n:06d}": entry(n) for n in range(50)}

    async def rebuild(ids: list[str]) -> dict[str, dict | None]:
        return {i: rows.get(i) for i in ids}

    async def check_files(entries: list[dict]) -> list[str]:
        return [f"entry {e['log_index']}: stored file differs from its SHA-256" for e in entries if e["n"] == 44]

    registry.register(KIND, rebuild, check_files)
    try:
        report = run_sync(run_audit)
        assert report.lines() == ["entry 44: stored file differs from its SHA-256"]
        rows["item000003"] = entry(3, note="edited row")
        del rows["item000009"]
        report = run_sync(run_audit)
        assert report.lines()[:2] == [
            f"entry 3 ({KIND} item000003): the {KIND} row differs from its leaf",
            f"entry 9 ({KIND} item000009): the {KIND} row is missing",
        ]
        assert KIND in report.summary()
    finally:
        registry.unregister(KIND)
