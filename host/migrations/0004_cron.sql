-- Cron jobs: the spec is kept whole as JSON, like services.
CREATE TABLE cron_jobs (
    name        TEXT PRIMARY KEY NOT NULL,
    spec        TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('api', 'config')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- The latest fire time each job has claimed (RFC 3339, UTC, microseconds: lexical order = time order).
-- Claiming a fire time is one conditional upsert, so a slot is run at most once, whoever fires it
-- (the scheduler, a tick, catch-up at boot) and however many of them race.
CREATE TABLE cron_slots (
    job        TEXT PRIMARY KEY NOT NULL,
    last_slot  TEXT NOT NULL
);

CREATE TABLE cron_executions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    trigger       TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'tick', 'retry', 'catch_up')),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'stopped', 'skipped')),
    attempt       INTEGER NOT NULL DEFAULT 0,
    scheduled_at  TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    ended_at      TEXT,
    duration_ms   INTEGER,
    pid           INTEGER,
    exit_code     INTEGER,
    signal        TEXT,
    stdout        TEXT NOT NULL DEFAULT '',
    stdout_tail   TEXT NOT NULL DEFAULT '',
    stdout_bytes  INTEGER NOT NULL DEFAULT 0,
    stderr        TEXT NOT NULL DEFAULT '',
    stderr_tail   TEXT NOT NULL DEFAULT '',
    stderr_bytes  INTEGER NOT NULL DEFAULT 0,
    log_file      TEXT,
    max_rss_bytes INTEGER,
    cpu_time_ms   INTEGER,
    message       TEXT
);
CREATE INDEX cron_executions_job ON cron_executions (job, id);
