"""The transparency log's pure crypto: RFC 9162 trees and proofs, C2SP signed notes and checkpoints, the CLI.

Known-answer vectors come from outside this project (the RFC 6962 test data of certificate-transparency and the
golang.org/x/mod/sumdb/note test key and note), so a mistake shared by the signer and the verifier still fails.
Everything else is exhaustive over small trees: every size, every index, every pair of sizes.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from apps.transparency import verifier as v
from apps.transparency.signing import (
    NoteSigner,
    format_checkpoint,
    generate_private_key,
    key_hash,
    parse_private_key,
)

ROOT = Path(__file__).resolve().parents[2]
VERIFIER_PY = ROOT / "apps" / "transparency" / "verifier.py"
ORIGIN = "example.org/log"

# RFC 6962 test data (certificate-transparency): leaf inputs and the roots of the trees of their prefixes.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# golang.org/x/mod/sumdb/note test vectors (Ed25519 is deterministic, so signing must reproduce them exactly).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH written straight from the definition (recursive split at the largest power of two below n)."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [v.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return parse_private_key(generate_private_key(ORIGIN))


@pytest.fixture(scope="module")
def verifier(signer: NoteSigner) -> v.NoteVerifier:
    return v.parse_verifier_key(signer.verifier_key())


# ---------------------------------------------------------------------------------------------------------------
# Hashes and roots
# ---------------------------------------------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated_sha256() -> None:
    assert v.leaf_hash(b"").hex() == CT_ROOTS[0]
    assert v.leaf_hash(b"abc") == sha(b"\x00abc")
    left, right = sha(b"l"), sha(b"r")
    assert v.node_hash(left, right) == sha(b"\x01" + left + right)
    assert v.node_hash(left, right) != v.node_hash(right, left)
    assert v.leaf_hash(left + right) != v.node_hash(left, right)  # the prefixes keep leaves and nodes apart
    assert v.EMPTY_ROOT == sha(b"") == v.root_hash([])
    assert v.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_roots_match_the_rfc6962_test_data() -> None:
    hashes = [v.leaf_hash(data) for data in CT_LEAVES]
    for n in range(1, len(CT_LEAVES) + 1):
        assert v.root_hash(hashes[:n]).hex() == CT_ROOTS[n - 1], n


def test_small_trees_have_the_rfc_shape_by_hand() -> None:
    a, b, c, d, e = (v.leaf_hash(x) for x in (b"a", b"b", b"c", b"d", b"e"))
    h = v.node_hash
    assert v.root_hash([a]) == a
    assert v.root_hash([a, b]) == h(a, b)
    assert v.root_hash([a, b, c]) == h(h(a, b), c)
    assert v.root_hash([a, b, c, d]) == h(h(a, b), h(c, d))
    assert v.root_hash([a, b, c, d, e]) == h(h(h(a, b), h(c, d)), e)
    assert v.reference_inclusion_path([a, b, c], 0) == [b, c]
    assert v.reference_inclusion_path([a, b, c], 2) == [h(a, b)]
    assert v.reference_inclusion_path([a, b, c, d, e], 4) == [h(h(a, b), h(c, d))]
    assert v.reference_consistency_path([a, b, c], 2) == [c]
    assert v.reference_consistency_path([a, b, c, d, e], 3) == [c, d, h(a, b), e]


def test_root_hash_equals_the_recursive_definition_for_every_size() -> None:
    for n in range(0, 130):
        leaves = leaves_of(n)
        assert v.root_hash(leaves) == mth(leaves), n
    with pytest.raises(ValueError):
        v.root_hash([b"short"])


def test_reference_proofs_match_the_rfc6962_test_data() -> None:
    hashes = [v.leaf_hash(data) for data in CT_LEAVES]
    assert [p.hex()[:8] for p in v.reference_inclusion_path(hashes, 0)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [p.hex()[:8] for p in v.reference_consistency_path(hashes, 1)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [p.hex() for p in v.reference_consistency_path(hashes[:5], 2)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    assert [p.hex() for p in v.reference_consistency_path(hashes, 6)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    with pytest.raises(ValueError):
        v.reference_inclusion_path(hashes, 8)
    with pytest.raises(ValueError):
        v.reference_consistency_path(hashes, 9)


# ---------------------------------------------------------------------------------------------------------------
# Inclusion proofs
# ---------------------------------------------------------------------------------------------------------------


def rejects(fn, *args) -> str:
    with pytest.raises(v.VerificationError) as info:
        fn(*args)
    return str(info.value)


def test_every_inclusion_proof_up_to_64_leaves_verifies_and_every_tampering_fails() -> None:
    all_leaves = leaves_of(65)
    roots = [v.root_hash(all_leaves[:n]) for n in range(66)]
    for n in range(1, 65):
        leaves, root = all_leaves[:n], roots[n]
        for i in range(n):
            path = v.reference_inclusion_path(leaves, i)
            v.verify_inclusion(leaves[i], i, n, path, root)
            for k in range(len(path)):  # one flipped bit in each proof hash, at a different position each time
                bad = list(path)
                bad[k] = flip(bad[k], i * 7 + k * 31)
                rejects(v.verify_inclusion, leaves[i], i, n, bad, root)
            rejects(v.verify_inclusion, flip(leaves[i], i), i, n, path, root)
            rejects(v.verify_inclusion, leaves[i], i, n, path, flip(root, n))
            if n > 1:
                rejects(v.verify_inclusion, leaves[(i + 1) % n], i, n, path, root)
            for j in {i - 1, i + 1, i ^ 1, n - 1 - i} - {i}:
                if 0 <= j < n:
                    rejects(v.verify_inclusion, leaves[i], j, n, path, root)
            for m in {i + 1, n - 1, n + 1} - {n}:  # a proof for size n against another size's signed root
                if m > i:
                    rejects(v.verify_inclusion, leaves[i], i, m, path, roots[m])
            if path:
                assert "shorter" in rejects(v.verify_inclusion, leaves[i], i, n, path[:-1], root)
                assert "shorter" in rejects(v.verify_inclusion, leaves[i], i, n, path[1:], root)
            assert "longer" in rejects(v.verify_inclusion, leaves[i], i, n, [*path, root], root)
            assert "longer" in rejects(v.verify_inclusion, leaves[i], i, n, [root, *path], root)


def test_inclusion_rejects_impossible_arguments() -> None:
    leaves = leaves_of(4)
    root, path = v.root_hash(leaves), v.reference_inclusion_path(leaves, 1)
    assert "not below" in rejects(v.verify_inclusion, leaves[1], 4, 4, path, root)
    rejects(v.verify_inclusion, leaves[1], 0, 0, [], v.EMPTY_ROOT)
    rejects(v.verify_inclusion, leaves[1], -1, 4, path, root)
    rejects(v.verify_inclusion, leaves[1], True, 4, path, root)
    rejects(v.verify_inclusion, leaves[1], 1, 2**64, path, root)
    rejects(v.verify_inclusion, leaves[1][:31], 1, 4, path, root)
    rejects(v.verify_inclusion, leaves[1], 1, 4, [path[0][:31], path[1]], root)
    rejects(v.verify_inclusion, leaves[1], 1, 4, path, root + b"\x00")
    rejects(v.verify_inclusion, leaves[1], 1, 4, [path[0]] * 65, root)
    rejects(v.verify_inclusion, "not bytes", 1, 4, path, root)


# ---------------------------------------------------------------------------------------------------------------
# Consistency proofs
# ---------------------------------------------------------------------------------------------------------------


def test_every_consistency_proof_up_to_40_leaves_verifies_and_every_tampering_fails() -> None:
    all_leaves = leaves_of(42)
    roots = [v.root_hash(all_leaves[:n]) for n in range(43)]
    for n in range(0, 41):
        for m in range(0, n + 1):
            path = v.reference_consistency_path(all_leaves[:n], m)
            v.verify_consistency(m, n, roots[m], roots[n], path)
            if m == 0 or m == n:
                assert path == []
                rejects(v.verify_consistency, m, n, roots[m], roots[n], [roots[n]])
                if n > 0:
                    rejects(v.verify_consistency, m, n, flip(roots[m], 3), roots[n], path)
                if m == n and n > 0:
                    rejects(v.verify_consistency, m, n, roots[m], flip(roots[n], 5), path)
                continue
            for k in range(len(path)):
                bad = list(path)
                bad[k] = flip(bad[k], m * 11 + k * 37)
                rejects(v.verify_consistency, m, n, roots[m], roots[n], bad)
            rejects(v.verify_consistency, m, n, flip(roots[m], n), roots[n], path)
            rejects(v.verify_consistency, m, n, roots[m], flip(roots[n], m), path)
            rejects(v.verify_consistency, m, n, roots[n], roots[m], path)  # swapped roots
            rejects(v.verify_consistency, n, m, roots[n], roots[m], path)  # swapped sizes
            rejects(v.verify_consistency, m, n, roots[m], roots[n], path[:-1])
            rejects(v.verify_consistency, m, n, roots[m], roots[n], path[1:])
            rejects(v.verify_consistency, m, n, roots[m], roots[n], [*path, roots[n]])
            rejects(v.verify_consistency, m, n, roots[m], roots[n], [roots[m], *path])
            for m2 in (m - 1, m + 1):  # another old size with its own true root
                if 0 < m2 < n:
                    rejects(v.verify_consistency, m2, n, roots[m2], roots[n], path)
            rejects(v.verify_consistency, m, n + 1, roots[m], roots[n + 1], path)
            if n - 1 > m:
                rejects(v.verify_consistency, m, n - 1, roots[m], roots[n - 1], path)


def test_consistency_rejects_impossible_arguments() -> None:
    leaves = leaves_of(5)
    r3, r5 = v.root_hash(leaves[:3]), v.root_hash(leaves)
    path = v.reference_consistency_path(leaves, 3)
    assert "larger" in rejects(v.verify_consistency, 5, 3, r5, r3, path)
    assert "empty" in rejects(v.verify_consistency, 3, 5, r3, r5, [])
    rejects(v.verify_consistency, -1, 5, r3, r5, path)
    rejects(v.verify_consistency, 3, 5, r3[:16], r5, path)
    rejects(v.verify_consistency, 3, 5, r3, r5, [p[:31] for p in path])
    rejects(v.verify_consistency, 3, 5, r3, r5, [path[0]] * 65)
    rejects(v.verify_consistency, 0, 5, r3, r5, [])  # from the empty tree the old root must be SHA-256("")
    v.verify_consistency(0, 5, v.EMPTY_ROOT, r5, [])
    v.verify_consistency(0, 0, v.EMPTY_ROOT, v.EMPTY_ROOT, [])


# ---------------------------------------------------------------------------------------------------------------
# Keys and signed notes
# ---------------------------------------------------------------------------------------------------------------


def test_key_formats_and_key_hash_match_an_independent_computation() -> None:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected_id = hashlib.sha256(b"example.org/log" + b"\x0a" + b"\x01" + public).digest()[:4]
    assert key_hash("example.org/log", public) == expected_id
    seed_b64, public_b64 = (base64.b64encode(b"\x01" + raw).decode() for raw in (seed, public))
    text = f"PRIVATE+KEY+example.org/log+{expected_id.hex()}+{seed_b64}"
    signer = parse_private_key(text)
    assert signer.key_hash == expected_id
    assert signer.name == "example.org/log"
    assert signer.private_key_text() == text
    assert signer.verifier_key() == f"example.org/log+{expected_id.hex()}+{public_b64}"
    parsed = v.parse_verifier_key(signer.verifier_key() + "\n")  # a trailing newline from a file or curl is fine
    assert (parsed.name, parsed.key_hash, parsed.public_key_bytes) == ("example.org/log", expected_id, public)
    assert parsed.key_text() == signer.verifier_key()
    assert "PRIVATE" not in repr(signer)
    assert seed.hex() not in repr(signer)


def test_go_note_vectors_are_reproduced_byte_for_byte() -> None:
    signer = parse_private_key(GO_SKEY)
    assert signer.verifier_key() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert v.verify_note(GO_NOTE, v.parse_verifier_key(GO_VKEY)) == GO_TEXT
    rejects(v.verify_note, GO_NOTE.replace("cryptography", "cryptographY"), v.parse_verifier_key(GO_VKEY))


def test_every_mangling_of_a_verifier_key_is_refused() -> None:
    # Every proper substring and every single-character change (the Go note package's own test of its parser).
    for i in range(len(GO_VKEY) + 1):
        for j in range(i + 1, len(GO_VKEY) + 1):
            if (i, j) != (0, len(GO_VKEY)):
                rejects(v.parse_verifier_key, GO_VKEY[i:j])
    for i in range(len(GO_VKEY)):
        rejects(v.parse_verifier_key, GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :])
    rejects(v.parse_verifier_key, GO_SKEY)
    rejects(v.parse_verifier_key, "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    two = base64.b64encode(b"\x02" + base64.b64decode(GO_VKEY.split("+", 2)[2])[1:]).decode()
    rejects(v.parse_verifier_key, f"PeterNeumann+c74f20a3+{two}")


def test_private_keys_are_checked(signer: NoteSigner) -> None:
    text = signer.private_key_text()
    name, hash_hex, seed = text[len("PRIVATE+KEY+") :].split("+", 2)
    wrong_hash = f"{int(hash_hex, 16) ^ 1:08x}"
    for bad, message in [
        (text.replace(hash_hex, wrong_hash), "does not match"),
        (f"PRIVATE+KEY+other.org/log+{hash_hex}+{seed}", "does not match"),
        (text[len("PRIVATE+KEY+") :], "PRIVATE+KEY+"),
        (f"PRIVATE+KEY+{name}+{hash_hex}+{seed[:-4]}", "Ed25519"),
        (f"PRIVATE+KEY+{name}+{hash_hex}+{seed}==", "base64"),
        (f"PRIVATE+KEY+{name}+{hash_hex}+" + base64.b64encode(b"\x02" + b"\x00" * 32).decode(), "Ed25519"),
        # An uppercase digit, whatever the random key: its hash is all decimal digits in about 1 run in 40.
        (f"PRIVATE+KEY+{name}+{hash_hex[:-1]}F+{seed}", "hex"),
        (f"PRIVATE+KEY+a b+{hash_hex}+{seed}", "space"),
        ("PRIVATE+KEY+", "look like"),
    ]:
        with pytest.raises(ValueError, match=message.replace("+", r"\+")):
            parse_private_key(bad)
    for name in ("", "a b", "a+b", "tab\there", "nl\nx", "nbsp\u00a0x"):
        with pytest.raises(ValueError):
            generate_private_key(name)
    assert parse_private_key(text + "\n").verifier_key() == signer.verifier_key()


def make_checkpoint(signer: NoteSigner, n: int = 5) -> tuple[str, list[bytes]]:
    leaves = leaves_of(n)
    return signer.sign(format_checkpoint(ORIGIN, n, v.root_hash(leaves))), leaves


def test_signed_checkpoint_round_trip(signer: NoteSigner, verifier: v.NoteVerifier) -> None:
    note, leaves = make_checkpoint(signer)
    body = format_checkpoint(ORIGIN, 5, v.root_hash(leaves))
    assert body == f"{ORIGIN}\n5\n{base64.b64encode(v.root_hash(leaves)).decode()}\n"
    sig_line = note.split("\n\n")[1]
    assert sig_line.startswith(f"\u2014 {ORIGIN} ")
    assert sig_line.endswith("\n")
    assert sig_line.count("\n") == 1
    raw = base64.b64decode(sig_line.rstrip("\n").split(" ")[2])
    assert raw[:4] == signer.key_hash
    assert len(raw) == 68
    verifier.public_key.verify(raw[4:], body.encode())  # signs exactly the text with its final newline
    assert v.verify_note(note, verifier) == body
    assert v.verify_note(note.encode(), verifier) == body
    checkpoint = v.verify_checkpoint(note, verifier, origin=ORIGIN)
    assert checkpoint == v.Checkpoint(ORIGIN, 5, v.root_hash(leaves), [])
    assert "origin" in rejects(v.verify_checkpoint, note, verifier, "other.org/log")
    empty = signer.sign(format_checkpoint(ORIGIN, 0, v.EMPTY_ROOT))
    assert v.verify_checkpoint(empty, verifier).tree_size == 0


def test_forged_altered_and_truncated_checkpoints_are_rejected(signer: NoteSigner, verifier: v.NoteVerifier) -> None:
    note, leaves = make_checkpoint(signer)
    body, sig_line = note.split("\n\n")
    origin, size, root = body.split("\n")
    other_root = base64.b64encode(v.root_hash(leaves[:4])).decode()
    forged_sig = sig_line[:-3] + ("A" if sig_line[-3] != "A" else "B") + sig_line[-2:]
    cases = {
        "tree size changed": f"{origin}\n6\n{root}\n\n{sig_line}",
        "root line changed": f"{origin}\n{size}\n{other_root}\n\n{sig_line}",
        "origin changed": f"other.org/log\n{size}\n{root}\n\n{sig_line}",
        "extension added": f"{origin}\n{size}\n{root}\nextra\n\n{sig_line}",
        "forged signature": f"{body}\n\n{forged_sig}",
        "no em dash": f"{body}\n\n{sig_line.replace(chr(0x2014), '-')}",
        "en dash": f"{body}\n\n{sig_line.replace(chr(0x2014), chr(0x2013))}",
        "no signature": f"{body}\n\n",
        "no blank line": f"{body}\n{sig_line}",
        "CRLF": note.replace("\n", "\r\n"),
        "no final newline": note[:-1],
        "wrong key name": note.replace(f"\u2014 {ORIGIN} ", "\u2014 other.org/log "),
        "signature padding stripped": note.replace("=\n", "\n"),
        "control character": note.replace("\n5\n", "\n5\x00\n"),
        "lone surrogate": note.replace("\n5\n", "\n5\udcff\n"),
    }
    for what, bad in cases.items():
        with pytest.raises(v.VerificationError):
            v.verify_checkpoint(bad, verifier)
        assert what
    raw = note.encode()
    for cut in range(len(raw)):  # every truncation, including cuts inside the multi-byte em dash
        with pytest.raises(v.VerificationError):
            v.verify_checkpoint(raw[:cut], verifier)
    for i in range(len(raw)):  # every single flipped bit anywhere in the note
        with pytest.raises(v.VerificationError):
            v.verify_checkpoint(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :], verifier)
    rejects(v.verify_checkpoint, b"\xff\xfe" + raw, verifier)
    rejects(v.verify_checkpoint, raw.replace(b"5", b"\xc3\x28"), verifier)


def test_signatures_by_other_keys_are_ignored_but_one_by_ours_is_required(
    signer: NoteSigner, verifier: v.NoteVerifier
) -> None:
    note, _ = make_checkpoint(signer)
    body, ours = note.split("\n\n")
    witness = parse_private_key(generate_private_key("witness.example/w1"))
    theirs = witness.sign(body + "\n").split("\n\n")[1]
    same_name = parse_private_key(generate_private_key(ORIGIN))  # same name, another key (a rotated key)
    same_name_sig = same_name.sign(body + "\n").split("\n\n")[1]
    assert v.verify_note(f"{body}\n\n{theirs}{ours}", verifier) == body + "\n"
    assert v.verify_note(f"{body}\n\n{ours}{theirs}{same_name_sig}", verifier) == body + "\n"
    assert "no signature by" in rejects(v.verify_note, f"{body}\n\n{theirs}{same_name_sig}", verifier)
    # A signature carrying our name and key ID that does not verify rejects the whole note, even next to a good one.
    bad_ours = ours.replace(ours.split(" ")[2], base64.b64encode(signer.key_hash + b"\x00" * 64).decode() + "\n")
    assert "does not verify" in rejects(v.verify_note, f"{body}\n\n{ours}{bad_ours}", verifier)
    rejects(v.verify_note, f"{body}\n\n{theirs * 100}{ours}", verifier)  # more than 100 signatures
    assert v.verify_note(f"{body}\n\n{theirs * 20}{ours}", verifier) == body + "\n"
    short = f"\u2014 {ORIGIN} " + base64.b64encode(signer.key_hash + b"\x00" * 10).decode() + "\n"
    assert "wrong length" in rejects(v.verify_note, f"{body}\n\n{short}", verifier)


def test_note_text_may_contain_empty_lines_and_signature_like_lines(
    signer: NoteSigner, verifier: v.NoteVerifier
) -> None:
    text = "first\n\n\u2014 someone AAAAAAAA\n\nlast\n"
    assert v.verify_note(signer.sign(text), verifier) == text
    for bad in ("no newline", "\n", "", "tab\there\n", "cr\r\n"):
        with pytest.raises(ValueError):
            signer.sign(bad)


def test_checkpoint_text_is_parsed_strictly() -> None:
    root = base64.b64encode(b"\x07" * 32).decode()
    assert v.parse_checkpoint(f"o\n0\n{root}\n") == v.Checkpoint("o", 0, b"\x07" * 32, [])
    assert v.parse_checkpoint(f"o\n12\n{root}\nx: 1\ny\n").extensions == ["x: 1", "y"]
    noncanonical = root[:-2] + "9="  # same bytes would need the last bits zero
    for bad in [
        f"o\n12\n{root}",
        "o\n12\n",
        f"\n12\n{root}\n",
        f"o\n012\n{root}\n",
        f"o\n+12\n{root}\n",
        f"o\n 12\n{root}\n",
        f"o\n1_2\n{root}\n",
        f"o\n\u0661\u0662\n{root}\n",
        f"o\n-1\n{root}\n",
        f"o\n{2**63}\n{root}\n",
        f"o\n12\n{root.rstrip('=')}\n",
        f"o\n12\n{noncanonical}\n",
        f"o\n12\n{base64.b64encode(b'x' * 31).decode()}\n",
        f"o\n12\n{root}\n\n",
        f"o\n12\n{root}\next\n\nmore\n",
    ]:
        rejects(v.parse_checkpoint, bad)
    with pytest.raises(ValueError):
        format_checkpoint("", 1, b"\x00" * 32)
    with pytest.raises(ValueError):
        format_checkpoint("a\nb", 1, b"\x00" * 32)
    with pytest.raises(ValueError):
        format_checkpoint("o", -1, b"\x00" * 32)
    with pytest.raises(ValueError):
        format_checkpoint("o", 1, b"\x00" * 31)


# ---------------------------------------------------------------------------------------------------------------
# Entries and files
# ---------------------------------------------------------------------------------------------------------------


def test_canonical_json_and_entry_check() -> None:
    entry = {"kind": "vouch", "b": [1, 2], "a": {"z": "Jalan Merdékà", "y": None}}
    text = v.canonical_json(entry)
    assert text == '{"a":{"y":null,"z":"Jalan Merdékà"},"b":[1,2],"kind":"vouch"}'
    v.check_entry(entry, text.encode())
    rejects(v.check_entry, entry, json.dumps(entry).encode())  # same JSON, another spelling
    rejects(v.check_entry, entry, json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())  # \u escapes
    rejects(v.check_entry, {**entry, "kind": "vouch2"}, text.encode())
    rejects(v.check_entry, {"x": float("nan")}, b'{"x":NaN}')
    rejects(v.check_entry, [1], b"[1]")


def test_check_file_streams_and_compares_hash_and_size(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # more than one read chunk
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    entry = {"media": {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}}
    v.check_file(path, entry)
    assert "size" in rejects(v.check_file, path, {"media": {**entry["media"], "size_bytes": len(data) + 1}})
    path.write_bytes(data[:-1] + b"\x00")
    assert "SHA-256" in rejects(v.check_file, path, entry)
    rejects(v.check_file, tmp_path / "missing.jpg", entry)
    rejects(v.check_file, path, {"kind": "vouch"})
    rejects(v.check_file, path, {"media": {"sha256": 5, "size_bytes": "1"}})


def test_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFIER_PY.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "verifier.py must not use relative imports"
            modules.add(node.module.split(".")[0])
    assert modules, "the import scan found nothing"
    outside = {m for m in modules if m not in sys.stdlib_module_names and m not in ("__future__", "cryptography")}
    assert outside == set()
    assert "cryptography" in modules


# ---------------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------------


def entry_for(i: int) -> dict:
    if i == 2:
        return {
            "kind": "evidence",
            "evidence_id": "ev-2",
            "media": {"sha256": hashlib.sha256(b"PHOTO").hexdigest(), "size_bytes": 5},
        }
    return {"kind": "vouch", "vouch_id": f"v-{i}", "note": "gotong royong ✓"}


class Log:
    """A small log built in the test, written out as the API's answers."""

    def __init__(self, signer: NoteSigner, n: int) -> None:
        self.signer = signer
        self.data = [v.canonical_json(entry_for(i)).encode() for i in range(n)]
        self.hashes = [v.leaf_hash(d) for d in self.data]

    def checkpoint(self, size: int) -> str:
        return self.signer.sign(format_checkpoint(self.signer.name, size, v.root_hash(self.hashes[:size])))

    def entry(self, i: int) -> dict:
        b64 = base64.b64encode
        return {
            "index": i,
            "leaf_data": b64(self.data[i]).decode(),
            "leaf_hash": b64(self.hashes[i]).decode(),
            "entry": entry_for(i),
        }

    def inclusion(self, i: int, size: int) -> dict:
        path = v.reference_inclusion_path(self.hashes[:size], i)
        b64 = base64.b64encode
        return {
            "index": i,
            "tree_size": size,
            "leaf_hash": b64(self.hashes[i]).decode(),
            "path": [b64(p).decode() for p in path],
        }

    def consistency(self, first: int, second: int) -> dict:
        path = v.reference_consistency_path(self.hashes[:second], first)
        return {"first": first, "second": second, "path": [base64.b64encode(p).decode() for p in path]}


