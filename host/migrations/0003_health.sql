-- Health: events carry a kind (lifecycle or health) and the new health; every check result is kept.
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'lifecycle' CHECK (kind IN ('lifecycle', 'health'));
ALTER TABLE events ADD COLUMN health TEXT;

CREATE TABLE health_checks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service    TEXT NOT NULL,
    time       TEXT NOT NULL,
    result     TEXT NOT NULL,
    passed     INTEGER NOT NULL,
    message    TEXT NOT NULL,
    latency_ms INTEGER NOT NULL
);
CREATE INDEX health_checks_service ON health_checks (service, id);
