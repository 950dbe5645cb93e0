#!/usr/bin/env python3
"""Standalone verifier for the Gotong Royong transparency log.

Why this file stands alone: a member, the reputation engine or an auditor must be able to check what the
log recorded *without trusting our servers or our database*. So this one file needs only the Python standard
library and ``cryptography``; it can be copied out of the repository and run anywhere:

    python verifier.py inclusion --key log.pub --checkpoint checkpoint.txt \\
        --entry entry.json --proof proof.json [--file photo.jpg]
    python verifier.py consistency --key log.pub --old checkpoint-1.txt --new checkpoint-2.txt --proof proof.json
    python verifier.py fetch --url https://example.org --index 7 [--file photo.jpg] [--key log.pub]

The server imports the hash functions from here (``leaf_hash``, ``node_hash``, ``root_hash``, ``canonical_json``)
so the log and its verifier share a single definition.

Formats implemented (exactly as specified; the byte formats are documented in docs/transparency.md):

* RFC 9162 section 2.1 Merkle trees: leaf ``SHA-256(0x00 || data)``, node ``SHA-256(0x01 || left || right)``,
  empty tree ``SHA-256("")``; inclusion proofs (2.1.3) and consistency proofs (2.1.4) with the verification
  algorithms of 2.1.3.2 and 2.1.4.2.
* C2SP signed-note (Ed25519, signature type 0x01) and C2SP tlog-checkpoint.
* Go ``golang.org/x/mod/sumdb/note`` verifier key text ``<name>+<8 hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "NoteVerifier",
    "VerificationError",
    "canonical_json",
    "check_entry",
    "check_file",
    "compute_key_hash",
    "leaf_hash",
    "main",
    "node_hash",
    "parse_checkpoint",
    "parse_verifier_key",
    "reference_consistency_path",
    "reference_inclusion_path",
    "root_hash",
    "split_note",
    "validate_key_name",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

ED25519_ALG = 0x01  # C2SP signed-note signature type identifier for Ed25519
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
KEY_HASH_SIZE = 4
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
MAX_SIGNATURES = 100  # signed-note: verifiers SHOULD limit the count and MUST accept at least 16
MAX_NOTE_BYTES = 1 << 20
MAX_TREE_SIZE = (1 << 63) - 1  # the log's indexes are int64 everywhere else; larger sizes are nonsense
MAX_PROOF_LENGTH = 64  # a path longer than 63 hashes cannot belong to a tree of at most 2**63 - 1 leaves
MAX_INPUT_BYTES = 4 << 20  # key, checkpoint and JSON files/answers the CLI reads
FILE_CHUNK = 1 << 20

_DECIMAL_RE = re.compile(r"(?:0|[1-9][0-9]*)")
_HEX8_RE = re.compile(r"[0-9a-f]{8}")


class VerificationError(Exception):
    """A check failed; the message says which one (it is what the CLI prints after ``FAILED:``)."""


# --------------------------------------------------------------------------------------------------------------
# RFC 9162 section 2.1: Merkle hash trees
# --------------------------------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 2.1.1 leaf hash: the 0x00 prefix keeps a leaf from ever colliding with an interior node."""
    return hashlib.sha256(LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + bytes(left) + bytes(right)).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash MTH over all leaves (given as leaf hashes), O(n) hashing and O(n) memory.

    Built level by level: pairing neighbours left to right and carrying an unpaired last node up unchanged gives
    exactly RFC 9162's split at the largest power of two below n (the left subtree is always complete). Used by
    audits and tests; the server's proofs read stored subtree hashes instead.
    """
    level = [bytes(h) for h in leaf_hashes]
    if not level:
        return EMPTY_ROOT
    for h in level:
        if len(h) != HASH_SIZE:
            raise ValueError("every leaf hash must be 32 bytes")
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    return root_hash(leaf_hashes[start:end])


def reference_inclusion_path(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]) computed from every leaf: the slow reference the server's proofs must equal."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} is outside a tree of {n} leaves")
    path: list[bytes] = []
    start, end, m = 0, n, index
    # Walk down from the root; siblings are collected top-down, the proof lists them bottom-up.
    while end - start > 1:
        k = _split_point(end - start)
        if m < k:
            path.append(_mth(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(_mth(leaf_hashes, start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def reference_consistency_path(leaf_hashes: Sequence[bytes], first: int) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(m, D[n]) computed from every leaf (empty for m == 0 and m == n)."""
    n = len(leaf_hashes)
    if not 0 <= first <= n:
        raise ValueError(f"first size {first} is outside 0..{n}")
    if first in (0, n):
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, n, first, True
    while True:
        size = end - start
        if m == size:  # SUBPROOF(m, D[m], b)
            if not complete:
                path.append(_mth(leaf_hashes, start, end))
            break
        k = _split_point(size)
        if m <= k:
            path.append(_mth(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(_mth(leaf_hashes, start, start + k))
            start, m, complete = start + k, m - k, False
    path.reverse()
    return path


def _check_hash(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise VerificationError(f"{what} must be a 32-byte hash")
    return bytes(value)


def _check_size(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TREE_SIZE:
        raise VerificationError(f"{what} must be an integer in 0..2^63-1")
    return value


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2: prove that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    Raises VerificationError naming the failed check; returns None when the proof holds.
    """
    leaf = _check_hash(leaf_hash, "leaf hash")
    _check_size(index, "index")
    _check_size(tree_size, "tree size")
    root = _check_hash(root, "root hash")
    if index >= tree_size:
        raise VerificationError(f"index {index} is not below tree size {tree_size}")
    if len(path) > MAX_PROOF_LENGTH:
        raise VerificationError(f"inclusion proof has {len(path)} hashes, more than any tree can need")
    fn, sn, r = index, tree_size - 1, leaf
    for i, p in enumerate(path):
        p = _check_hash(p, f"inclusion proof hash {i}")
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # fn == sn on a left edge: skip the levels where this node has no sibling
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise VerificationError(f"inclusion proof for index {index} does not lead to the root hash of size {tree_size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2: prove the tree of size ``second`` extends the tree of size ``first`` (append-only).

    Edge cases the RFC leaves to the caller: equal sizes need an empty proof and equal roots; from the empty tree
    (first == 0) the proof is empty and ``first_root`` must be the empty tree's hash.
    """
    _check_size(first, "first tree size")
    _check_size(second, "second tree size")
    first_root = _check_hash(first_root, "first root hash")
    second_root = _check_hash(second_root, "second root hash")
    if first > second:
        raise VerificationError(f"first tree size {first} is larger than second tree size {second}")
    if len(path) > MAX_PROOF_LENGTH:
        raise VerificationError(f"consistency proof has {len(path)} hashes, more than any tree can need")
    hashes = [_check_hash(p, f"consistency proof hash {i}") for i, p in enumerate(path)]
    if first == second:
        if hashes:
            raise VerificationError("a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise VerificationError(f"two different root hashes for the same tree size {first}")
        return
    if first == 0:
        if hashes:
            raise VerificationError("a consistency proof from the empty tree must be empty")
        if first_root != EMPTY_ROOT:
            raise VerificationError("the root hash of an empty tree must be SHA-256 of the empty string")
        return
    if not hashes:
        raise VerificationError("consistency proof is empty")
    if first & (first - 1) == 0:  # first is an exact power of two: the old root is itself a node of the new tree
        hashes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than needed")
    if fr != first_root:
        raise VerificationError(f"consistency proof does not lead to the root hash of size {first}")
    if sr != second_root:
        raise VerificationError(f"consistency proof does not lead to the root hash of size {second}")


# --------------------------------------------------------------------------------------------------------------
# C2SP signed-note and the Go note key format
# --------------------------------------------------------------------------------------------------------------


def strict_b64decode(text: str, what: str) -> bytes:
    """Standard base64 (RFC 4648 section 4) in its one canonical spelling: padding required, no stray bits.

    Accepting other spellings of the same bytes would let two different checkpoint texts carry one signature.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise VerificationError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64")
    return raw


def validate_key_name(name: str) -> str:
    """C2SP signed-note key names: non-empty, no Unicode spaces, no '+' (and, being note text, no control chars)."""
    if not isinstance(name, str) or not name:
        raise VerificationError("key name is empty")
    for ch in name:
        if ch == "+" or ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" or 0xD800 <= ord(ch) <= 0xDFFF:
            raise VerificationError(f"key name {name!r} contains a space, '+' or a control character")
    return name


def compute_key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_ALG]) + bytes(public_key)).digest()
    return digest[:KEY_HASH_SIZE]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted note key: the signer's name, its 4-byte key ID and its Ed25519 public key."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    @property
    def public_key_bytes(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def key_text(self) -> str:
        """The verifier key text this object was parsed from (``<name>+<8 hex>+<base64(0x01 || key)>``)."""
        raw = bytes([ED25519_ALG]) + self.public_key_bytes
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode('ascii')}"


def parse_verifier_key(text: str) -> NoteVerifier:
    """Parse ``<name>+<8 hex digits>+<base64(0x01 || 32-byte public key)>`` and check the key ID matches."""
    if not isinstance(text, str):
        raise VerificationError("verifier key must be text")
    text = text.strip()
    if text.startswith("PRIVATE+KEY+"):
        raise VerificationError("this is a private signing key; give the verifier (public) key")
    parts = text.split("+")
    # The base64 part may itself contain '+', so split the name and hash off the front only.
    if len(parts) < 3:
        raise VerificationError("verifier key must look like <name>+<8 hex digits>+<base64 key>")
    name, hash_hex, key_b64 = parts[0], parts[1], "+".join(parts[2:])
    validate_key_name(name)
    if not _HEX8_RE.fullmatch(hash_hex):
        raise VerificationError("verifier key hash must be 8 lowercase hex digits")
    raw = strict_b64decode(key_b64, "verifier key")
    if len(raw) != 1 + ED25519_PUBLIC_KEY_SIZE or raw[0] != ED25519_ALG:
        raise VerificationError("verifier key is not an Ed25519 key (expected 0x01 followed by 32 bytes)")
    public_bytes = raw[1:]
    key_hash = bytes.fromhex(hash_hex)
    if compute_key_hash(name, public_bytes) != key_hash:
        raise VerificationError("verifier key hash does not match its name and public key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(public_bytes)
    except ValueError:
        raise VerificationError("verifier key is not a valid Ed25519 public key") from None
    return NoteVerifier(name=name, key_hash=key_hash, public_key=public_key)


def _note_text(note: str | bytes) -> str:
    """Decode and check the signed-note character rules: UTF-8, no ASCII controls except newline."""
    if isinstance(note, bytes | bytearray):
        if len(note) > MAX_NOTE_BYTES:
            raise VerificationError("note is too large")
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise VerificationError("note must be text")
    try:
        size = len(note.encode("utf-8"))
    except UnicodeEncodeError:
        raise VerificationError("note is not valid UTF-8") from None
    if size > MAX_NOTE_BYTES:
        raise VerificationError("note is too large")
    for ch in note:
        if (ord(ch) < 0x20 and ch != "\n") or ch == "\x7f":
            raise VerificationError(f"note contains the control character U+{ord(ch):04X}")
    return note


@dataclass(frozen=True)
class _Signature:
    name: str
    key_hash: bytes
    signature: bytes


def split_note(note: str | bytes) -> tuple[str, list[_Signature]]:
    """Split a signed note into its text (with final newline) and parsed signature lines; syntax checks only."""
    note = _note_text(note)
    if not note.endswith("\n"):
        raise VerificationError("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerificationError("note has no signature block (no empty line before the signatures)")
    body, sig_block = note[: split + 1], note[split + 2 :]
    if body == "\n" or not body:
        raise VerificationError("note text is empty")
    lines = sig_block.split("\n")
    if lines[-1] != "":
        raise VerificationError("note does not end with a newline")
    lines = lines[:-1]
    if not lines:
        raise VerificationError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise VerificationError("malformed signature line (must start with an em dash and a space)")
        name, sep, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or " " in sig_b64:
            raise VerificationError("malformed signature line (expected '— <key name> <base64>')")
        validate_key_name(name)
        raw = strict_b64decode(sig_b64, "signature")
        if len(raw) <= KEY_HASH_SIZE:
            raise VerificationError("signature is too short")
        signatures.append(_Signature(name=name, key_hash=raw[:KEY_HASH_SIZE], signature=raw[KEY_HASH_SIZE:]))
    return body, signatures


def verify_note(note: str | bytes, verifier: NoteVerifier) -> str:
    """Verify a C2SP signed note against one trusted key and return its text (the signed bytes, as str).

    Signatures by other keys (a different name or key ID) are ignored, as the spec requires; a signature by this
    key that does not verify rejects the whole note, and so does a note with no signature by this key.
    """
    body, signatures = split_note(note)
    signed = body.encode("utf-8")
    found = False
    for sig in signatures:
        if sig.name != verifier.name or sig.key_hash != verifier.key_hash:
            continue
        if len(sig.signature) != ED25519_SIGNATURE_SIZE:
            raise VerificationError(f"signature by {verifier.name} has the wrong length")
        try:
            verifier.public_key.verify(sig.signature, signed)
        except InvalidSignature:
            raise VerificationError(f"signature by {verifier.name} does not verify (forged or altered note)") from None
        found = True
    if not found:
        raise VerificationError(f"note has no signature by the key {verifier.name}+{verifier.key_hash.hex()}")
    return body


# --------------------------------------------------------------------------------------------------------------
# C2SP tlog-checkpoint
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body: origin, tree size, root hash and any (opaque) extension lines."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: list[str] = field(default_factory=list)


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint note text (not the signatures): strict, so one tree head has one spelling."""
    if not isinstance(body, str):
        raise VerificationError("checkpoint must be text")
    if not body.endswith("\n"):
        raise VerificationError("checkpoint text does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError("checkpoint is truncated (needs origin, tree size and root hash lines)")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise VerificationError("checkpoint origin line is empty")
    if not _DECIMAL_RE.fullmatch(size_text):
        raise VerificationError("checkpoint tree size is not a decimal number without leading zeros")
    tree_size = int(size_text)
    if tree_size > MAX_TREE_SIZE:
        raise VerificationError("checkpoint tree size is too large")
    root = strict_b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise VerificationError("checkpoint root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise VerificationError("checkpoint has an empty extension line")
    return Checkpoint(origin=origin, tree_size=tree_size, root_hash=root, extensions=list(extensions))


def verify_checkpoint(note: str | bytes, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint's signature, then parse it; ``origin`` (when given) must match its first line."""
    checkpoint = parse_checkpoint(verify_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    return checkpoint


# --------------------------------------------------------------------------------------------------------------
# Entries and files
# --------------------------------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """The one spelling of an entry as leaf data: sorted keys, no spaces, UTF-8 text (not \\u escapes), no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def check_entry(entry: dict, leaf_data: bytes) -> None:
    """The leaf bytes must be exactly the canonical JSON of the entry the server shows next to them."""
    if not isinstance(entry, dict):
        raise VerificationError("entry is not a JSON object")
    try:
        expected = canonical_json(entry).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError):
        raise VerificationError("entry cannot be written as canonical JSON") from None
    if bytes(leaf_data) != expected:
        raise VerificationError("leaf data is not the canonical JSON of the entry")


def check_file(path: str | Path, entry: dict) -> None:
    """The file's SHA-256 and size must equal the evidence entry's ``media.sha256`` / ``media.size_bytes``."""
    media = entry.get("media") if isinstance(entry, dict) else None
    if not isinstance(media, dict):
        raise VerificationError("entry has no media (only evidence entries describe a file)")
    want_hash, want_size = media.get("sha256"), media.get("size_bytes")
    if not isinstance(want_hash, str) or not isinstance(want_size, int) or isinstance(want_size, bool):
        raise VerificationError("entry media has no sha256 / size_bytes")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(FILE_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise VerificationError(f"cannot read file {path}: {exc.strerror or exc}") from None
    if size != want_size:
        raise VerificationError(f"file size {size} is not the recorded {want_size} bytes")
    if digest.hexdigest() != want_hash.lower():
        raise VerificationError(f"file SHA-256 {digest.hexdigest()} is not the recorded {want_hash}")


# What a record's ``content_sha256`` covers: every field of the record as the API returns it, except those that may
# change later (``moderation_status``, ``transparency`` and a contribution's ``updated_at_ms``). The server builds its
# entries from these same tuples (apps/evidence/transparency.py), so there is one definition.
RECORDED_FIELDS: dict[str, tuple[str, ...]] = {
    "contribution": (
        "contribution_id", "author_id", "author_username", "mode", "contribution_type", "title", "description",
        "evidence_url", "skill_ids", "metadata", "request_id", "correlation_id", "created_at_ms",
    ),
    "evidence": (
        "evidence_id", "contribution_id", "actor_id", "actor_username", "evidence_type", "evidence_data", "proof",
        "media", "warnings", "request_id", "correlation_id", "created_at_ms",
    ),
    "vouch": (
        "vouch_id", "voucher_id", "voucher_username", "vouchee_id", "skill_id", "weight_hint", "message",
        "request_id", "correlation_id", "created_at_ms",
    ),
}  # fmt: skip
RECORD_ID_FIELD = {"contribution": "contribution_id", "evidence": "evidence_id", "vouch": "vouch_id"}
DECISION_NOT_HASHED = ("event_hash", "transparency")  # a decision's event_hash covers everything else


def record_digest(kind: str, record: dict) -> str:
    """Hex SHA-256 of the canonical JSON of the record's recorded fields (an entry's ``content_sha256``)."""
    recorded = {name: record.get(name) for name in RECORDED_FIELDS[kind]}
    return hashlib.sha256(canonical_json(recorded).encode("utf-8")).hexdigest()


def decision_event_hash(decision: dict) -> str:
    """Hex SHA-256 of the canonical JSON of a moderation decision (API shape) without ``event_hash``."""
    body = {name: value for name, value in decision.items() if name not in DECISION_NOT_HASHED}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def check_record(entry: dict, record: dict) -> None:
    """The record (as the API returned it) is exactly the one the entry committed to."""
    if not isinstance(entry, dict) or not isinstance(record, dict):
        raise VerificationError("entry and record must be JSON objects")
    kind = entry.get("kind")
    try:
        if kind in RECORDED_FIELDS:
            id_field = RECORD_ID_FIELD[kind]
            if record.get(id_field) != entry.get(id_field):
                raise VerificationError(f"the record's {id_field} is not the entry's")
            if record_digest(kind, record) != entry.get("content_sha256"):
                raise VerificationError(f"the {kind} differs from what the log recorded (content_sha256)")
            return
        if kind == "moderation_decision":
            if record.get("decision_id") != entry.get("decision_id"):
                raise VerificationError("the record's decision_id is not the entry's")
            if decision_event_hash(record) != entry.get("event_hash"):
                raise VerificationError("the decision differs from what the log recorded (event_hash)")
            return
    except (ValueError, TypeError):
        raise VerificationError("the record cannot be written as canonical JSON") from None
    raise VerificationError(f"entries of kind {kind!r} describe no record")


# --------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------


def _read_bytes(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise VerificationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise VerificationError(f"{what} {path} is too large")
    return data


def _decode_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(f"{what} is not valid UTF-8") from None


def _parse_json_object(data: bytes, what: str) -> dict:
    try:
        value = json.loads(_decode_text(data, what))
    except json.JSONDecodeError as exc:
        raise VerificationError(f"{what} is not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise VerificationError(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise VerificationError(f"{what} is not a JSON object")
    return value


def _json_int(obj: dict, key: str, what: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise VerificationError(f"{what} has no integer {key!r}")
    return _check_size(value, f"{what} {key!r}")


def _json_b64(obj: dict, key: str, what: str) -> bytes:
    value = obj.get(key)
    if not isinstance(value, str):
        raise VerificationError(f"{what} has no base64 {key!r}")
    return strict_b64decode(value, f"{what} {key!r}")


def _json_path(obj: dict, what: str) -> list[bytes]:
    path = obj.get("path")
    if not isinstance(path, list) or len(path) > MAX_PROOF_LENGTH:
        raise VerificationError(f"{what} has no 'path' list of hashes")
    hashes = []
    for i, item in enumerate(path):
        if not isinstance(item, str):
            raise VerificationError(f"{what} path item {i} is not a base64 string")
        hashes.append(_check_hash(strict_b64decode(item, f"{what} path item {i}"), f"{what} path item {i}"))
    return hashes


def _check_inclusion(
    verifier: NoteVerifier,
    checkpoint_note: bytes,
    entry_doc: dict,
    proof_doc: dict,
    file: str | None,
    origin: str | None,
    record: dict | None = None,
) -> tuple[Checkpoint, int]:
    """Every check of one entry against one checkpoint; returns the checkpoint and the entry's index."""
    checkpoint = verify_checkpoint(checkpoint_note, verifier, origin)
    index = _json_int(entry_doc, "index", "entry")
    data = _json_b64(entry_doc, "leaf_data", "entry")
    claimed_leaf = _json_b64(entry_doc, "leaf_hash", "entry")
    entry = entry_doc.get("entry")
    if not isinstance(entry, dict):
        raise VerificationError("entry answer has no 'entry' object")
    check_entry(entry, data)
    computed = leaf_hash(data)
    if claimed_leaf != computed:
        raise VerificationError("entry leaf_hash is not SHA-256(0x00 || leaf_data)")
    proof_index = _json_int(proof_doc, "index", "proof")
    proof_size = _json_int(proof_doc, "tree_size", "proof")
    if proof_index != index:
        raise VerificationError(f"proof is for index {proof_index}, the entry is index {index}")
    if proof_size != checkpoint.tree_size:
        raise VerificationError(f"proof is for tree size {proof_size}, the checkpoint has size {checkpoint.tree_size}")
    if "leaf_hash" in proof_doc and _json_b64(proof_doc, "leaf_hash", "proof") != computed:
        raise VerificationError("proof leaf_hash is not the entry's leaf hash")
    if index >= checkpoint.tree_size:
        raise VerificationError(f"entry {index} is not covered by the checkpoint (tree size {checkpoint.tree_size})")
    verify_inclusion(computed, index, checkpoint.tree_size, _json_path(proof_doc, "proof"), checkpoint.root_hash)
    if file is not None:
        check_file(file, entry)
    if record is not None:
        check_record(entry, record)
    return checkpoint, index


def _record_of(args: argparse.Namespace) -> dict | None:
    """The ``--record`` file (a record as the API returned it), if given."""
    if not getattr(args, "record", None):
        return None
    return _parse_json_object(_read_bytes(args.record, "record file"), "record file")


def _cmd_inclusion(args: argparse.Namespace) -> str:
    verifier = parse_verifier_key(_decode_text(_read_bytes(args.key, "key file"), "key file"))
    checkpoint, index = _check_inclusion(
        verifier,
        _read_bytes(args.checkpoint, "checkpoint file"),
        _parse_json_object(_read_bytes(args.entry, "entry file"), "entry file"),
        _parse_json_object(_read_bytes(args.proof, "proof file"), "proof file"),
        args.file,
        args.origin,
        _record_of(args),
    )
    return _inclusion_ok(checkpoint, index, args, pinned=True)


def _inclusion_ok(checkpoint: Checkpoint, index: int, args: argparse.Namespace, *, pinned: bool) -> str:
    what = f"entry {index} is in {checkpoint.origin} at tree size {checkpoint.tree_size}"
    if args.file is not None:
        what += f"; file {args.file} matches the recorded SHA-256 and size"
    if getattr(args, "record", None):
        what += f"; record {args.record} is exactly what was recorded"
    if not pinned:
        what += " (key fetched from the server, not pinned: pass --key for a trustless check)"
    return what


def _cmd_consistency(args: argparse.Namespace) -> str:
    verifier = parse_verifier_key(_decode_text(_read_bytes(args.key, "key file"), "key file"))
    old = verify_checkpoint(_read_bytes(args.old, "old checkpoint file"), verifier, args.origin)
    new = verify_checkpoint(_read_bytes(args.new, "new checkpoint file"), verifier, args.origin)
    if old.origin != new.origin:
        raise VerificationError(f"the checkpoints are from different logs ({old.origin!r}, {new.origin!r})")
    proof = _parse_json_object(_read_bytes(args.proof, "proof file"), "proof file")
    first, second = _json_int(proof, "first", "proof"), _json_int(proof, "second", "proof")
    if (first, second) != (old.tree_size, new.tree_size):
        raise VerificationError(
            f"proof is for sizes {first} -> {second}, the checkpoints have {old.tree_size} -> {new.tree_size}"
        )
    verify_consistency(first, second, old.root_hash, new.root_hash, _json_path(proof, "proof"))
    return f"{old.origin} at tree size {new.tree_size} contains the tree of size {old.tree_size} unchanged"


def _http_get(base: str, path: str, params: dict[str, int] | None = None) -> bytes:
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    request = urllib.request.Request(url, headers={"Accept": "application/json, text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read(MAX_INPUT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            body = json.loads(exc.read(64 * 1024).decode("utf-8"))
            message = body.get("error", {}).get("message") if isinstance(body, dict) else None
            detail = f": {message}" if isinstance(message, str) else ""
        except Exception:  # the detail is a courtesy; the status alone is the failure
            detail = ""
        raise VerificationError(f"GET {url} answered HTTP {exc.code}{detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VerificationError(f"GET {url} failed: {reason}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise VerificationError(f"GET {url}: answer is too large")
    return data


def _cmd_fetch(args: argparse.Namespace) -> str:
    base = args.url
    scheme = urllib.parse.urlsplit(base).scheme
    if scheme not in ("http", "https"):
        raise VerificationError("--url must be an http:// or https:// address")
    pinned = args.key is not None
    if pinned:
        key_text = _decode_text(_read_bytes(args.key, "key file"), "key file")
    else:
        key_text = _decode_text(_http_get(base, "/v1/transparency/public-key"), "public key answer")
    verifier = parse_verifier_key(key_text)
    checkpoint_note = _http_get(base, "/v1/transparency/checkpoint")
    checkpoint = verify_checkpoint(checkpoint_note, verifier, args.origin)
    if args.index >= checkpoint.tree_size:
        raise VerificationError(
            f"entry {args.index} is not covered by the latest checkpoint (tree size {checkpoint.tree_size}); "
            "a new checkpoint follows within seconds, try again"
        )
    entry_doc = _parse_json_object(_http_get(base, f"/v1/transparency/entries/{args.index}"), "entry answer")
    proof_doc = _parse_json_object(
        _http_get(base, "/v1/transparency/proofs/inclusion", {"index": args.index, "tree_size": checkpoint.tree_size}),
        "proof answer",
    )
    checkpoint, index = _check_inclusion(
        verifier, checkpoint_note, entry_doc, proof_doc, args.file, args.origin, _record_of(args)
    )
    if index != args.index:
        raise VerificationError(f"the server answered entry {index} for index {args.index}")
    return _inclusion_ok(checkpoint, index, args, pinned=pinned)


class _ArgumentParser(argparse.ArgumentParser):
    """Usage mistakes print one FAILED line too (exit 2), so scripts see the same shape of answer."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"FAILED: {self.prog}: {message}\n")


def _non_negative(text: str) -> int:
    if not _DECIMAL_RE.fullmatch(text) or int(text) > MAX_TREE_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="verifier.py",
        description="Verify entries and checkpoints of a Gotong Royong transparency log without trusting the server. "
        "Prints one line, 'OK: ...' (exit 0) or 'FAILED: <reason>' (exit 1).",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    key_help = "file with the log's verifier key (<name>+<8 hex>+<base64>), obtained once and kept: pinning it is "
    key_help += "what makes the check independent of the server"
    origin_help = "expected checkpoint origin (default: accept the origin the key signed)"
    record_help = "the record as the API returned it (a contribution, evidence, vouch or decision JSON): it must be "
    record_help += "exactly what the entry committed to"

    inc = sub.add_parser("inclusion", help="an entry (and optionally its file) is in a signed checkpoint")
    inc.add_argument("--key", required=True, help=key_help)
    inc.add_argument("--checkpoint", required=True, help="signed checkpoint (GET /v1/transparency/checkpoint)")
    inc.add_argument("--entry", required=True, help="entry JSON (GET /v1/transparency/entries/{index})")
    inc.add_argument(
        "--proof", required=True, help="proof JSON (GET /v1/transparency/proofs/inclusion?index=&tree_size=)"
    )
    inc.add_argument("--file", help="the evidence file: its SHA-256 and size must equal the entry's media")
    inc.add_argument("--record", help=record_help)
    inc.add_argument("--origin", help=origin_help)
    inc.set_defaults(run=_cmd_inclusion)

    con = sub.add_parser("consistency", help="a newer checkpoint extends an older one (nothing removed or changed)")
    con.add_argument("--key", required=True, help=key_help)
    con.add_argument("--old", required=True, help="the older signed checkpoint")
    con.add_argument("--new", required=True, help="the newer signed checkpoint")
    con.add_argument(
        "--proof", required=True, help="proof JSON (GET /v1/transparency/proofs/consistency?first=&second=)"
    )
    con.add_argument("--origin", help=origin_help)
    con.set_defaults(run=_cmd_consistency)

    fet = sub.add_parser(
        "fetch",
        help="download the checkpoint, entry and proof from a running server and check them",
        description="Downloads the checkpoint, the entry and its inclusion proof and runs the inclusion checks. "
        "Without --key the public key is also downloaded from the same server, which then only proves the server "
        "is self-consistent; pin the key with --key (obtained once, out of band) for a trustless check.",
    )
    fet.add_argument("--url", required=True, help="base URL of the server, e.g. https://example.org")
    fet.add_argument("--index", required=True, type=_non_negative, help="log index of the entry")
    fet.add_argument("--file", help="the evidence file: its SHA-256 and size must equal the entry's media")
    fet.add_argument("--record", help=record_help)
    fet.add_argument("--key", help=key_help + "; without it the key is fetched from the server (not trustless)")
    fet.add_argument("--origin", help=origin_help)
    fet.set_defaults(run=_cmd_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; print 'OK: ...' and return 0, or 'FAILED: <reason>' and return 1 (never a traceback)."""
    args = build_parser().parse_args(argv)
    try:
        message = args.run(args)
    except VerificationError as exc:
        print(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        print("FAILED: interrupted")
        return 130
    except Exception as exc:  # bad input must never end in a traceback
        print(f"FAILED: unexpected {type(exc).__name__}: {exc}")
        return 1
    print(f"OK: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
