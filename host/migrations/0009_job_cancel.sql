-- Job cancellation and job progress events: jobs gain the status 'cancelled', events the kind 'job' (a
-- custom-restart job started, finished a step, ended). SQLite cannot change a CHECK constraint in place,
-- so both tables are rebuilt with the same columns, rows and ids.
CREATE TABLE jobs_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    service      TEXT NOT NULL,
    origin       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted', 'cancelled')),
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    request      TEXT NOT NULL,
    steps        TEXT NOT NULL,
    error        TEXT
);
INSERT INTO jobs_new (id, kind, service, origin, status, created_at, started_at, finished_at, request, steps, error)
    SELECT id, kind, service, origin, status, created_at, started_at, finished_at, request, steps, error FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_service ON jobs (service, id);
CREATE INDEX jobs_status ON jobs (status, id);

CREATE TABLE events_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service    TEXT NOT NULL,
    time       TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    pid        INTEGER,
    exit_code  INTEGER,
    signal     TEXT,
    reason     TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'lifecycle' CHECK (kind IN ('lifecycle', 'health', 'caddy', 'job')),
    health     TEXT
);
INSERT INTO events_new (id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health)
    SELECT id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_service ON events (service, id);
