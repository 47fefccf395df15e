//! Writes transitions to the store in the order they happened, off the actors' hot path (a restart
//! never waits for SQLite), and fans stored events out to live subscribers (`GET /api/events`).

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{NewEvent, RuntimeRecord, Store};
use crate::wire::Event;

enum Msg {
    Transition(Box<NewEvent>, Box<RuntimeRecord>),
    Flush(oneshot::Sender<()>),
}

pub(crate) struct Recorder {
    tx: mpsc::UnboundedSender<Msg>,
    events: broadcast::Sender<Event>,
}

impl Recorder {
    pub fn start(store: Store) -> Recorder {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let out = events.clone();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Transition(event, runtime) => {
                        match store.insert_event(&event).await {
                            Ok(stored) => {
                                let _ = out.send(stored);
                            }
                            Err(e) => tracing::error!(error = %e, service = %event.service, "cannot store event"),
                        }
                        if let Err(e) = store.save_runtime(&runtime).await {
                            tracing::error!(error = %e, service = %runtime.service, "cannot store runtime");
                        }
                    }
                    Msg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Recorder { tx, events }
    }

    pub fn record(&self, event: NewEvent, runtime: RuntimeRecord) {
        let _ = self.tx.send(Msg::Transition(Box::new(event), Box::new(runtime)));
    }

    /// Resolves once everything recorded before the call is in the store.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}
