//! `LogFollow`: one subscriber's view of a service's output. The backlog its query asks for, then the
//! live lines, each once and in id order; a subscriber that falls behind the live feed reads what it
//! missed from the store (lines reach live subscribers only after they are stored).

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
            pending: VecDeque::new(),
        }
    }

    /// The next line; `None` once the log hub is gone.
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
                self.started = true;
                let backlog = self.store.query_logs(&self.query).await;
                self.pending.extend(backlog.unwrap_or_default());
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
                Err(RecvError::Lagged(_)) => {
                    let q = LogQuery {
                        after_id: Some(self.last),
                        tail: None,
                        limit: CATCH_UP,
                        since: None,
                        ..self.query.clone()
                    };
                    self.pending
                        .extend(self.store.query_logs(&q).await.unwrap_or_default());
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
