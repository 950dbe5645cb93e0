"""The transparency log's rules: append in the entity's transaction, integrate, sign, prove.

Why it is split this way (docs/transparency-service.md):

* Appending must cost the entity's write almost nothing, so it is two statements in the
  caller's transaction: bump ``tlog_state:head`` and create ``tlog_leaf:⟨index⟩``. The index
  comes from the counter inside that transaction, so indexes are gapless and distinct
  (mem:// serialises writes; other engines retry conflicting transactions).
* Hashing the tree is moved off the request path: a periodic job integrates new leaves
  into stored perfect subtrees (``tree.integrate``) and signs a checkpoint once caught up.
  Each batch is one transaction guarded by "the tree size is still what I read", so two
  integrators never both write; the loser skips quietly.
* Proofs read only the O(log n) stored nodes they need, in one query.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from django.conf import settings

from apps.core import jobs
from apps.core.api import validated
from apps.core.db import Statement, UniqueViolation, UnitOfWork
from apps.core.errors import AppError, NotFound
from apps.core.ids import now_ms
from apps.transparency import tree
from apps.transparency.repository import TransparencyRepository, append_leaf, b64
from apps.transparency.serializers import ConsistencyProofQuery, EntryPath, InclusionProofQuery
from apps.transparency.verifier import canonical_json, leaf_hash

log = logging.getLogger(__name__)

#: Leaves integrated per transaction (their nodes are inserted in chunks of at most 400 rows).
INTEGRATE_BATCH = 256
#: Query values above this are refused before they reach the engine (JSON numbers stay exact up to here).
CHECKPOINT_EVENT = "transparency_checkpoint"
SYSTEM_ACTOR = ("system", "system")


def repo() -> TransparencyRepository:
    return TransparencyRepository()


# -- append (called by the domains inside their unit of work) ----------------------------------------------


def append_statement(kind: str, entity_id: str, entry: dict[str, Any]) -> Statement:
    """The statement that logs ``entry`` in the caller's transaction; its last statement returns
    ``{"log_index", "leaf_hash"}`` (pick it out with ``transparency_from``).

    The leaf data is the entry's canonical JSON, computed here once; the stored string is
    exactly those bytes, so the audit and any verifier can re-hash it.
    """
    if not isinstance(entry, dict) or entry.get("kind") != kind:
        raise ValueError(f'a transparency entry must carry "kind": {kind!r}')
    if not entity_id:
        raise ValueError("a transparency entry needs the entity's id")
    data = canonical_json(entry)
    return append_leaf(
        kind=kind, entity_id=entity_id, data=data, leaf_hash=b64(leaf_hash(data.encode("utf-8"))), now=now_ms()
    )


def transparency_from(results: list[Any]) -> dict[str, Any]:
    """``{"log_index", "leaf_hash"}`` from a unit of work's grouped results (or one statement's results).

    Raises ``LookupError`` when no append is among them (a programming error in the caller).
    """
    found = _find_row(results)
    if found is None:
        raise LookupError("no transparency append in these results")
    return {"log_index": int(found["log_index"]), "leaf_hash": str(found["leaf_hash"])}


def _find_row(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value if "log_index" in value and "leaf_hash" in value else None
    if isinstance(value, list):
        for item in reversed(value):
            row = _find_row(item)
            if row is not None:
                return row
    return None


async def locate(kind: str, entity_ids: list[str]) -> dict[str, dict[str, Any]]:
    """entity_id -> ``{"log_index", "leaf_hash"}`` for the entities that have a leaf (one query)."""
    rows = await repo().locate(kind, list(dict.fromkeys(entity_ids)))
    return {r["entity_id"]: {"log_index": int(r["log_index"]), "leaf_hash": r["leaf_hash"]} for r in rows}


# -- the signing key ----------------------------------------------------------------------------------------

_signers: dict[str, Any] = {}


def _parse_signer(private_key: str) -> Any:
    from apps.transparency import signing

    signer = _signers.get(private_key)
    if signer is None:
        signer = _signers[private_key] = signing.parse_private_key(private_key)
    return signer


async def signer() -> Any:
    """The checkpoint signer: ``TRANSPARENCY_SIGNING_KEY``, else (never in production) the key kept with the data.

    The development key is generated on first need and stored in ``tlog_key:dev``; when two
    processes generate one at once, the first CREATE wins and both use it.
    """
    cfg = settings.CONFIG
    if cfg.transparency_signing_key:
        return _parse_signer(cfg.transparency_signing_key)
    if cfg.is_production:
        raise RuntimeError("TRANSPARENCY_SIGNING_KEY is required in production")
    r = repo()
    stored = await r.dev_key()
    if stored is None:
        from apps.transparency import signing

        stored = await r.create_dev_key(signing.generate_private_key(cfg.transparency_origin), now_ms())
    return _parse_signer(stored)


def check_configured_key() -> None:
    """Start-up check: a configured key must parse and its key hash must match (raises ``ValueError``)."""
    key = settings.CONFIG.transparency_signing_key
    if not key:
        return
    try:
        signer = _parse_signer(key)
    except Exception as exc:
        raise ValueError(f"TRANSPARENCY_SIGNING_KEY cannot be used: {exc}") from exc
    expected = key.split("+")[3]
    actual = signer.key_hash.hex() if isinstance(signer.key_hash, bytes) else f"{int(signer.key_hash):08x}"
    if actual != expected:
        raise ValueError("TRANSPARENCY_SIGNING_KEY: its key hash does not match its name and key")


# -- integration and checkpoints ----------------------------------------------------------------------------


async def integrate(*, batch: int = INTEGRATE_BATCH) -> int:
    """Integrate every appended leaf into stored nodes, then sign a checkpoint of the size reached.

    Returns the number of leaves this call integrated. Safe to run in several processes at
    once: each batch is written only if the tree size is still the one read, and a
    checkpoint is created once per size (its record id is the size).
    """
    r = repo()
    state = await r.state()
    size, head = state["tree"], state["head"]
    done = 0
    while size < head:
        end = min(head, size + batch)
        leaves = await r.leaves(size, end)
        indexes = [int(row["index"]) for row in leaves]
        if indexes != list(range(size, end)):
            missing = sorted(set(range(size, end)) - set(indexes))
            log.error("transparency log: entry %s is missing; integration stopped", missing[0] if missing else "?")
            return done
        frontier_coords = tree.root_nodes(size)
        frontier = await r.nodes(frontier_coords)
        if len(frontier) != len(frontier_coords):
            log.error("transparency log: a stored node of the tree of size %s is missing", size)
            return done
        hashes = [base64.b64decode(row["leaf_hash"]) for row in leaves]
        new_nodes = tree.integrate(size, hashes, frontier)
        if not await r.store_nodes(from_size=size, to_size=end, nodes=new_nodes, now=now_ms()):
            log.info("transparency log: another integrator moved the tree; skipping this turn")
            return done
        done += end - size
        size = end
    await ensure_checkpoint(size)
    return done


async def ensure_checkpoint(size: int) -> dict[str, Any] | None:
    """Sign and store the checkpoint of ``size`` (integrated) with its outbox event, once per size."""
    r = repo()
    existing = await r.checkpoint(size)
    if existing is not None:
        return existing
    from apps.transparency import signing
    from apps.webhooks.outbox import Actor, commit_with_events, event_statement

    root = tree.root_from(size, await r.nodes(tree.root_nodes(size)))
    key = await signer()
    origin = settings.CONFIG.transparency_origin
    note = key.sign(signing.format_checkpoint(origin, size, root))
    now = now_ms()
    subject = {
        "origin": origin,
        "tree_size": size,
        "root_hash": b64(root),
        "checkpoint": note,
        "verifier_key": key.verifier_key(),
    }

    def build() -> UnitOfWork:
        uow = UnitOfWork()
        uow.add(r.checkpoint_statement(tree_size=size, root_hash=b64(root), note=note, now=now))
        # The empty tree's checkpoint is signed (the API always has one) but not sent: nothing to witness yet.
        event = None
        if size > 0:
            event = event_statement(
                event_type=CHECKPOINT_EVENT, actor=Actor(*SYSTEM_ACTOR), subject=subject, created_at_ms=now
            )
        if event is not None:
            uow.add(event)
        return uow

    try:
        await commit_with_events(build, operation="tlog.checkpoint")
    except UniqueViolation as exc:
        if not (exc.record or "").startswith("tlog_checkpoint:"):
            raise
        log.info("transparency log: checkpoint %s was signed by another integrator", size)
    return await r.checkpoint(size)


@jobs.periodic("transparency.integrate", every_s=1)
async def integrate_job() -> None:
    """The worker's turn: a new checkpoint covers every leaf within about a second of its append."""
    await integrate()


