//! `Follow`: one subscriber's view of the bus. Replays stored events after a given id, then goes live
//! without a gap or a duplicate between the two, and reads what it missed from the store when it falls
//! behind the live feed (instead of telling the subscriber it lagged).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::store::{Store, StoreError};
use crate::wire::{BusEvent, Topic};

/// Stored events read per query when replaying or catching up.
const PAGE: u32 = 500;

/// Which events a subscriber wants.
#[derive(Clone, Debug)]
pub struct Filter {
    pub topics: Vec<Topic>,
    /// Only events about this service.
    pub service: Option<String>,
}

impl Filter {
    pub fn matches(&self, e: &BusEvent) -> bool {
        self.topics.contains(&e.topic())
            && self
                .service
                .as_deref()
                .is_none_or(|s| e.service() == Some(s))
    }
}

pub struct Follow {
    store: Store,
    live: broadcast::Receiver<Arc<BusEvent>>,
    filter: Filter,
    /// The greatest stored id handed out or known to be older than the subscription.
    last: i64,
    /// Read the store before the live feed (a replay, or catching up after falling behind).
    from_store: bool,
    backlog: VecDeque<BusEvent>,
}

impl Follow {
    pub(super) fn new(
        store: Store,
        live: broadcast::Receiver<Arc<BusEvent>>,
        filter: Filter,
        last: i64,
        replay: bool,
    ) -> Follow {
        Follow {
            store,
            live,
            filter,
            last,
            from_store: replay,
            backlog: VecDeque::new(),
        }
    }

    /// The next matching event; `None` once the bus is gone. A store error ends the subscription:
    /// the subscriber resumes from the last id it got.
    pub async fn next(&mut self) -> Result<Option<Arc<BusEvent>>, StoreError> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                self.last = e.id;
                return Ok(Some(Arc::new(e)));
            }
            if self.from_store {
                let batch = self
                    .store
                    .events_after(
                        self.last,
                        &self.filter.topics,
                        self.filter.service.as_deref(),
                        PAGE,
                    )
                    .await?;
                self.from_store = batch.len() == PAGE as usize;
                self.backlog.extend(batch);
                continue;
            }
            match self.live.recv().await {
                Ok(e) => {
                    if e.id > 0 {
                        // Replayed already, or older than the subscription.
                        if e.id <= self.last {
                            continue;
                        }
                        self.last = e.id;
                    }
                    if self.filter.matches(&e) {
                        return Ok(Some(e));
                    }
                }
                // What was missed is in the store (live-only samples are simply gone).
                Err(RecvError::Lagged(_)) => self.from_store = true,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }
}
