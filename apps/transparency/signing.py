"""Signing side of the transparency log's notes: Ed25519 keys in the Go note format and C2SP checkpoints.

Why a separate module: the verifier (``verifier.py``) must stay a standalone file that outsiders run, and it has
no business holding private keys. Everything here only *produces* what the verifier checks, and reuses its
definitions (key hash, name rules, note text rules) so the two sides cannot drift apart.

Key texts (golang.org/x/mod/sumdb/note, C2SP signed-note Ed25519):

* private: ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 seed)>``
* verifier: ``<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 public key)>``
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from apps.transparency.verifier import (
    ED25519_ALG,
    HASH_SIZE,
    MAX_TREE_SIZE,
    SIGNATURE_PREFIX,
    VerificationError,
    compute_key_hash,
    split_note,
    validate_key_name,
)

PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_HEX8_RE = re.compile(r"[0-9a-f]{8}")
_SEED_SIZE = 32


def key_hash(name: str, public_key: bytes) -> bytes:
    """The C2SP key ID ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (one definition, in the verifier)."""
    return compute_key_hash(name, public_key)


def _check_name(name: str) -> str:
    try:
        return validate_key_name(name)
    except VerificationError as exc:
        raise ValueError(str(exc)) from None


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_seed(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


@dataclass(frozen=True, repr=False)
class NoteSigner:
    """An Ed25519 note signing key with its name; ``repr`` hides the key so it never lands in a log line."""

    name: str
    key_hash: bytes
    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_hash={self.key_hash.hex()})"

    @property
    def public_key_bytes(self) -> bytes:
        return _raw_public(self.private_key)

    def verifier_key(self) -> str:
        """The public verifier key text ``<name>+<8 hex>+<base64(0x01 || public key)>``."""
        raw = bytes([ED25519_ALG]) + self.public_key_bytes
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode('ascii')}"

    def private_key_text(self) -> str:
        """The private key text (Go note format), e.g. to keep a generated development key with the data."""
        raw = bytes([ED25519_ALG]) + _raw_seed(self.private_key)
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode('ascii')}"

    def sign(self, body: str) -> str:
        """Return the signed note: the text, an empty line, then ``— <name> <base64(key id || signature)>``.

        The text must already be valid note text (UTF-8, ends in a newline, no control characters except newline);
        a bad text raises ValueError instead of producing a note no verifier would accept.
        """
        if not isinstance(body, str) or not body.endswith("\n") or body == "\n":
            raise ValueError("note text must be non-empty and end with a newline")
        _valid_text(body)
        signature = self.private_key.sign(body.encode("utf-8"))
        line = f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_hash + signature).decode('ascii')}\n"
        note = f"{body}\n{line}"
        # The note must split back into exactly this text and one signature, or verifiers would see another text.
        try:
            text, signatures = split_note(note)
        except VerificationError as exc:
            raise ValueError(f"cannot sign this text: {exc}") from None
        if text != body or len(signatures) != 1:
            raise ValueError("cannot sign this text: it would not split back into the same note")
        return note


def _valid_text(body: str) -> None:
    """Signed-note character rules: UTF-8 (no lone surrogates) and no ASCII control characters but newline."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note text is not valid UTF-8") from None
    for ch in body:
        if (ord(ch) < 0x20 and ch != "\n") or ch == "\x7f":
            raise ValueError(f"note text contains the control character U+{ord(ch):04X}")


def _signer(name: str, private_key: Ed25519PrivateKey) -> NoteSigner:
    return NoteSigner(name=name, key_hash=key_hash(name, _raw_public(private_key)), private_key=private_key)


def generate_private_key(name: str) -> str:
    """A fresh Ed25519 key as ``PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>`` (for TRANSPARENCY_SIGNING_KEY)."""
    return _signer(_check_name(name), Ed25519PrivateKey.generate()).private_key_text()


def parse_private_key(text: str) -> NoteSigner:
    """Parse a private key text; ValueError names what is wrong (shape, algorithm, length or a mismatched key hash)."""
    if not isinstance(text, str):
        raise ValueError("signing key must be text")
    text = text.strip()
    if not text.startswith(PRIVATE_KEY_PREFIX):
        raise ValueError("signing key must start with PRIVATE+KEY+")
    rest = text[len(PRIVATE_KEY_PREFIX) :].split("+")
    if len(rest) < 3:
        raise ValueError("signing key must look like PRIVATE+KEY+<name>+<8 hex digits>+<base64 seed>")
    name, hash_hex, seed_b64 = rest[0], rest[1], "+".join(rest[2:])
    _check_name(name)
    if not _HEX8_RE.fullmatch(hash_hex):
        raise ValueError("signing key hash must be 8 lowercase hex digits")
    try:
        raw = base64.b64decode(seed_b64.encode("ascii"), validate=True)
    except (UnicodeEncodeError, ValueError):
        raise ValueError("signing key is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != seed_b64:
        raise ValueError("signing key is not canonical base64")
    if len(raw) != 1 + _SEED_SIZE or raw[0] != ED25519_ALG:
        raise ValueError("signing key is not an Ed25519 key (expected 0x01 followed by a 32-byte seed)")
    signer = _signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_hash.hex() != hash_hex:
        raise ValueError("signing key hash does not match its name and key (a damaged or edited key)")
    return signer


def format_checkpoint(origin: str, tree_size: int, root_hash: bytes) -> str:
    """The C2SP tlog-checkpoint text ``<origin>\\n<size>\\n<base64 root>\\n`` (no extension lines)."""
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise ValueError("checkpoint origin must be a non-empty single line")
    _valid_text(origin)
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or not 0 <= tree_size <= MAX_TREE_SIZE:
        raise ValueError("checkpoint tree size must be an integer in 0..2^63-1")
    if not isinstance(root_hash, bytes | bytearray) or len(root_hash) != HASH_SIZE:
        raise ValueError("checkpoint root hash must be 32 bytes")
    return f"{origin}\n{tree_size}\n{base64.b64encode(bytes(root_hash)).decode('ascii')}\n"
