//! The logs table: captured output lines of services. Inserts come in batches from the log pipeline's
//! single writer (and boot-time recovery from the files); reads serve the API (tail, paging by id both
//! ways, filters; search and download read through the same query) and recovery (`newest_log_time`); pruning enforces retention.

use std::sync::OnceLock;

use sqlx::Row;

use super::{Result, Store, StoreError, fmt_time};
use crate::wire::{LogLine, Stream};

/// A log line before it has an id.
#[derive(Clone, Debug, PartialEq)]
pub struct NewLogLine {
    pub service: String,
    pub stream: Stream,
    pub time: String,
    pub line: String,
    pub partial: bool,
}

/// Which lines of one service to read. `stream`, `since` (inclusive), `after_id` and `before_id`
/// (both exclusive) filter; then `tail` picks the newest `tail` of the matches, or, without `tail`, the
/// oldest `limit` of them. Either way the answer is oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct LogQuery {
    pub service: String,
    pub stream: Option<Stream>,
    pub since: Option<String>,
    pub after_id: Option<i64>,
    pub before_id: Option<i64>,
    pub tail: Option<u32>,
    pub limit: u32,
}

impl LogQuery {
    /// All lines of `service`, oldest first, 100 at a time; set the other fields as needed.
    pub fn new(service: impl Into<String>) -> LogQuery {
        LogQuery {
            service: service.into(),
            stream: None,
            since: None,
            after_id: None,
            before_id: None,
            tail: None,
            limit: 100,
        }
    }
}

const COLUMNS: &str = "id, service, stream, time, line, partial";
/// Rows per INSERT statement: a power of two so every batch is made of at most
/// `log2(MAX_ROWS) + 1` statement shapes, which all stay in the prepared-statement cache.
/// 2048 rows * 5 = 10240 parameters, well under SQLite's limit of 32766.
const MAX_ROWS: usize = 2048;
const _: () = assert!(5 * MAX_ROWS <= 32766);
/// Rows per DELETE while pruning, so retention never holds the write lock for long.
const PRUNE_CHUNK: i64 = 5000;

/// `INSERT ... VALUES (...),(...)` for 1, 2, 4, ... MAX_ROWS rows.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = Vec::new();
        let mut n = 1;
        while n <= MAX_ROWS {
            let values = vec!["(?, ?, ?, ?, ?)"; n].join(", ");
            all.push(format!(
                "INSERT INTO logs (service, stream, time, line, partial) VALUES {values}"
            ));
            n *= 2;
        }
        all
    });
    &all[rows.trailing_zeros() as usize]
}

/// Times are compared as text, which only orders correctly in the stored form (UTC, microseconds);
/// user-given RFC 3339 times are brought to it. Anything unparsable is used as is.
fn normalize_time(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(t) => fmt_time(t.with_timezone(&chrono::Utc)),
        Err(_) => t.to_string(),
    }
}

fn parse_stream(s: &str) -> Result<Stream> {
    match s {
        "stdout" => Ok(Stream::Stdout),
        "stderr" => Ok(Stream::Stderr),
        _ => Err(StoreError::Corrupt(format!("unknown log stream {s:?}"))),
    }
}

fn to_line(r: sqlx::sqlite::SqliteRow) -> Result<LogLine> {
    Ok(LogLine {
        id: r.get(0),
        service: r.get(1),
        stream: parse_stream(r.get(2))?,
        time: r.get(3),
        line: r.get(4),
        partial: r.get(5),
    })
}

