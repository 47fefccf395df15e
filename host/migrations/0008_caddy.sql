-- Caddy integration: events gain the kind 'caddy' (applying the proxy config failed or recovered for a
-- service's route). SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the
-- same columns, rows and ids.
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
    kind       TEXT NOT NULL DEFAULT 'lifecycle' CHECK (kind IN ('lifecycle', 'health', 'caddy')),
    health     TEXT
);
INSERT INTO events_new (id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health)
    SELECT id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_service ON events (service, id);
