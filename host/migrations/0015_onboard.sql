-- Onboarding jobs (issue 14): one row per `POST /api/onboard`. The record is kept whole as JSON (the
-- wire `OnboardJob`: plan, steps, what was registered); the columns that are filtered on are plain.
CREATE TABLE onboard_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX onboard_jobs_status ON onboard_jobs (status);
