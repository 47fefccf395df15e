//! Captured output lines (`GET /api/services/{name}/logs`, `.../logs/follow`, `.../logs/download`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct LogsPage {
    pub lines: Vec<LogLine>,
    /// In `tail`, `before_id` and search reads: there are older lines (or matches) than these, or a
    /// search stopped early (`truncated`); pass this as `before_id` for the next older page. Absent:
    /// the start of the stored log was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before_id: Option<i64>,
    /// A search stopped after examining `MAX_SEARCH_SCAN` lines before it found `limit` matches:
    /// older matches may exist; `next_before_id` continues from where it stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional = nullable)]
    pub truncated: bool,
    /// Search reads: how many stored lines this request examined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned: Option<u64>,
}

/// The query of `GET /api/services/{name}/logs` and `.../logs/follow`: `tail` (the last N lines),
/// `after_id` + `limit` (paging forwards) or `before_id` + `limit` (paging backwards), optionally one
/// `stream` and lines since an RFC 3339 time. `q` searches (backwards from `before_id` or the newest
/// line) for lines containing it, or matching it with `regex=true`; case-insensitive unless
/// `case_sensitive=true`. The follow stream takes neither `before_id` nor a search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
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
    #[param(inline)]
    pub stream: Option<Stream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional = nullable)]
    pub regex: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional = nullable)]
    pub case_sensitive: bool,
}

/// Most lines one log read returns (`tail`, `limit`).
pub const MAX_LOG_LINES: u32 = 10_000;

/// Most stored lines one search examines; past it the page says `truncated` and where to go on.
pub const MAX_SEARCH_SCAN: u64 = 100_000;

/// Longest search text (`q`), bytes.
pub const MAX_SEARCH_BYTES: usize = 1024;

/// The query of `GET /api/services/{name}/logs/download`: optionally one stream.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub stream: Option<Stream>,
}
