-- Dashboard sign-in sessions. The cookie carries a random secret; only its SHA-256 is stored, so a copy
-- of the database signs nobody in. `id` is a separate random public name, shown in lists and used to
-- revoke. Times are RFC 3339 UTC (lexical order is time order); a row past `expires_at` is refused and
-- pruned.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    user_agent    TEXT
);

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
