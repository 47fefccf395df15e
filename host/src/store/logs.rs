//! The logs: captured output lines of services, stored in chunks (`log_chunks`, one row per batch of
//! lines of one stream read at one time; migration `0018_log_chunks.sql` has the row format). Every
//! line keeps its own id (a chunk holds the consecutive ids `first_id ..= last_id`, taken from
//! `log_ids`), so callers see lines, never chunks. Inserts come in batches from the log pipeline's
//! single writer (and boot-time recovery from the files); reads serve the API (tail, paging by id both
//! ways, filters; search and download read through the same query) and recovery (`newest_log_time`);
//! pruning enforces retention, a chunk at a time (all lines of a chunk share one time).

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

/// Lines of one service and stream read at one time, before they have ids: what the log pipeline
/// stores per read chunk. Stored as one or more rows of `log_chunks` (see [`MAX_CHUNK_LINES`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NewLogChunk {
    pub service: String,
    pub stream: Stream,
    pub time: String,
    /// The lines in order, each followed by `\n`; a line never holds a `\n` itself.
    pub text: String,
    /// How many lines `text` holds.
    pub lines: u32,
    /// Positions (0-based, ascending) of the lines that are partial pieces of a longer line.
    pub partials: Vec<u32>,
}

/// Most lines in one row. Queries bound their scan of the `(service, last_id)` index with it: a row
/// holding a line below an id `b` has `last_id < b + MAX_CHUNK_LINES`. The migration cuts old lines
/// at the same size and the table checks it.
pub const MAX_CHUNK_LINES: usize = 4096;
const ROW_COLUMNS: &str = "first_id, service, stream, time, text, partials, last_id";
/// Rows per INSERT statement: a power of two so every batch is made of at most
/// `log2(MAX_ROWS) + 1` statement shapes, which all stay in the prepared-statement cache.
const MAX_ROWS: usize = 256;
const INSERT_PARAMS: usize = 8;
const _: () = assert!(INSERT_PARAMS * MAX_ROWS <= 32766);
/// Rows per DELETE while pruning, so retention never holds the write lock for long.
const PRUNE_ROWS: i64 = 500;
/// `newest_log_time` looks at the lines with the last this many ids.
const NEWEST_WINDOW: u64 = 5000;
/// Rows fetched by the first query of a read; each further query fetches twice as many, up to
/// `MAX_PAGE_ROWS`, until the read has its lines.
const FIRST_PAGE_ROWS: i64 = 4;
const MAX_PAGE_ROWS: i64 = 256;

