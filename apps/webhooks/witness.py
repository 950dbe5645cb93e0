"""A checkpoint witness: what the reputation engine does with ``transparency_checkpoint`` events.

The development receiver (``manage.py markov_receiver``) plays the reputation engine, so it also plays its
witness role (docs/transparency.md "What a witness adds"): it keeps every checkpoint it is sent and refuses to
forget one. For each event it

1. verifies the signed note with the verifier key it pinned (``--transparency-key``, or the key of the first
   checkpoint it saw: trust on first use, said in the log);
2. detects a fork: a second, different checkpoint of a size it already holds;
3. with ``--transparency-url``, fetches the consistency proof from the largest size it holds to the new one and
   verifies it, so a rewritten history cannot pass unnoticed.

Problems are logged at ERROR and counted (``GET /stats``); the event is still acknowledged (2xx), because a
retry would bring the same bytes again: the evidence of misbehaviour is the kept copy, not a refusal.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apps.transparency import verifier

log = logging.getLogger("gotong.markov_receiver.witness")

EVENT_TYPE = "transparency_checkpoint"
FetchConsistency = Callable[[int, int], Awaitable[dict[str, Any]]]


@dataclass
class CheckpointWitness:
    pinned_key: str | None = None
    fetch_consistency: FetchConsistency | None = None
    checkpoints: dict[int, verifier.Checkpoint] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, int]:
        return {
            "checkpoints_witnessed": len(self.checkpoints),
            "largest_witnessed_size": max(self.checkpoints, default=0),
            "checkpoint_problems": len(self.problems),
        }

    async def observe(self, subject: Any) -> str:
        """Check one ``transparency_checkpoint`` subject; returns ``witnessed``, ``known`` or ``rejected``."""
        try:
            return await self._observe(subject)
        except (verifier.VerificationError, KeyError, TypeError, ValueError) as exc:
            return self._reject(f"checkpoint rejected: {exc}")

    async def _observe(self, subject: dict[str, Any]) -> str:
        note = str(subject["checkpoint"])
        if self.pinned_key is None:
            self.pinned_key = str(subject["verifier_key"]).strip()
            log.warning("witness: pinned the log's verifier key on first use: %s", self.pinned_key)
        checkpoint = verifier.verify_checkpoint(note, verifier.parse_verifier_key(self.pinned_key))
        held = self.checkpoints.get(checkpoint.tree_size)
        if held is not None:
            if held.root_hash != checkpoint.root_hash:
                return self._reject(
                    f"FORK: two signed checkpoints of size {checkpoint.tree_size} with different roots "
                    f"(kept {base64.b64encode(held.root_hash).decode()}, got "
                    f"{base64.b64encode(checkpoint.root_hash).decode()})"
                )
            return "known"
        older = max((size for size in self.checkpoints if size < checkpoint.tree_size), default=None)
        if older is not None and older > 0 and self.fetch_consistency is not None:
            proof = await self.fetch_consistency(older, checkpoint.tree_size)
            path = [base64.b64decode(item, validate=True) for item in proof["path"]]
            try:
                verifier.verify_consistency(
                    older, checkpoint.tree_size, self.checkpoints[older].root_hash, checkpoint.root_hash, path
                )
            except verifier.VerificationError as exc:
                return self._reject(f"checkpoint {checkpoint.tree_size} is not consistent with {older}: {exc}")
        self.checkpoints[checkpoint.tree_size] = checkpoint
        self.notes[checkpoint.tree_size] = note
        log.info("witness: kept checkpoint of size %d", checkpoint.tree_size)
        return "witnessed"

    def _reject(self, problem: str) -> str:
        self.problems.append(problem)
        log.error("witness: %s", problem)
        return "rejected"


def http_consistency_fetcher(base_url: str) -> FetchConsistency:
    """Fetch ``/v1/transparency/proofs/consistency`` from the log's public API."""
    import httpx

    async def fetch(first: int, second: int) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=10) as client:
            response = await client.get(
                "/v1/transparency/proofs/consistency", params={"first": first, "second": second}
            )
            response.raise_for_status()
            return response.json()

    return fetch
