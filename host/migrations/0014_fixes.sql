-- Auto-fix records (issue 13): one row per fix or restore of a service or cron job. The record is kept
-- whole as JSON (the wire `FixView`: incident, proposal, diffs, decisions, results); the columns that
-- are filtered on are plain. Numbered 0014: 0013 is taken by the LLM gateway's migration.
CREATE TABLE fixes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('service', 'cron-job')),
    target       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX fixes_target ON fixes (target_kind, target, id);
