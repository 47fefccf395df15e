-- The event bus: every stored topic lives in the events table under one id sequence, so a subscriber
-- resumes from one id whatever it follows. Service events keep their columns; other topics (cron,
-- caddy apply results, plugin, policy, agent) have no service and keep their payload as JSON in `data`.
-- SQLite cannot relax NOT NULL or change a CHECK in place, so the table is rebuilt with the same rows
-- and ids.
CREATE TABLE events_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service    TEXT,
    time       TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    pid        INTEGER,
    exit_code  INTEGER,
    signal     TEXT,
    reason     TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL DEFAULT 'lifecycle'
               CHECK (kind IN ('lifecycle', 'health', 'caddy', 'job', 'cron', 'plugin', 'policy', 'agent')),
    health     TEXT,
    data       TEXT
);
INSERT INTO events_new (id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health)
    SELECT id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_service ON events (service, id);
