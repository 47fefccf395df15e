-- Background jobs (custom-restart workflows). The request and the steps are kept whole as JSON (the
-- wire shapes); the columns that are filtered or sorted on are plain.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    service      TEXT NOT NULL,
    origin       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    request      TEXT NOT NULL,
    steps        TEXT NOT NULL,
    error        TEXT
);
CREATE INDEX jobs_service ON jobs (service, id);
CREATE INDEX jobs_status ON jobs (status, id);
