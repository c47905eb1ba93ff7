#!/usr/bin/env python3
"""An independent check of Sandkasse's audit log and its signed checkpoints.

Written from the public specifications, sharing no code with the Rust implementation:
  - each entry's chain hash: SHA-256 over "sandkasse-audit-v1\\0", seq as 8 big-endian bytes,
    each text field as an 8-byte big-endian length and its bytes, the optional case behind a 0/1 tag,
    then prev_hash (crates/store/src/audit.rs documents the encoding);
  - the Merkle tree of RFC 9162 section 2.1 (leaf = SHA-256(0x00 || entry hash bytes),
    node = SHA-256(0x01 || left || right), split at the largest power of two below n);
  - the checkpoint as a C2SP signed-note holding a C2SP tlog-checkpoint, signed with Ed25519
    (verified by OpenSSL, through pyca/cryptography).

    audit_reference.py ENTRIES.json CHECKPOINT.txt VERIFIER_KEY

ENTRIES.json is a JSON list of audit entries oldest first (the `entries` of GET /api/v1/audit pages).
Exits 0 printing the checked size and root, or 1 naming what failed.
"""

import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def entry_hash(e):
    h = hashlib.sha256()
    h.update(b"sandkasse-audit-v1\0")
    h.update(struct.pack(">q", e["seq"]))
    for f in ["time", "actor", "org", "role", "action", "object", "outcome", "request_id"]:
        b = e[f].encode()
        h.update(struct.pack(">Q", len(b)) + b)
    if e.get("case_id") is None:
        h.update(b"\0")
    else:
        b = e["case_id"].encode()
        h.update(b"\1" + struct.pack(">Q", len(b)) + b)
    b = e["prev_hash"].encode()
    h.update(struct.pack(">Q", len(b)) + b)
    return h.hexdigest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\1" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def main():
    entries_path, note_path, vkey = sys.argv[1:4]
    entries = json.load(open(entries_path))
    note = open(note_path, encoding="utf-8").read()

    name, key_id, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    if len(key) != 33 or key[0] != 1:
        fail("the verifier key is not an Ed25519 key")
    want_id = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if want_id.hex() != key_id:
        fail("the verifier key's id does not match its key")

    body, sep, sigs = note.rpartition("\n\n")
    if not sep:
        fail("the checkpoint has no blank line before its signatures")
    body += "\n"
    signed = False
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            fail("a signature line does not start with an em dash")
        who, sig = line[2:].split(" ", 1)
        sig = base64.b64decode(sig)
        if who != name or sig[:4] != want_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[4:], body.encode())
        except InvalidSignature:
            fail("the checkpoint's signature does not verify")
        signed = True
    if not signed:
        fail("the checkpoint carries no signature by this key")

    lines = body.rstrip("\n").split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    if origin != name:
        fail(f"the checkpoint is of log {origin!r}, not {name!r}")

    prev = "0" * 64
    for i, e in enumerate(entries):
        if e["seq"] != i + 1:
            fail(f"entry {i + 1} is missing or out of order (found seq {e['seq']})")
        if e["prev_hash"] != prev:
            fail(f"entry {e['seq']} is not chained to its predecessor")
        if entry_hash(e) != e["hash"]:
            fail(f"entry {e['seq']}'s content does not match its hash")
        prev = e["hash"]
    if len(entries) < size:
        fail(f"the log has {len(entries)} entries, the checkpoint covers {size}")
    leaves = [hashlib.sha256(b"\0" + bytes.fromhex(e["hash"])).digest() for e in entries[:size]]
    if mth(leaves) != root:
        fail(f"the first {size} entries do not have the checkpoint's root")
    print(f"OK: {len(entries)} entries chained; the first {size} have root {root.hex()}, signed by {name}")


if __name__ == "__main__":
    main()
