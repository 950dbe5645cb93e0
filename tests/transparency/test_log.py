"""The log itself: appends in the caller's transaction, integration into stored nodes, checkpoints, proofs.

Everything runs on the real embedded engine; proofs are checked with the standalone verifier against the
signed checkpoint's root, and the stored-node arithmetic against the verifier's from-all-leaves reference.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys

import pytest

from apps.core.db import SurrealClient, Thrown, UniqueViolation, UnitOfWork, get_db, run_sync
from apps.core.db.migrations import migrate
from apps.transparency import repository as tlog_repository
from apps.transparency import services, signing, tree, verifier
from tests.conftest import ROOT, server_env
from tests.transparency.support import KIND, append_many, b64d, entry, leaf_hashes


def state() -> dict[str, int]:
    return run_sync(services.repo().state)


def verifier_key() -> verifier.NoteVerifier:
    return verifier.parse_verifier_key(run_sync(services.public_key))


# -- tree arithmetic (pure) --------------------------------------------------------------------------------


def test_stored_node_proofs_equal_the_reference_for_every_size_up_to_64():
    for n in range(1, 65):
        leaves = [verifier.leaf_hash(f"leaf {i}".encode()) for i in range(n)]
        nodes = tree.integrate(0, leaves, {})
        assert tree.root_from(n, nodes) == verifier.root_hash(leaves)
        bound = 2 * math.ceil(math.log2(n)) + 2
        for m in range(n):
            elements = tree.inclusion_elements(m, n)
            assert [tree.compose(e, nodes) for e in elements] == verifier.reference_inclusion_path(leaves, m)
            assert len([(0, m), *tree.distinct_coords(elements)]) <= bound
        for m in range(1, n + 1):
            elements = tree.consistency_elements(m, n)
            assert [tree.compose(e, nodes) for e in elements] == verifier.reference_consistency_path(leaves, m)
            assert len(tree.distinct_coords(elements)) <= bound


def test_integrating_in_any_split_gives_the_same_nodes():
    leaves = [verifier.leaf_hash(bytes([i])) for i in range(37)]
    whole = tree.integrate(0, leaves, {})
    for split in range(37):
        first = tree.integrate(0, leaves[:split], {})
        frontier = {c: first[c] for c in tree.root_nodes(split)}
        assert {**first, **tree.integrate(split, leaves[split:], frontier)} == whole
    assert tree.root_from(0, {}) == verifier.EMPTY_ROOT
    with pytest.raises(ValueError):
        tree.inclusion_elements(5, 5)
    with pytest.raises(ValueError):
        tree.consistency_elements(0, 5)


# -- append ----------------------------------------------------------------------------------------------


def test_two_appends_in_one_transaction_with_an_entity_get_consecutive_indexes():
    async def scenario() -> list[dict]:
        uow = UnitOfWork()
        uow.add(services.append_statement(KIND, "a", entry(1)))
        uow.add(services.append_statement(KIND, "b", entry(2)))
        results = await uow.commit(operation="test")
        return [services.transparency_from(results[0]), services.transparency_from(results[1])]

    first, second = run_sync(scenario)
    assert (first["log_index"], second["log_index"]) == (0, 1)
    assert b64d(first["leaf_hash"]) == verifier.leaf_hash(verifier.canonical_json(entry(1)).encode())
    assert state()["head"] == 2
    assert run_sync(services.locate, KIND, ["a", "b", "zzz"]) == {"a": first, "b": second}


def test_a_failed_entity_write_appends_nothing():
    async def scenario() -> None:
        uow = UnitOfWork()
        uow.add(services.append_statement(KIND, "a", entry(1)))
        uow.add(tlog_repository.Statement("THROW 'entity refused'"))
        await uow.commit(operation="test")

    with pytest.raises(Thrown):
        run_sync(scenario)
    assert state()["head"] == 0
    assert run_sync(get_db().query, "SELECT * FROM tlog_leaf;")[-1] == []


def test_one_leaf_per_entity_and_entries_must_name_their_kind():
    run_sync(append_many, 1)
    with pytest.raises(UniqueViolation):
        run_sync(append_many, 1)  # the same entity id again
    assert state()["head"] == 1
    with pytest.raises(ValueError):
        services.append_statement(KIND, "x", {"kind": "other"})
    with pytest.raises(ValueError):
        services.append_statement(KIND, "", entry(1))
    with pytest.raises(LookupError):
        services.transparency_from([[None], []])


async def _concurrent_appends(db: SurrealClient, writers: int, each: int) -> list[int]:
    async def writer(w: int) -> list[int]:
        got = []
        for i in range(each):
            uow = UnitOfWork(db)
            slot = uow.add(services.append_statement(KIND, f"w{w}-{i}", entry(w * 1000 + i)))
            got.append(services.transparency_from((await uow.commit(operation="test"))[slot])["log_index"])
        return got

    return [i for part in await asyncio.gather(*(writer(w) for w in range(writers))) for i in part]


def test_concurrent_appends_are_gapless_on_memory():
    indexes = run_sync(_concurrent_appends, get_db(), 8, 15)
    assert sorted(indexes) == list(range(120))
    rows = run_sync(get_db().query, "SELECT VALUE index FROM tlog_leaf;")[-1]
    assert sorted(rows) == list(range(120))
    assert state()["head"] == 120


def test_concurrent_appends_are_gapless_on_surrealkv(tmp_path):
    async def scenario() -> tuple[list[int], list[int], int]:
        db = SurrealClient(f"surrealkv://{tmp_path / 'kv'}", "t", "t", max_attempts=30)
        try:
            await migrate(db)
            indexes = await _concurrent_appends(db, 8, 10)
            stored = (await db.query("SELECT VALUE index FROM tlog_leaf;"))[-1]
            head = (await db.query("SELECT VALUE size FROM ONLY tlog_state:head;"))[-1]
            return indexes, stored, head
        finally:
            await db.close()

    indexes, stored, head = run_sync(scenario)
    assert sorted(indexes) == list(range(80))
    assert sorted(stored) == list(range(80))
    assert head == 80


# -- integration and checkpoints ----------------------------------------------------------------------------


def test_first_run_signs_the_empty_tree_and_checkpoints_cover_every_leaf():
    assert run_sync(services.integrate) == 0
    note = run_sync(services.latest_checkpoint)
    checkpoint = verifier.verify_checkpoint(note, verifier_key(), "localhost/gotong-royong")
    assert (checkpoint.tree_size, checkpoint.root_hash) == (0, verifier.EMPTY_ROOT)

    run_sync(append_many, 300)
    assert state() == {"head": 300, "tree": 0, "checkpoint": 0}
    assert run_sync(services.integrate, batch=64) == 300
    checkpoint = verifier.verify_checkpoint(run_sync(services.latest_checkpoint), verifier_key())
    assert checkpoint.tree_size == 300
    assert checkpoint.root_hash == verifier.root_hash(run_sync(leaf_hashes))
    assert state() == {"head": 300, "tree": 300, "checkpoint": 300}

    events = run_sync(get_db().query, "SELECT body FROM webhook_outbox_event WHERE event_type = $t;",
                      {"t": "transparency_checkpoint"})[-1]  # fmt: skip
    subjects = sorted((json.loads(e["body"])["subject"] for e in events), key=lambda s: s["tree_size"])
    assert [s["tree_size"] for s in subjects] == [300]  # the empty tree is signed but not sent
    last = subjects[-1]
    assert last["checkpoint"] == run_sync(services.latest_checkpoint)
    assert last["verifier_key"] == run_sync(services.public_key).strip()
    assert b64d(last["root_hash"]) == checkpoint.root_hash
    assert json.loads(events[0]["body"])["actor"] == {"user_id": "system", "username": "system"}

    # Nothing new: no new checkpoint, no new event; the same size always gives the same bytes.
    assert run_sync(services.integrate) == 0
    assert len(run_sync(get_db().query, "SELECT * FROM webhook_outbox_event;")[-1]) == 1


def test_two_integrators_at_once_never_corrupt_the_tree():
    async def scenario() -> None:
        for round_ in range(3):
            await append_many(150, start=round_ * 150)
            await asyncio.gather(*(services.integrate(batch=16) for _ in range(3)))
        await services.integrate()

    run_sync(scenario)
    assert state()["tree"] == 450
    hashes = run_sync(leaf_hashes)
    checkpoint = verifier.verify_checkpoint(run_sync(services.latest_checkpoint), verifier_key())
    assert (checkpoint.tree_size, checkpoint.root_hash) == (450, verifier.root_hash(hashes))
    # Every stored node equals the node computed from the data, and exactly the perfect ones exist.
    expected = tree.integrate(0, hashes, {})
    rows = run_sync(get_db().query, "SELECT id, hash FROM tlog_node;")[-1]
    assert {tuple(r["id"].id): b64d(r["hash"]) for r in rows} == expected
    sizes = run_sync(get_db().query, "SELECT VALUE tree_size FROM tlog_checkpoint;")[-1]
    events = run_sync(get_db().query, "SELECT VALUE body FROM webhook_outbox_event;")[-1]
    assert len(sizes) == len(set(sizes)) == len(events)


def test_dev_key_is_generated_once_and_kept_with_the_data():
    async def scenario() -> list[str]:
        keys = await asyncio.gather(*(services.signer() for _ in range(4)))
        return [k.verifier_key() for k in keys]

    keys = run_sync(scenario)
    assert len(set(keys)) == 1
    stored = run_sync(get_db().query, "SELECT * FROM tlog_key;")[-1]
    assert len(stored) == 1
    assert signing.parse_private_key(stored[0]["private_key"]).verifier_key() == keys[0]


def test_configured_key_is_used_and_a_damaged_one_stops_start_up(settings):
    import dataclasses

    key = signing.generate_private_key("example.org/log")
    settings.CONFIG = dataclasses.replace(settings.CONFIG, transparency_signing_key=key)
    assert run_sync(services.public_key) == signing.parse_private_key(key).verifier_key() + "\n"
    assert run_sync(get_db().query, "SELECT * FROM tlog_key;")[-1] == []

    parts = key.split("+")  # PRIVATE, KEY, name, key hash, base64 (which may itself hold "+")
    parts[3] = "0" * 8 if parts[3] != "0" * 8 else "1" * 8
    damaged = "+".join(parts)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            env=server_env(TRANSPARENCY_SIGNING_KEY=damaged), timeout=120)  # fmt: skip
    assert result.returncode != 0
    assert "TRANSPARENCY_SIGNING_KEY" in result.stderr
    assert "hash does not match" in result.stderr


# -- proofs from stored nodes --------------------------------------------------------------------------------


def test_db_proofs_verify_against_signed_checkpoints_and_read_log_n_nodes(monkeypatch):
    run_sync(append_many, 100)
    run_sync(services.integrate)
    old = verifier.verify_checkpoint(run_sync(services.latest_checkpoint), verifier_key())
    run_sync(append_many, 233, start=100)
    run_sync(services.integrate)
    new = verifier.verify_checkpoint(run_sync(services.latest_checkpoint), verifier_key())
    hashes = run_sync(leaf_hashes)
    assert (old.tree_size, new.tree_size) == (100, 333)

    requested: list[int] = []
    original = tlog_repository.TransparencyRepository.nodes

    async def counting(self, coords):
        requested.append(len(coords))
        return await original(self, coords)

    monkeypatch.setattr(tlog_repository.TransparencyRepository, "nodes", counting)
    for index in (0, 1, 57, 99, 100, 255, 256, 331, 332):
        proof = run_sync(services.inclusion_proof, str(index), "333")
        assert b64d(proof["leaf_hash"]) == hashes[index]
        verifier.verify_inclusion(hashes[index], index, 333, [b64d(p) for p in proof["path"]], new.root_hash)
        assert requested[-1] <= 2 * math.ceil(math.log2(333)) + 2
    for index in (0, 42, 99):
        proof = run_sync(services.inclusion_proof, str(index), "100")
        verifier.verify_inclusion(hashes[index], index, 100, [b64d(p) for p in proof["path"]], old.root_hash)
    proof = run_sync(services.consistency_proof, "100", "333")
    verifier.verify_consistency(100, 333, old.root_hash, new.root_hash, [b64d(p) for p in proof["path"]])
    assert requested[-1] <= 2 * math.ceil(math.log2(333)) + 2
    for first in (1, 64, 128, 200, 333):
        proof = run_sync(services.consistency_proof, str(first), "333")
        first_root = verifier.root_hash(hashes[:first])
        verifier.verify_consistency(first, 333, first_root, new.root_hash, [b64d(p) for p in proof["path"]])
    # A wrong root or a tampered path is refused by the verifier.
    proof = run_sync(services.inclusion_proof, "5", "333")
    with pytest.raises(verifier.VerificationError):
        verifier.verify_inclusion(hashes[6], 5, 333, [b64d(p) for p in proof["path"]], new.root_hash)
