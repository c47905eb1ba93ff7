-- Findings and notes that advisors and authorities write on a case, a model or a run. Append-only: a
-- correction is a new row that names the one it supersedes (at most once, so corrections form a line, not a
-- tree), and both stay. The service never updates or deletes a row here.

CREATE TABLE findings (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    severity    TEXT NOT NULL,
    body        TEXT NOT NULL,
    links_json  TEXT NOT NULL,
    author      TEXT NOT NULL REFERENCES users (id),
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    supersedes  TEXT UNIQUE REFERENCES findings (id)
);
CREATE INDEX findings_case ON findings (case_id, created_at);
