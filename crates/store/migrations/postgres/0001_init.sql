-- Initial schema. Times are RFC 3339 UTC text in a fixed-width form (sorts in time order); ids are 32 hex chars.

CREATE TABLE orgs (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('vendor', 'authority', 'advisor', 'admin'))
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('vendor', 'authority', 'advisor', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE cases (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);

CREATE TABLE case_members (
    case_id TEXT NOT NULL REFERENCES cases (id),
    org_id  TEXT NOT NULL REFERENCES orgs (id),
    PRIMARY KEY (case_id, org_id)
);
CREATE INDEX case_members_org ON case_members (org_id);

CREATE TABLE models (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases (id),
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    scenario        TEXT NOT NULL,
    model_sha256    TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    inspection_json TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX models_case ON models (case_id, created_at);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    model_id      TEXT NOT NULL REFERENCES models (id),
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    created_by    TEXT NOT NULL REFERENCES users (id),
    params_json   TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress_rows BIGINT NOT NULL CHECK (progress_rows >= 0),
    total_rows    BIGINT NOT NULL CHECK (total_rows >= 0),
    cause         TEXT,
    report_sha256 TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    CHECK (progress_rows <= total_rows),
    CHECK ((state = 'succeeded') = (report_sha256 IS NOT NULL))
);
CREATE INDEX runs_state ON runs (state, created_at);
CREATE INDEX runs_case ON runs (case_id, created_at);

CREATE TABLE criteria (
    case_id  TEXT PRIMARY KEY REFERENCES cases (id),
    json     TEXT NOT NULL,
    fixed_by TEXT NOT NULL REFERENCES users (id),
    fixed_at TEXT NOT NULL
);

-- The audit chain. No foreign keys: an entry records what was asked, including requests for things that don't
-- exist, and must never be refused. The application never updates or deletes these rows.
CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY,
    time       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    org        TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    case_id    TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_case ON audit (case_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_time ON audit (time);
