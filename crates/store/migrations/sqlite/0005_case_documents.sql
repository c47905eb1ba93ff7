-- The versioned documents of a case: its sandbox plan and its requirements checklist. Every save is a new row and
-- the newest version of a kind is the one in force; the service never updates or deletes a row here, so every
-- earlier version stays readable (a run records the plan version in force when it was started).

CREATE TABLE case_documents (
    case_id  TEXT NOT NULL REFERENCES cases (id),
    kind     TEXT NOT NULL,
    version  BIGINT NOT NULL,
    body     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    saved_by TEXT NOT NULL REFERENCES users (id),
    saved_at TEXT NOT NULL,
    PRIMARY KEY (case_id, kind, version)
);
