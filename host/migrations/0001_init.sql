-- Services: the spec is kept whole as JSON so fields added by later features never need a data migration.
CREATE TABLE services (
    name        TEXT PRIMARY KEY NOT NULL,
    spec        TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('api', 'config')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Last known runtime of each service, so a restarted daemon can find what its predecessor left running.
CREATE TABLE runtime (
    service       TEXT PRIMARY KEY NOT NULL,
    status        TEXT NOT NULL,
    pid           INTEGER,
    pid_start     INTEGER,          -- /proc/<pid>/stat starttime (clock ticks since boot): guards against pid reuse
    instance      TEXT,             -- TEND_INSTANCE marker given to the process tree
    restart_count INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    service   TEXT NOT NULL,
    time      TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state  TEXT NOT NULL,
    pid       INTEGER,
    exit_code INTEGER,
    signal    TEXT,
    reason    TEXT NOT NULL
);
CREATE INDEX events_service ON events (service, id);

CREATE TABLE logs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    service  TEXT NOT NULL,
    stream   TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    time     TEXT NOT NULL,
    line     TEXT NOT NULL,
    partial  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX logs_service ON logs (service, id);