# -- public reads -------------------------------------------------------------------------------------------


async def public_key() -> str:
    key = await signer()
    return key.verifier_key() + "\n"


async def latest_checkpoint() -> str:
    row = await repo().latest_checkpoint()
    if row is None:
        raise NotFound("no checkpoint has been signed yet")
    return row["note"]


async def entry(raw_index: Any) -> dict[str, Any]:
    index = validated(EntryPath, {"index": raw_index})["index"]
    r = repo()
    state = await r.state()
    if index >= state["head"]:
        raise NotFound(f"entry {index} is beyond the log (size {state['head']})")
    row = await r.leaf(index)
    if row is None:
        raise NotFound(f"entry {index} is missing")
    data = row["data"]
    return {
        "index": index,
        "leaf_data": b64(data.encode("utf-8")),
        "leaf_hash": row["leaf_hash"],
        "entry": json.loads(data),
    }


async def inclusion_proof(raw_index: Any, raw_size: Any) -> dict[str, Any]:
    query = validated(InclusionProofQuery, {"index": raw_index, "tree_size": raw_size})
    index, size = query["index"], query["tree_size"]
    r = repo()
    integrated = (await r.state())["tree"]
    # Well-formed but naming a tree or leaf that does not exist (yet): 404, like an unknown entity.
    if size > integrated:
        raise NotFound(f"tree_size {size} is beyond the log (size {integrated})")
    if index >= size:
        raise NotFound(f"entry {index} is not in a tree of size {size}")
    elements = tree.inclusion_elements(index, size)
    coords = [(0, index), *tree.distinct_coords(elements)]
    hashes = await _nodes(r, coords)
    return {
        "index": index,
        "tree_size": size,
        "leaf_hash": b64(hashes[(0, index)]),
        "path": [b64(tree.compose(e, hashes)) for e in elements],
    }


async def consistency_proof(raw_first: Any, raw_second: Any) -> dict[str, Any]:
    query = validated(ConsistencyProofQuery, {"first": raw_first, "second": raw_second})
    first, second = query["first"], query["second"]
    if first > second:
        raise NotFound(f"no consistency proof leads from size {first} to the smaller size {second}")
    r = repo()
    integrated = (await r.state())["tree"]
    if second > integrated:
        raise NotFound(f"second {second} is beyond the log (size {integrated})")
    elements = tree.consistency_elements(first, second)
    hashes = await _nodes(r, tree.distinct_coords(elements))
    return {"first": first, "second": second, "path": [b64(tree.compose(e, hashes)) for e in elements]}


async def _nodes(r: TransparencyRepository, coords: list[tree.Coord]) -> dict[tree.Coord, bytes]:
    hashes = await r.nodes(coords)
    if len(hashes) != len(set(coords)):
        missing = next(c for c in coords if c not in hashes)
        log.error("transparency log: stored node %s is missing", missing)
        raise AppError("the transparency log is damaged; the operators were alerted")
    return hashes
