"""The reputation engine's witness role, played by the development receiver: keep every checkpoint, verify its
signature with a pinned key, catch a fork and a history that is not consistent with what it kept."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from django.conf import settings

from apps.core.db import UnitOfWork, get_db, run_sync
from apps.transparency import services, signing, verifier
from apps.webhooks import signing as webhook_signing
from apps.webhooks.httpserver import Request
from apps.webhooks.receiver import MarkovReceiver
from apps.webhooks.witness import CheckpointWitness

ORIGIN = "example.org/log"


def leaves(count: int, salt: str = "") -> list[bytes]:
    return [verifier.leaf_hash(f"{salt}leaf {i}".encode()) for i in range(count)]


def subject(signer, hashes: list[bytes]) -> dict[str, object]:
    body = signing.format_checkpoint(ORIGIN, len(hashes), verifier.root_hash(hashes))
    return {"checkpoint": signer.sign(body), "verifier_key": signer.verifier_key(), "tree_size": len(hashes)}


def consistency_from(hashes: list[bytes]):
    async def fetch(first: int, second: int) -> dict[str, object]:
        path = verifier.reference_consistency_path(hashes[:second], first)
        return {"first": first, "second": second, "path": [base64.b64encode(p).decode() for p in path]}

    return fetch


@pytest.fixture
def signer():
    return signing.parse_private_key(signing.generate_private_key(ORIGIN))


def observe(witness: CheckpointWitness, item) -> str:
    return asyncio.run(witness.observe(item))


def test_a_growing_consistent_log_is_witnessed(signer):
    history = leaves(20)
    witness = CheckpointWitness(pinned_key=signer.verifier_key(), fetch_consistency=consistency_from(history))
    for size in (3, 7, 20):
        assert observe(witness, subject(signer, history[:size])) == "witnessed"
    assert observe(witness, subject(signer, history[:7])) == "known"
    assert witness.stats() == {"checkpoints_witnessed": 3, "largest_witnessed_size": 20, "checkpoint_problems": 0}


def test_a_fork_of_a_size_already_kept_is_caught(signer):
    witness = CheckpointWitness(pinned_key=signer.verifier_key())
    assert observe(witness, subject(signer, leaves(5))) == "witnessed"
    assert observe(witness, subject(signer, leaves(5, salt="rewritten "))) == "rejected"
    assert witness.problems[0].startswith("FORK: two signed checkpoints of size 5")


def test_a_rewritten_history_fails_the_consistency_check(signer):
    original, rewritten = leaves(8), leaves(3) + leaves(9, salt="x")[3:]
    witness = CheckpointWitness(pinned_key=signer.verifier_key(), fetch_consistency=consistency_from(rewritten))
    assert observe(witness, subject(signer, original[:5])) == "witnessed"
    assert observe(witness, subject(signer, rewritten)) == "rejected"
    assert "is not consistent with 5" in witness.problems[0]
    assert 9 not in witness.checkpoints


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s, other: subject(other, leaves(4)),  # signed by another key
        lambda s, other: {"checkpoint": subject(s, leaves(4))["checkpoint"].replace("\n4\n", "\n5\n")},  # edited
        lambda s, other: {"checkpoint": "not a note"},
        lambda s, other: {"nothing": True},
        lambda s, other: None,
    ],
)  # fmt: skip
def test_a_bad_checkpoint_is_rejected_never_raises(signer, tamper):
    other = signing.parse_private_key(signing.generate_private_key(ORIGIN))
    witness = CheckpointWitness(pinned_key=signer.verifier_key())
    assert observe(witness, tamper(signer, other)) == "rejected"
    assert witness.checkpoints == {}


def test_without_a_pinned_key_the_first_key_is_pinned(signer):
    witness = CheckpointWitness()
    assert observe(witness, subject(signer, leaves(2))) == "witnessed"
    assert witness.pinned_key == signer.verifier_key()
    other = signing.parse_private_key(signing.generate_private_key(ORIGIN))
    assert observe(witness, subject(other, leaves(3))) == "rejected"  # a later key swap is not accepted


def test_the_receiver_witnesses_the_real_checkpoint_event_from_the_outbox():
    """The integrator's outbox event, signed like every delivery, reaches the witness with a usable subject."""
    run_sync(services.integrate)  # the empty tree: signed, not sent
    unit = UnitOfWork()
    unit.add(services.append_statement("contribution", "c1", {"kind": "contribution", "n": 1}))
    run_sync(unit.commit, operation="test")
    run_sync(services.integrate)
    rows = run_sync(
        get_db().query, "SELECT body FROM webhook_outbox_event WHERE event_type = 'transparency_checkpoint';"
    )[-1]
    assert len(rows) == 1
    body = rows[0]["body"].encode()
    receiver = MarkovReceiver(settings.CONFIG.webhook_secret)
    headers = {"x-gr-signature": webhook_signing.gr_signature(settings.CONFIG.webhook_secret, body)}
    response = asyncio.run(receiver.handle(Request("POST", "/webhook", headers, body)))
    assert response.status == 200
    assert json.loads(response.body)["results"][0]["witness"] == "witnessed"
    assert receiver.stats()["checkpoints_witnessed"] == 1
    subject_ = json.loads(body)["subject"]
    assert subject_["tree_size"] == 1
    assert subject_["root_hash"] == base64.b64encode(verifier.leaf_hash(b'{"kind":"contribution","n":1}')).decode()
