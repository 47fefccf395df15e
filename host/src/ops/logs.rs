//! A service's stored output: reads (the last lines, paging forwards and backwards), search (substring
//! or regex, backwards, bounded by `MAX_SEARCH_SCAN` lines per request), the download (every stored
//! line, read a page at a time) and the follow stream. Checks the request and reads the store; knows
//! nothing of HTTP (the download is handed out as chunks of text).

use regex::{Regex, RegexBuilder};

use super::{Error, Ops, Result};
use crate::logs::LogFollow;
use crate::store::{LogQuery, Store};
use crate::wire::{
    DownloadParams, LogLine, LogParams, LogsPage, MAX_LOG_LINES, MAX_SEARCH_BYTES, MAX_SEARCH_SCAN,
};

/// Lines a read returns without `tail` or `limit`.
const DEFAULT_LINES: u32 = 100;
/// Lines the follow stream sends first without `tail`.
const DEFAULT_FOLLOW_TAIL: u32 = 10;
/// Lines a search reads from the store at once: with lines of up to `max_line_bytes` (16 KiB by
/// default) a chunk stays in the megabytes.
const SEARCH_CHUNK: u32 = 1000;
/// Lines the download reads from the store at once.
const DOWNLOAD_CHUNK: u32 = 1000;
/// Compiled-program limits of a search regex: a pattern past them is refused, not run.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What `p` asks for, checked.
enum Read {
    /// `after_id`: the oldest `limit` lines after it.
    Forward(LogQuery),
    /// `tail` or `before_id`: the newest `n` lines (before `before_id`).
    Back(LogQuery, u32),
    /// `q`: the newest `n` matches before `before_id` (or the newest line).
    Search(LogQuery, Regex, u32),
}

impl Ops {
    /// Stored output lines of a service, oldest first (the last 100 without `tail`, `after_id`,
    /// `before_id` or `q`); see `LogParams`.
    pub async fn logs(&self, name: &str, p: &LogParams) -> Result<LogsPage> {
        self.sup.get(name)?;
        match read(name, p, DEFAULT_LINES)? {
            Read::Forward(q) => Ok(LogsPage {
                lines: self.store.query_logs(&q).await?,
                ..LogsPage::default()
            }),
            Read::Back(q, n) => back(&self.store, q, n).await,
            Read::Search(q, re, n) => search(&self.store, q, &re, n).await,
        }
    }

    /// A service's output to follow: the last `tail` lines (default 10) of the query, then live.
    pub fn follow_logs(&self, name: &str, p: &LogParams) -> Result<LogFollow> {
        self.service(name)?;
        for (field, given) in [
            ("before_id", p.before_id.is_some()),
            ("q", p.q.is_some()),
            ("regex", p.regex),
            ("case_sensitive", p.case_sensitive),
        ] {
            if given {
                return Err(Error::invalid(
                    field,
                    "not taken by the follow stream (search and older pages are GET .../logs)",
                ));
            }
        }
        let query = match read(name, p, DEFAULT_FOLLOW_TAIL)? {
            Read::Forward(q) => q,
            // (A search was refused above.)
            Read::Back(q, n) | Read::Search(q, _, n) => LogQuery { tail: Some(n), ..q },
        };
        // Subscribed before the backlog is read, so no line falls between the two.
        let live = self.hub.subscribe();
        Ok(LogFollow::new(self.store.clone(), live, query))
    }

    /// Every stored line of a service (one `stream` or both), oldest first, as chunks of text.
    pub fn download_logs(&self, name: &str, p: &DownloadParams) -> Result<LogDownload> {
        self.sup.get(name)?;
        Ok(LogDownload {
            store: self.store.clone(),
            query: LogQuery {
                stream: p.stream,
                after_id: Some(0),
                limit: DOWNLOAD_CHUNK,
                ..LogQuery::new(name)
            },
            done: false,
        })
    }
}

/// The lines of a download, read a page at a time so a log of any size streams in bounded memory.
pub struct LogDownload {
    store: Store,
    query: LogQuery,
    done: bool,
}