@pytest.fixture
def files(tmp_path: Path, signer: NoteSigner) -> dict[str, Path]:
    log = Log(signer, 7)
    out = {
        "key": signer.verifier_key() + "\n",
        "cp5": log.checkpoint(5),
        "cp7": log.checkpoint(7),
        "entry": json.dumps(log.entry(2)),
        "proof": json.dumps(log.inclusion(2, 7)),
        "proof5": json.dumps(log.inclusion(2, 5)),
        "cons": json.dumps(log.consistency(5, 7)),
        "photo": "PHOTO",
    }
    paths = {}
    for name, text in out.items():
        paths[name] = tmp_path / name
        paths[name].write_text(text, encoding="utf-8")
    return paths


def run_cli(*args: str | Path, script: Path = VERIFIER_PY, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the verifier as an outsider would: isolated mode (-I), no PYTHONPATH, no project on sys.path."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-I", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_cli_inclusion_and_consistency_succeed_from_a_copy_outside_the_project(
    files: dict[str, Path], tmp_path: Path
) -> None:
    alone = tmp_path / "standalone"
    alone.mkdir()
    script = alone / "verifier.py"
    shutil.copy(VERIFIER_PY, script)
    f = files
    result = run_cli("inclusion", "--key", f["key"], "--checkpoint", f["cp7"], "--entry", f["entry"],
                     "--proof", f["proof"], "--file", f["photo"], script=script, cwd=alone)  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.startswith("OK: entry 2 is in example.org/log at tree size 7")
    assert result.stdout.count("\n") == 1
    assert "file" in result.stdout
    result = run_cli("consistency", "--key", f["key"], "--old", f["cp5"], "--new", f["cp7"], "--proof", f["cons"],
                     script=script, cwd=alone)  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.startswith("OK: ")
    assert "size 7" in result.stdout
    assert "size 5" in result.stdout


def test_cli_failures_print_one_line_and_no_traceback(
    capsys: pytest.CaptureFixture, files: dict[str, Path], tmp_path: Path
) -> None:
    f = files
    other_key = tmp_path / "other.key"
    other_key.write_text(parse_private_key(generate_private_key(ORIGIN)).verifier_key())
    forged = tmp_path / "forged"
    forged.write_text(f["cp7"].read_text().replace("\n7\n", "\n8\n"))
    truncated = tmp_path / "truncated"
    truncated.write_bytes(f["cp7"].read_bytes()[:-20])
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"index": 2, "leaf_data": ')
    bad_b64 = tmp_path / "bad_b64.json"
    bad_b64.write_text(f["proof"].read_text().replace('"path": ["', '"path": ["!!'))
    changed_entry = tmp_path / "changed.json"
    doc = json.loads(f["entry"].read_text())
    doc["entry"]["evidence_id"] = "ev-3"
    changed_entry.write_text(json.dumps(doc))
    not_utf8 = tmp_path / "not_utf8"
    not_utf8.write_bytes(b"\xff" + f["cp7"].read_bytes())
    other_photo = tmp_path / "other.jpg"
    other_photo.write_bytes(b"PHOTX")
    inc = ["inclusion", "--key", f["key"], "--checkpoint", f["cp7"], "--entry", f["entry"], "--proof", f["proof"]]

    def swap(args: list, flag: str, value: Path | str) -> list:
        out = list(args)
        out[out.index(flag) + 1] = value
        return out

    cases = [
        (swap(inc, "--key", other_key), "no signature by"),
        (swap(inc, "--key", tmp_path / "missing.key"), "cannot read key file"),
        (swap(inc, "--checkpoint", forged), "does not verify"),
        (swap(inc, "--checkpoint", truncated), ""),
        (swap(inc, "--checkpoint", not_utf8), "UTF-8"),
        (swap(inc, "--checkpoint", f["cp5"]), "tree size 7"),  # proof for 7, checkpoint of 5
        (swap(inc, "--entry", bad_json), "not valid JSON"),
        (swap(inc, "--entry", changed_entry), "canonical JSON"),
        (swap(inc, "--proof", bad_b64), "base64"),
        (swap(inc, "--proof", f["entry"]), "tree_size"),
        ([*inc, "--file", other_photo], "SHA-256"),
        ([*inc, "--file", tmp_path / "nope.jpg"], "cannot read file"),
        ([*inc, "--origin", "other.org/log"], "origin"),
        (
            ["consistency", "--key", f["key"], "--old", f["cp7"], "--new", f["cp5"], "--proof", f["cons"]],
            "proof is for",
        ),
        (
            ["consistency", "--key", f["key"], "--old", f["cp5"], "--new", forged, "--proof", f["cons"]],
            "does not verify",
        ),
        (["consistency", "--key", f["key"], "--old", f["cp5"], "--new", f["cp7"], "--proof", bad_json], "JSON"),
    ]
    for args, reason in cases[:4]:  # a few as real processes ...
        result = run_cli(*args)
        assert result.returncode == 1, (args, result)
        assert result.stdout.startswith("FAILED: ")
        assert reason in result.stdout
        assert result.stdout.count("\n") == 1
        assert "Traceback" not in result.stderr
        assert "Traceback" not in result.stdout
    for args, reason in cases:  # ... and all in-process (the same main())
        assert v.main([str(a) for a in args]) == 1, args
        out = capsys.readouterr().out
        assert out.startswith("FAILED: "), (args, out)
        assert reason in out, (args, out)
    usage = run_cli("inclusion", "--key", f["key"])
    assert usage.returncode == 2
    assert usage.stderr.startswith("FAILED: ")
    assert "Traceback" not in usage.stderr


def test_cli_reports_each_failure_reason(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    f = files
    assert v.main(["inclusion", "--key", str(f["key"]), "--checkpoint", str(f["cp5"]), "--entry", str(f["entry"]),
                   "--proof", str(f["proof5"])]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith("OK: entry 2 is in example.org/log at tree size 5")
    assert v.main(["inclusion", "--key", str(f["key"]), "--checkpoint", str(f["cp5"]), "--entry", str(f["entry"]),
                   "--proof", str(f["proof"])]) == 1  # fmt: skip
    assert capsys.readouterr().out == "FAILED: proof is for tree size 7, the checkpoint has size 5\n"


# ---------------------------------------------------------------------------------------------------------------
# fetch: against a real HTTP server (stdlib) answering what the API answers
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def http_log(signer: NoteSigner) -> Iterator[tuple[str, dict]]:
    log = Log(signer, 7)
    routes: dict = {
        "/v1/transparency/public-key": (200, "text/plain", signer.verifier_key() + "\n"),
        "/v1/transparency/checkpoint": (200, "text/plain", log.checkpoint(6)),
    }
    for i in range(7):
        routes[f"/v1/transparency/entries/{i}"] = (200, "application/json", json.dumps(log.entry(i)))
        proof = json.dumps(log.inclusion(i, 6)) if i < 6 else "{}"
        routes[f"/v1/transparency/proofs/inclusion?index={i}&tree_size=6"] = (200, "application/json", proof)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            not_found = json.dumps({"error": {"code": "not_found", "message": "no such entry"}})
            status, ctype, body = routes.get(self.path) or (404, "application/json", not_found)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_cli_fetch_checks_a_live_server(
    http_log: tuple[str, dict], files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    url, routes = http_log
    result = run_cli("fetch", "--url", url, "--index", "2", "--key", files["key"], "--file", files["photo"])
    assert (result.returncode, result.stderr) == (0, ""), result
    assert result.stdout.startswith("OK: entry 2 is in example.org/log at tree size 6")
    assert "not pinned" not in result.stdout

    assert v.main(["fetch", "--url", url, "--index", "0"]) == 0
    assert "not pinned" in capsys.readouterr().out  # the key came from the server itself

    other_key = tmp_path / "other.key"
    other_key.write_text(parse_private_key(generate_private_key(ORIGIN)).verifier_key())
    for args, reason in [
        (["--index", "2", "--key", str(other_key)], "no signature by"),  # the server's key is not the pinned one
        (["--index", "6", "--key", str(files["key"])], "not covered by the latest checkpoint"),
        (["--index", "2", "--file", str(tmp_path / "none")], "cannot read file"),
    ]:
        assert v.main(["fetch", "--url", url, *args]) == 1
        assert reason in capsys.readouterr().out
    assert v.main(["fetch", "--url", "file:///etc/passwd", "--index", "0"]) == 1
    assert "http" in capsys.readouterr().out

    routes["/v1/transparency/entries/3"] = (
        404,
        "application/json",
        '{"error": {"code": "not_found", "message": "gone"}}',
    )
    assert v.main(["fetch", "--url", url, "--index", "3"]) == 1
    assert "HTTP 404: gone" in capsys.readouterr().out
    routes["/v1/transparency/entries/3"] = (200, "application/json", json.dumps({"index": 3}))
    assert v.main(["fetch", "--url", url, "--index", "3"]) == 1
    assert "leaf_data" in capsys.readouterr().out

    good = routes["/v1/transparency/checkpoint"]
    routes["/v1/transparency/checkpoint"] = (200, "text/plain", good[2].replace("\n6\n", "\n7\n"))
    assert v.main(["fetch", "--url", url, "--index", "1"]) == 1  # the server's own key, a forged tree size
    assert "does not verify" in capsys.readouterr().out
    routes["/v1/transparency/checkpoint"] = good

    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    assert v.main(["fetch", "--url", f"http://127.0.0.1:{port}", "--index", "0"]) == 1
    assert "failed" in capsys.readouterr().out
