//! SQL of the LLM gateway's usage (`llm_usage`): one row per UTC day, model and purpose, added to
//! after every call; today's tokens per model or in all (the daily budgets) and a day's rows. Knows
//! nothing of providers; days are `YYYY-MM-DD` strings.

use sqlx::Row;

use super::{Result, Store};

/// One day's usage of one model for one purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmUsageRow {
    pub model: String,
    pub purpose: String,
    pub calls: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
}

/// One finished call to add.
#[derive(Clone, Copy, Debug)]
pub struct LlmCall<'a> {
    pub day: &'a str,
    pub model: &'a str,
    pub purpose: &'a str,
    pub failed: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
}

fn as_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn record_llm_call(&self, c: &LlmCall<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO llm_usage (day, model, purpose, calls, errors, input_tokens, output_tokens, latency_ms)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)
             ON CONFLICT (day, model, purpose) DO UPDATE SET
                calls = calls + 1,
                errors = errors + excluded.errors,
                input_tokens = input_tokens + excluded.input_tokens,
                output_tokens = output_tokens + excluded.output_tokens,
                latency_ms = latency_ms + excluded.latency_ms",
        )
        .bind(c.day)
        .bind(c.model)
        .bind(c.purpose)
        .bind(i64::from(c.failed))
        .bind(as_i64(c.input_tokens))
        .bind(as_i64(c.output_tokens))
        .bind(as_i64(c.latency_ms))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tokens (in + out) used on `day` by `model`, or by every model.
    pub async fn llm_tokens_used(&self, day: &str, model: Option<&str>) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(input_tokens + output_tokens), 0) FROM llm_usage
             WHERE day = ?1 AND (?2 IS NULL OR model = ?2)",
        )
        .bind(day)
        .bind(model)
        .fetch_one(&self.pool)
        .await?;
        Ok(as_u64(row.get(0)))
    }

    /// Every row of `day`, by model then purpose.
    pub async fn llm_usage(&self, day: &str) -> Result<Vec<LlmUsageRow>> {
        let rows = sqlx::query(
            "SELECT model, purpose, calls, errors, input_tokens, output_tokens, latency_ms
             FROM llm_usage WHERE day = ?1 ORDER BY model, purpose",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| LlmUsageRow {
                model: r.get(0),
                purpose: r.get(1),
                calls: as_u64(r.get(2)),
                errors: as_u64(r.get(3)),
                input_tokens: as_u64(r.get(4)),
                output_tokens: as_u64(r.get(5)),
                latency_ms: as_u64(r.get(6)),
            })
            .collect())
    }
}
