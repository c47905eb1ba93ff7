#!/usr/bin/env bash
# Peak memory of `sandkasse audit verify` on a long audit chain (issue 12, item 5).
#
# Builds a SQLite database whose chain has N entries shaped like the anonymous refusals of the
# attack (300-character paths), written directly (valid hashes, seconds instead of hours), then
# runs `audit verify` under /usr/bin/time and prints its peak resident memory.
#
#   scripts/audit-verify-memory.sh [N] [BINARY]     (defaults: 140000, target/debug/sandkasse)
set -euo pipefail
n=${1:-140000}
bin=${2:-target/debug/sandkasse}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" users add --org Datatilsynet --role advisor --name Dorte --data-dir "$dir" >/dev/null
python3 - "$dir/sandkasse.db" "$n" <<'PY'
import hashlib, sqlite3, struct, sys
db, n = sys.argv[1], int(sys.argv[2])
def field(h, s):
    b = s.encode()
    h.update(struct.pack(">Q", len(b))); h.update(b)
con = sqlite3.connect(db)
# Continue after whatever is there already (`users add` may have written an entry).
head = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
start, prev = (head[0] + 1, head[1]) if head else (1, "0" * 64)
rows = []
for seq in range(start, start + n):
    e = dict(time="2026-11-29T12:%02d:%02d.%06dZ" % (seq // 60 % 60, seq % 60, seq % 1000000),
             actor="anonymous", org="", role="", action="POST /api/v1/cases/{case}/models",
             object="/api/v1/cases/" + ("x" * 260) + "/%08d/models" % seq, outcome="401",
             request_id="%026d" % seq)
    h = hashlib.sha256(b"sandkasse-audit-v1\0")
    h.update(struct.pack(">q", seq))
    for k in ("time", "actor", "org", "role", "action", "object", "outcome", "request_id"):
        field(h, e[k])
    h.update(b"\0")
    field(h, prev)
    digest = h.hexdigest()
    rows.append((seq, e["time"], e["actor"], e["org"], e["role"], e["action"], e["object"], e["outcome"],
                 e["request_id"], None, prev, digest))
    prev = digest
con.executemany("INSERT INTO audit (seq, time, actor, org, role, action, object, outcome, request_id, case_id, "
                "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
con.commit()
PY
/usr/bin/time -f "peak RSS %M KiB, %e s" "$bin" audit verify --data-dir "$dir"