/// `INSERT ... VALUES (...),(...)` for 1, 2, 4, ... MAX_ROWS rows.
fn insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = Vec::new();
        let mut n = 1;
        while n <= MAX_ROWS {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
            all.push(format!(
                "INSERT INTO log_chunks (first_id, last_id, service, stream, time, lines, text, partials) VALUES {values}"
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

/// One row to insert: at most `MAX_CHUNK_LINES` lines of a [`NewLogChunk`].
struct RowIn<'a> {
    first_id: i64,
    lines: usize,
    chunk: &'a NewLogChunk,
    text: &'a str,
    partials: Option<String>,
}

/// Cuts `chunk` into rows of at most `MAX_CHUNK_LINES` lines, the first taking id `first_id`.
fn rows_of<'a>(chunk: &'a NewLogChunk, first_id: i64, out: &mut Vec<RowIn<'a>>) {
    let mut text = chunk.text.as_str();
    let mut first = 0usize;
    let total = chunk.lines as usize;
    while first < total {
        let lines = (total - first).min(MAX_CHUNK_LINES);
        let len = if first + lines == total {
            text.len()
        } else {
            memchr::memchr_iter(b'\n', text.as_bytes())
                .nth(lines - 1)
                .map_or(text.len(), |end| end + 1)
        };
        let (head, rest) = text.split_at(len);
        let partials: Vec<String> = chunk
            .partials
            .iter()
            .map(|&p| p as usize)
            .filter(|p| (first..first + lines).contains(p))
            .map(|p| (p - first).to_string())
            .collect();
        out.push(RowIn {
            first_id: first_id + first as i64,
            lines,
            chunk,
            text: head,
            partials: (!partials.is_empty()).then(|| partials.join(",")),
        });
        text = rest;
        first += lines;
    }
}

/// A stored row, read back.
struct RowOut {
    first_id: i64,
    last_id: i64,
    service: String,
    stream: Stream,
    time: String,
    text: String,
    partials: Vec<u32>,
}

impl RowOut {
    fn from_row(r: sqlx::sqlite::SqliteRow) -> Result<RowOut> {
        let partials: Option<String> = r.get(5);
        let partials = match partials {
            None => Vec::new(),
            Some(p) => p
                .split(',')
                .map(|n| {
                    n.parse()
                        .map_err(|_| StoreError::Corrupt(format!("bad log partials {p:?}")))
                })
                .collect::<Result<_>>()?,
        };
        Ok(RowOut {
            first_id: r.get(0),
            last_id: r.get(6),
            service: r.get(1),
            stream: parse_stream(r.get(2))?,
            time: r.get(3),
            text: r.get(4),
            partials,
        })
    }

    /// The row's lines as `(id, text, partial)`, oldest first.
    fn lines(&self) -> Vec<(i64, &str, bool)> {
        self.text
            .split_terminator('\n')
            .enumerate()
            .map(|(i, text)| {
                let partial = self.partials.binary_search(&(i as u32)).is_ok();
                (self.first_id + i as i64, text, partial)
            })
            .collect()
    }

    fn line(&self, id: i64, text: &str, partial: bool) -> LogLine {
        LogLine {
            id,
            service: self.service.clone(),
            stream: self.stream,
            time: self.time.clone(),
            line: text.to_string(),
            partial,
        }
    }
}

impl Store {
    /// Inserts `chunks` in one transaction; returns the id of the first line of each, in the same order
    /// (a chunk's lines take consecutive ids, and ids ascend across chunks).
    pub async fn insert_log_chunks(&self, chunks: &[NewLogChunk]) -> Result<Vec<i64>> {
        let total: i64 = chunks.iter().map(|c| i64::from(c.lines)).sum();
        if total == 0 {
            return Ok(vec![0; chunks.len()]);
        }
        let mut tx = self.pool.begin().await?;
        // Taking the ids first also takes the write lock, so no other writer can come between.
        let next: i64 = sqlx::query_scalar("UPDATE log_ids SET next = next + ? RETURNING next")
            .bind(total)
            .fetch_one(&mut *tx)
            .await?;
        let mut id = next - total;
        let mut firsts = Vec::with_capacity(chunks.len());
        let mut rows = Vec::new();
        for chunk in chunks {
            debug_assert_eq!(
                memchr::memchr_iter(b'\n', chunk.text.as_bytes()).count(),
                chunk.lines as usize
            );
            firsts.push(id);
            rows_of(chunk, id, &mut rows);
            id += i64::from(chunk.lines);
        }
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let n = if rest.len() >= MAX_ROWS {
                MAX_ROWS
            } else {
                1 << rest.len().ilog2()
            };
            let (part, tail) = rest.split_at(n);
            let mut query = sqlx::query(insert_sql(n));
            for r in part {
                query = query
                    .bind(r.first_id)
                    .bind(r.first_id + r.lines as i64 - 1)
                    .bind(r.chunk.service.as_str())
                    .bind(r.chunk.stream.as_str())
                    .bind(r.chunk.time.as_str())
                    .bind(r.lines as i64)
                    .bind(r.text)
                    .bind(r.partials.as_deref());
            }
            query.execute(&mut *tx).await?;
            rest = tail;
        }
        tx.commit().await?;
        Ok(firsts)
    }

    /// Inserts `lines` in one transaction; returns them with their ids, in the same order (ids ascend).
    /// Consecutive lines of one service, stream and time share a chunk. A `\n` inside a line (which
    /// the line splitter never produces) is stored as a space, as a line cannot hold one.
    pub async fn insert_logs(&self, lines: &[NewLogLine]) -> Result<Vec<LogLine>> {
        let mut chunks: Vec<NewLogChunk> = Vec::new();
        for l in lines {
            let same = chunks.last().is_some_and(|c| {
                c.service == l.service && c.stream == l.stream && c.time == l.time
            });
            if !same {
                chunks.push(NewLogChunk {
                    service: l.service.clone(),
                    stream: l.stream,
                    time: l.time.clone(),
                    text: String::new(),
                    lines: 0,
                    partials: Vec::new(),
                });
            }
            let Some(chunk) = chunks.last_mut() else {
                continue;
            };
            if l.partial {
                chunk.partials.push(chunk.lines);
            }
            if l.line.contains('\n') {
                chunk.text.push_str(&l.line.replace('\n', " "));
            } else {
                chunk.text.push_str(&l.line);
            }
            chunk.text.push('\n');
            chunk.lines += 1;
        }
        let firsts = self.insert_log_chunks(&chunks).await?;
        let mut stored = Vec::with_capacity(lines.len());
        let mut ids = chunks
            .iter()
            .zip(firsts)
            .flat_map(|(c, first)| first..first + i64::from(c.lines));
        for l in lines {
            let id = ids
                .next()
                .ok_or_else(|| StoreError::Corrupt("log ids ran out".into()))?;
            stored.push(LogLine {
                id,
                service: l.service.clone(),
                stream: l.stream,
                time: l.time.clone(),
                line: l.line.clone(),
                partial: l.partial,
            });
        }
        Ok(stored)
    }

    /// See [`LogQuery`]. Reads rows of `log_chunks` in id order (newest first for `tail`), a few at
    /// first and more on each further query, until it has its lines.
    pub async fn query_logs(&self, q: &LogQuery) -> Result<Vec<LogLine>> {
        let want = q.tail.unwrap_or(q.limit) as usize;
        let newest_first = q.tail.is_some();
        let mut out = Vec::new();
        if want == 0 {
            return Ok(out);
        }
        let after = q.after_id.unwrap_or(i64::MIN);
        let before = q.before_id.unwrap_or(i64::MAX);
        let mut filter =
            String::from("service = ? AND last_id > ? AND last_id < ? AND first_id < ?");
        if q.stream.is_some() {
            filter.push_str(" AND stream = ?");
        }
        if q.since.is_some() {
            filter.push_str(" AND time >= ?");
        }
        let order = if newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM log_chunks WHERE {filter} ORDER BY last_id {order} LIMIT ?"
        );
        let since = q.since.as_deref().map(normalize_time);
        // Bounds on last_id: (low, high), both exclusive; the cursor moves one of them.
        let mut low = after;
        let mut high = before.saturating_add(MAX_CHUNK_LINES as i64);
        let mut page = FIRST_PAGE_ROWS;
        loop {
            let mut query = sqlx::query(&sql)
                .bind(&q.service)
                .bind(low)
                .bind(high)
                .bind(before);
            if let Some(s) = q.stream {
                query = query.bind(s.as_str());
            }
            if let Some(since) = &since {
                query = query.bind(since);
            }
            let rows = query.bind(page).fetch_all(&self.pool).await?;
            let fetched = rows.len() as i64;
            for r in rows {
                let row = RowOut::from_row(r)?;
                if newest_first {
                    for (id, text, partial) in row
                        .lines()
                        .into_iter()
                        .rev()
                        .filter(|(id, _, _)| *id > after && *id < before)
                    {
                        if out.len() == want {
                            break;
                        }
                        out.push(row.line(id, text, partial));
                    }
                    high = row.first_id;
                } else {
                    for (id, text, partial) in row
                        .lines()
                        .into_iter()
                        .filter(|(id, _, _)| *id > after && *id < before)
                    {
                        if out.len() == want {
                            break;
                        }
                        out.push(row.line(id, text, partial));
                    }
                    low = row.last_id;
                }
                if out.len() == want {
                    break;
                }
            }
            if out.len() == want || fetched < page {
                break;
            }
            page = (page * 2).min(MAX_PAGE_ROWS);
        }
        if newest_first {
            out.reverse();
        }
        Ok(out)
    }

    /// The newest stored time among a service's last lines by id, and the streams that have a line at
    /// that time (log recovery's starting point); None without lines.
    pub async fn newest_log_time(&self, service: &str) -> Result<Option<(String, Vec<Stream>)>> {
        // Two readers commit in their own order, so the newest time is not always the highest id; the
        // last few thousand ids cover every batch that can have been in flight together. A chunk's
        // lines share its time, so a row stands for all of its lines.
        let rows = sqlx::query(
            "SELECT time, stream, lines FROM log_chunks WHERE service = ? ORDER BY last_id DESC LIMIT ?",
        )
        .bind(service)
        .bind(NEWEST_WINDOW as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut newest: Option<(String, Vec<Stream>)> = None;
        let mut seen = 0u64;
        for r in rows {
            if seen >= NEWEST_WINDOW {
                break;
            }
            let time: String = r.get(0);
            let stream = parse_stream(r.get(1))?;
            let lines: i64 = r.get(2);
            seen += lines.max(1) as u64;
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

    /// Deletes lines with a time before `older_than` (RFC 3339); returns how many went. All lines of a
    /// chunk share its time, so a chunk goes whole or stays whole.
    pub async fn prune_logs(&self, older_than: &str) -> Result<u64> {
        let cutoff = normalize_time(older_than);
        let mut total = 0;
        loop {
            let rows: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM log_chunks WHERE first_id IN \
                 (SELECT first_id FROM log_chunks WHERE time < ? LIMIT ?) RETURNING lines",
            )
            .bind(&cutoff)
            .bind(PRUNE_ROWS)
            .fetch_all(&self.pool)
            .await?;
            total += rows.iter().map(|&n| n as u64).sum::<u64>();
            if (rows.len() as i64) < PRUNE_ROWS {
                return Ok(total);
            }
        }
    }
}
