-- LLM gateway usage per UTC day, model (the `[llm.models]` name) and purpose (`fix`, `onboard`, `chat`,
-- `test`): calls (failed ones included), failures, tokens in and out, summed latency. Kept so that the
-- daily token budgets hold across a restart; one small row per day, model and purpose.
CREATE TABLE llm_usage (
    day           TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    calls         INTEGER NOT NULL DEFAULT 0,
    errors        INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model, purpose)
) WITHOUT ROWID;
