-- Signed checkpoints of the audit log (the Merkle tree head over its first `size` entries, signed with the
-- sandbox's Ed25519 key). Kept here so the pages and the exit report can show the newest; their proving power
-- comes from copies kept outside this database, which `sandkasse audit verify --checkpoint` checks against.

CREATE TABLE audit_checkpoints (
    id    BIGSERIAL PRIMARY KEY,
    size  BIGINT NOT NULL,
    time  TEXT NOT NULL,
    note  TEXT NOT NULL
);