impl Store {
    /// Inserts `lines` in one transaction; returns them with their ids, in the same order (ids ascend).
    pub async fn insert_logs(&self, lines: &[NewLogLine]) -> Result<Vec<LogLine>> {
        let mut stored = Vec::with_capacity(lines.len());
        if lines.is_empty() {
            return Ok(stored);
        }
        let mut tx = self.pool.begin().await?;
        let mut rest = lines;
        while !rest.is_empty() {
            let n = if rest.len() >= MAX_ROWS {
                MAX_ROWS
            } else {
                1 << rest.len().ilog2()
            };
            let (chunk, tail) = rest.split_at(n);
            let mut query = sqlx::query(insert_sql(n));
            for l in chunk {
                query = query
                    .bind(l.service.as_str())
                    .bind(l.stream.as_str())
                    .bind(l.time.as_str())
                    .bind(l.line.as_str())
                    .bind(l.partial);
            }
            // One multi-row INSERT inside our write transaction takes consecutive AUTOINCREMENT ids in
            // VALUES order, so the last id gives all of them (RETURNING would cost a result row each).
            let last = query.execute(&mut *tx).await?.last_insert_rowid();
            let first = last - (n as i64 - 1);
            stored.extend(chunk.iter().zip(first..).map(|(l, id)| LogLine {
                id,
                service: l.service.clone(),
                stream: l.stream,
                time: l.time.clone(),
                line: l.line.clone(),
                partial: l.partial,
            }));
            rest = tail;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// See [`LogQuery`].
    pub async fn query_logs(&self, q: &LogQuery) -> Result<Vec<LogLine>> {
        let mut filter = String::from("service = ?");
        if q.stream.is_some() {
            filter.push_str(" AND stream = ?");
        }
        if q.since.is_some() {
            filter.push_str(" AND time >= ?");
        }
        if q.after_id.is_some() {
            filter.push_str(" AND id > ?");
        }
        if q.before_id.is_some() {
            filter.push_str(" AND id < ?");
        }
        let sql = match q.tail {
            Some(_) => format!(
                "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM logs WHERE {filter} ORDER BY id DESC LIMIT ?) ORDER BY id"
            ),
            None => format!("SELECT {COLUMNS} FROM logs WHERE {filter} ORDER BY id LIMIT ?"),
        };
        let mut query = sqlx::query(&sql).bind(&q.service);
        if let Some(s) = q.stream {
            query = query.bind(s.as_str());
        }
        if let Some(since) = &q.since {
            query = query.bind(normalize_time(since));
        }
        if let Some(id) = q.after_id {
            query = query.bind(id);
        }
        if let Some(id) = q.before_id {
            query = query.bind(id);
        }
        let rows = query
            .bind(i64::from(q.tail.unwrap_or(q.limit)))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(to_line).collect()
    }

    /// The newest stored time among a service's last lines by id, and the streams that have a line at
    /// that time (log recovery's starting point); None without lines.
    pub async fn newest_log_time(&self, service: &str) -> Result<Option<(String, Vec<Stream>)>> {
        // Two readers commit in their own order, so the newest time is not always the highest id; the
        // last few thousand ids cover every batch that can have been in flight together.
        let rows = sqlx::query(
            "SELECT time, stream FROM logs WHERE service = ? ORDER BY id DESC LIMIT 5000",
        )
        .bind(service)
        .fetch_all(&self.pool)
        .await?;
        let mut newest: Option<(String, Vec<Stream>)> = None;
        for r in rows {
            let time: String = r.get(0);
            let stream = parse_stream(r.get(1))?;
            match &mut newest {
                Some((t, streams)) if *t == time => {
                    if !streams.contains(&stream) {
                        streams.push(stream);
                    }
                }
                Some((t, _)) if *t > time => {}
                _ => newest = Some((time, vec![stream])),
            }
        }
        Ok(newest)
    }

    /// Deletes lines with a time before `older_than` (RFC 3339); returns how many went.
    pub async fn prune_logs(&self, older_than: &str) -> Result<u64> {
        let cutoff = normalize_time(older_than);
        let mut total = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time < ? LIMIT ?)",
            )
            .bind(&cutoff)
            .bind(PRUNE_CHUNK)
            .execute(&self.pool)
            .await?
            .rows_affected();
            total += done;
            if done < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}
