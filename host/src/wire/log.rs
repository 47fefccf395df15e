//! Captured output lines (`GET /api/services/{name}/logs`, `.../logs/follow`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One captured output line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct LogLine {
    pub id: i64,
    pub service: String,
    pub stream: Stream,
    /// RFC 3339 with microseconds, UTC.
    pub time: String,
    pub line: String,
    /// True when this is a piece of an over-long line that continues in the next record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// `GET /api/services/{name}/logs`: oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct LogsPage {
    pub lines: Vec<LogLine>,
}

/// The query of `GET /api/services/{name}/logs` and `.../logs/follow`: `tail` (the last N lines) or
/// `after_id` + `limit` (paging forwards), optionally one `stream` and lines since an RFC 3339 time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// Most lines one log read returns (`tail`, `limit`).
pub const MAX_LOG_LINES: u32 = 10_000;
