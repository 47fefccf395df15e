//! `LogFollow`: one subscriber's view of a service's output. The backlog its query asks for, then the
//! live lines, each once and in id order, with no line skipped. Lines reach live subscribers only after
//! they are stored, so the store is never behind the live feed: a subscriber that falls behind it (or
//! whose forward backlog came back a full page) reads pages from the store by id until one comes back
//! short, and only then rejoins the live feed, dropping the live lines it already read from the store
//! (the same guarantee as the event bus's `Follow`).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::store::{LogQuery, Store};
use crate::wire::LogLine;

/// Most lines read from the store at once when catching up.
const CATCH_UP: u32 = 10_000;

pub struct LogFollow {
    store: Store,
    live: broadcast::Receiver<Arc<LogLine>>,
    /// The backlog's query: its service and stream filter the live lines too.
    query: LogQuery,
    /// The greatest id handed out.
    last: i64,
    /// The backlog has been read.
    started: bool,
    /// Read the next page from the store (after `last`) before listening to the live feed again.
    from_store: bool,
    pending: VecDeque<LogLine>,
}

impl LogFollow {
    /// `live` must be subscribed before the backlog is read, so no line falls between the two.
    pub(crate) fn new(
        store: Store,
        live: broadcast::Receiver<Arc<LogLine>>,
        query: LogQuery,
    ) -> Self {
        LogFollow {
            store,
            live,
            query,
            last: 0,
            started: false,
            from_store: false,
            pending: VecDeque::new(),
        }
    }

    /// The next line; `None` once the log hub is gone, or when the store cannot be read (a line
    /// would be skipped otherwise; the subscriber resumes with `after_id` of the last line it got).
    pub async fn next(&mut self) -> Option<LogLine> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                if line.id > self.last {
                    self.last = line.id;
                    return Some(line);
                }
                continue;
            }
            if !self.started {
                // Marked read only once it is: a `next` dropped at the await (a `select!`) loses nothing.
                let backlog = self.read(&self.query).await?;
                self.started = true;
                // A forward backlog (`after_id`) that filled its page stops short of the newest lines.
                self.from_store =
                    self.query.tail.is_none() && backlog.len() >= self.query.limit as usize;
                self.pending.extend(backlog);
                continue;
            }
            if self.from_store {
                let q = LogQuery {
                    after_id: Some(self.last),
                    before_id: None,
                    tail: None,
                    limit: CATCH_UP,
                    since: None,
                    ..self.query.clone()
                };
                let page = self.read(&q).await?;
                // A short page reached the newest stored line, and every line stored later is still
                // ahead in the live feed (it is broadcast after it is stored).
                self.from_store = page.len() == CATCH_UP as usize;
                self.pending.extend(page);
                continue;
            }
            match self.live.recv().await {
                Ok(l)
                    if l.service == self.query.service
                        && self.query.stream.is_none_or(|s| s == l.stream) =>
                {
                    self.pending.push_back((*l).clone());
                }
                Ok(_) => {}
                // What was missed is in the store.
                Err(RecvError::Lagged(_)) => self.from_store = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn read(&self, q: &LogQuery) -> Option<Vec<LogLine>> {
        match self.store.query_logs(q).await {
            Ok(lines) => Some(lines),
            Err(e) => {
                tracing::warn!(error = %e, service = %q.service, "log follow: reading the store failed; ending the stream");
                None
            }
        }
    }
}
