-- Browser sessions of the pages, kept here so that a restart does not log everyone out and
-- every API process behind one balancer knows every session. `key` is the SHA-256 of the
-- cookie's value: whoever reads this table cannot use what they read.

CREATE TABLE sessions (
    key        TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_seen ON sessions (seen_at);
