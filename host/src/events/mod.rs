//! The daemon-wide event bus. Every subsystem publishes here directly (service transitions and health
//! from the supervisor, cron executions, custom-restart jobs, Caddy, plugins, policy decisions, metrics
//! samples). Stored topics are written to the store by one writer task, in publication order, and only
//! then broadcast, so their ids increase along the broadcast and any subscriber can resume from the
//! store (`follow`). Live-only topics (`metrics`) are broadcast at once with id 0.
//!
//! Owns no HTTP and no SQL: `api/sse.rs` turns a `Follow` into Server-Sent Events, `store` does the SQL.

mod follow;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::{broadcast, mpsc, oneshot};

pub use follow::{Filter, Follow};

use crate::store::Store;
use crate::wire::{BusEvent, Event, EventKind, Payload, Status};

/// How many events a slow subscriber may fall behind the live feed before it reads from the store.
const LIVE_CAPACITY: usize = 1024;

enum Msg {
    Publish(Payload),
    Flush(oneshot::Sender<()>),
}

/// Handle to the bus; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::UnboundedSender<Msg>,
    live: broadcast::Sender<Arc<BusEvent>>,
    store: Store,
    /// The id of the last stored event that was broadcast.
    last_id: AtomicI64,
}

impl Bus {
    /// Starts the writer task. Must be called inside the daemon's runtime.
    pub async fn start(store: Store) -> anyhow::Result<Bus> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let last = store.last_event_id().await?;
        let inner = Arc::new(Inner {
            tx,
            live,
            store,
            last_id: AtomicI64::new(last),
        });
        tokio::spawn(write(Arc::downgrade(&inner), rx));
        Ok(Bus { inner })
    }

    /// Publishes an event. Never blocks: stored topics are queued for the writer, the others go out at
    /// once. Nothing subscribes? Stored topics are stored anyway.
    pub fn publish(&self, payload: Payload) {
        if payload.topic().persisted() {
            let _ = self.inner.tx.send(Msg::Publish(payload));
        } else {
            let _ = self.inner.live.send(Arc::new(BusEvent { id: 0, payload }));
        }
    }

    /// Publishes an event of another part of the daemon about a service (`caddy`, `job`), with the
    /// service's status at the time as `from` and `to`.
    pub fn note(&self, service: &str, status: Status, kind: EventKind, note: Note) {
        self.publish(Payload::Service(Event {
            id: 0,
            kind,
            service: service.to_string(),
            time: crate::store::now_rfc3339(),
            from: status,
            to: status,
            pid: note.pid,
            exit_code: note.exit_code,
            signal: note.signal,
            health: None,
            reason: note.reason,
        }));
    }

    /// Resolves once everything published before the call is stored and broadcast.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.inner.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// The live feed, raw (no replay, no catch-up): for subsystems that react to what happens next,
    /// e.g. a custom-restart job waiting for a health change.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.inner.live.subscribe()
    }

    /// A subscription that first replays stored events after `after` (if given) and then goes live,
    /// each stored event exactly once and in id order, catching up from the store when it falls behind.
    pub fn follow(&self, filter: Filter, after: Option<i64>) -> Follow {
        // Subscribe first: whatever is broadcast from now on is received, and what was broadcast
        // before is in the store already.
        let live = self.inner.live.subscribe();
        let start = after.unwrap_or_else(|| self.inner.last_id.load(Ordering::SeqCst));
        Follow::new(
            self.inner.store.clone(),
            live,
            filter,
            start,
            after.is_some(),
        )
    }
}

/// The free-form part of a service note.
#[derive(Debug, Default)]
pub struct Note {
    pub reason: String,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
}

impl Note {
    pub fn reason(reason: impl Into<String>) -> Note {
        Note {
            reason: reason.into(),
            ..Note::default()
        }
    }
}

/// The writer: stores each event, then broadcasts it with its id. Ends when every handle is gone.
async fn write(inner: std::sync::Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    while let Some(msg) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        match msg {
            Msg::Publish(payload) => {
                let stored = match &payload {
                    Payload::Service(e) => inner.store.insert_event(e).await,
                    other => inner.store.insert_bus_event(other).await,
                };
                match stored {
                    Ok(id) => {
                        let mut payload = payload;
                        if let Payload::Service(e) = &mut payload {
                            e.id = id;
                        }
                        // Broadcast before the id is published as the last one: a `follow` that
                        // reads `last_id` after subscribing then never skips this event.
                        let _ = inner.live.send(Arc::new(BusEvent { id, payload }));
                        inner.last_id.store(id, Ordering::SeqCst);
                    }
                    Err(e) => {
                        // Live subscribers still see it, without an id to resume from.
                        tracing::error!(error = %e, topic = %payload.topic(), "cannot store an event");
                        let _ = inner.live.send(Arc::new(BusEvent { id: 0, payload }));
                    }
                }
            }
            Msg::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests;