impl LogDownload {
    /// The next lines as text, one per line (a line stored in `partial` pieces joined back); `None`
    /// at the end, and after an error.
    pub async fn next_chunk(&mut self) -> Option<Result<String>> {
        if self.done {
            return None;
        }
        let lines = match self.store.query_logs(&self.query).await {
            Ok(lines) => lines,
            Err(e) => {
                self.done = true;
                return Some(Err(e.into()));
            }
        };
        let last = lines.last()?;
        self.query.after_id = Some(last.id);
        let mut text = String::with_capacity(lines.iter().map(|l| l.line.len() + 1).sum());
        for l in &lines {
            text.push_str(&l.line);
            if !l.partial {
                text.push('\n');
            }
        }
        Some(Ok(text))
    }
}

/// The newest `n` lines of `q` and whether older ones exist (one more line is read to know).
async fn back(store: &Store, q: LogQuery, n: u32) -> Result<LogsPage> {
    let mut lines = store
        .query_logs(&LogQuery {
            tail: Some(n + 1),
            ..q
        })
        .await?;
    let mut next_before_id = None;
    if lines.len() > n as usize {
        let older = lines.remove(0);
        next_before_id = Some(lines.first().map_or(older.id + 1, |l| l.id));
    }
    Ok(LogsPage {
        lines,
        next_before_id,
        ..LogsPage::default()
    })
}

/// Walks `q`'s lines backwards from `q.before_id` in chunks, keeping those `re` matches, until `n`
/// matches and one more (so the page knows older ones exist) are found, the start of the log is
/// reached, the lines are older than `since`, or `MAX_SEARCH_SCAN` lines were examined. `stream`
/// and `since` are applied here rather than in SQL so that every line walked counts toward the bound.
async fn search(store: &Store, q: LogQuery, re: &Regex, n: u32) -> Result<LogsPage> {
    let want = n as usize + 1;
    let mut found: Vec<LogLine> = Vec::new(); // newest first
    let mut scanned: u64 = 0;
    let mut before = q.before_id;
    let mut truncated = false;
    'walk: loop {
        let room = MAX_SEARCH_SCAN - scanned;
        if room == 0 {
            truncated = true;
            break;
        }
        let chunk = u64::from(SEARCH_CHUNK).min(room) as u32;
        let lines = store
            .query_logs(&LogQuery {
                stream: None,
                since: None,
                before_id: before,
                tail: Some(chunk),
                ..q.clone()
            })
            .await?;
        let exhausted = lines.len() < chunk as usize;
        let mut all_older = !lines.is_empty();
        for line in lines.into_iter().rev() {
            scanned += 1;
            before = Some(line.id);
            let recent = q.since.as_ref().is_none_or(|s| line.time >= *s);
            all_older &= !recent;
            if recent && q.stream.is_none_or(|s| s == line.stream) && re.is_match(&line.line) {
                found.push(line);
                if found.len() == want {
                    break 'walk;
                }
            }
        }
        // Lines are stored in time order but for batches committed side by side, so a whole chunk
        // older than `since` means nothing newer follows.
        if exhausted || (q.since.is_some() && all_older) {
            break;
        }
    }
    let mut next_before_id = None;
    if found.len() == want {
        let older = found.pop().expect("want >= 1");
        next_before_id = Some(found.last().map_or(older.id + 1, |l| l.id));
    } else if truncated {
        next_before_id = before;
    }
    found.reverse();
    Ok(LogsPage {
        lines: found,
        next_before_id,
        truncated,
        scanned: Some(scanned),
    })
}

/// The matcher of a search: `q` as a literal (escaped) or, with `regex`, as a pattern; case-insensitive
/// unless `case_sensitive`. A pattern that does not compile or is too large is `invalid` naming `q`.
fn matcher(q: &str, regex: bool, case_sensitive: bool) -> Result<Regex> {
    let pattern = if regex {
        q.to_string()
    } else {
        regex::escape(q)
    };
    RegexBuilder::new(&pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::invalid("q", format!("not a usable regular expression: {e}")))
}

