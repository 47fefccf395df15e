-- The command policy's decisions: one row per question, written before the answer is acted on, so
-- every command tend ran (or refused to run) on someone's behalf is accounted for.
CREATE TABLE policy_audit (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    time                   TEXT NOT NULL,
    origin                 TEXT NOT NULL,
    service                TEXT,
    command_type           TEXT NOT NULL CHECK (command_type IN ('shell', 'make', 'exec')),
    command                TEXT NOT NULL,
    argv                   TEXT NOT NULL,  -- JSON array of strings
    cwd                    TEXT NOT NULL,
    environment            TEXT NOT NULL,
    is_safe                INTEGER NOT NULL,
    allowed_in_production  INTEGER NOT NULL,
    decision               TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),
    reason                 TEXT NOT NULL,
    plugin                 TEXT NOT NULL,
    plugin_version         TEXT
);

CREATE INDEX policy_audit_by_service ON policy_audit (service, id);