/// `p` checked: `since` an RFC 3339 time; `tail` and `limit` at most `MAX_LOG_LINES`; at most one of
/// `tail`, `after_id`, `before_id`; `q` (1 to `MAX_SEARCH_BYTES` bytes) not with `tail` or `after_id`;
/// `regex` and `case_sensitive` only with `q`. `default_tail` applies without any of them.
fn read(name: &str, p: &LogParams, default_tail: u32) -> Result<Read> {
    let since = match &p.since {
        None => None,
        Some(s) => {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| Error::invalid("since", format!("not an RFC 3339 time: {e}")))?;
            Some(crate::store::fmt_time(t.with_timezone(&chrono::Utc)))
        }
    };
    for (field, v) in [("tail", p.tail), ("limit", p.limit)] {
        if v.is_some_and(|v| v > MAX_LOG_LINES) {
            return Err(Error::invalid(field, format!("at most {MAX_LOG_LINES}")));
        }
    }
    if p.tail.is_some() && p.after_id.is_some() {
        return Err(Error::invalid(
            "tail",
            "tail and after_id cannot be combined",
        ));
    }
    if p.before_id.is_some() && (p.tail.is_some() || p.after_id.is_some()) {
        return Err(Error::invalid(
            "before_id",
            "before_id pages backwards with limit; it cannot be combined with tail or after_id",
        ));
    }
    let query = LogQuery {
        stream: p.stream,
        since,
        after_id: p.after_id,
        before_id: p.before_id,
        tail: None,
        limit: p.limit.unwrap_or(MAX_LOG_LINES),
        ..LogQuery::new(name)
    };
    match &p.q {
        None => {
            for (field, given) in [("regex", p.regex), ("case_sensitive", p.case_sensitive)] {
                if given {
                    return Err(Error::invalid(field, "only with a search text q"));
                }
            }
        }
        Some(q) => {
            if q.is_empty() || q.len() > MAX_SEARCH_BYTES {
                return Err(Error::invalid(
                    "q",
                    format!("a search text of 1 to {MAX_SEARCH_BYTES} bytes"),
                ));
            }
            if p.tail.is_some() || p.after_id.is_some() {
                return Err(Error::invalid(
                    "q",
                    "a search reads backwards with before_id and limit, not with tail or after_id",
                ));
            }
            let re = matcher(q, p.regex, p.case_sensitive)?;
            return Ok(Read::Search(query, re, p.limit.unwrap_or(DEFAULT_LINES)));
        }
    }
    Ok(match (p.after_id, p.before_id) {
        (Some(_), _) => Read::Forward(query),
        (None, Some(_)) => Read::Back(query, p.limit.unwrap_or(DEFAULT_LINES)),
        (None, None) => Read::Back(query, p.tail.unwrap_or(default_tail)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut LogParams)) -> LogParams {
        let mut p = LogParams::default();
        f(&mut p);
        p
    }

    fn field_of(p: &LogParams) -> Option<String> {
        read("svc", p, 10).err().and_then(|e| e.field)
    }

    #[test]
    fn bad_combinations_name_their_field() {
        let cases: [(LogParams, &str); 8] = [
            (params(|p| p.q = Some(String::new())), "q"),
            (
                params(|p| p.q = Some("x".repeat(MAX_SEARCH_BYTES + 1))),
                "q",
            ),
            (
                params(|p| {
                    p.q = Some("a(".into());
                    p.regex = true;
                }),
                "q",
            ),
            (params(|p| p.regex = true), "regex"),
            (params(|p| p.case_sensitive = true), "case_sensitive"),
            (
                params(|p| {
                    p.before_id = Some(5);
                    p.tail = Some(5);
                }),
                "before_id",
            ),
            (
                params(|p| {
                    p.q = Some("a".into());
                    p.after_id = Some(5);
                }),
                "q",
            ),
            (params(|p| p.limit = Some(MAX_LOG_LINES + 1)), "limit"),
        ];
        for (p, field) in cases {
            assert_eq!(field_of(&p).as_deref(), Some(field), "{p:?}");
        }
    }

    #[test]
    fn a_huge_regex_is_refused_not_compiled() {
        let e = matcher(r"\w{1000}\w{1000}\w{1000}", true, false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("q"));
    }

    #[test]
    fn substrings_are_literal_and_case_insensitive_by_default() {
        let m = matcher("a.B", false, false).unwrap();
        assert!(m.is_match("xx A.b yy"));
        assert!(!m.is_match("aXb"));
        let m = matcher("a.B", false, true).unwrap();
        assert!(!m.is_match("a.b"));
        let m = matcher("^err(or)? [0-9]+$", true, false).unwrap();
        assert!(m.is_match("ERROR 42"));
        assert!(!m.is_match("an error 42"));
    }
}
