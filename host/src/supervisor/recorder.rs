//! Writes transitions to the store in the order they happened, off the actors' hot path (a restart
//! never waits for SQLite), and fans stored events out to live subscribers (`GET /api/events`).

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::store::{NewEvent, RuntimeRecord, Store};
use crate::wire::{Event, HealthCheck};

enum Msg {
    Transition(Box<NewEvent>, Box<RuntimeRecord>),
    Event(Box<NewEvent>),
    HealthCheck(String, Box<HealthCheck>),
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
                        store_event(&store, &out, &event).await;
                        if let Err(e) = store.save_runtime(&runtime).await {
                            tracing::error!(error = %e, service = %runtime.service, "cannot store runtime");
                        }
                    }
                    Msg::Event(event) => store_event(&store, &out, &event).await,
                    Msg::HealthCheck(service, check) => {
                        if let Err(e) = store.insert_health_check(&service, &check).await {
                            tracing::error!(error = %e, %service, "cannot store health check");
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
        let _ = self
            .tx
            .send(Msg::Transition(Box::new(event), Box::new(runtime)));
    }

    /// An event that changes no runtime record (health changes).
    pub fn event(&self, event: NewEvent) {
        let _ = self.tx.send(Msg::Event(Box::new(event)));
    }

    pub fn health_check(&self, service: String, check: HealthCheck) {
        let _ = self.tx.send(Msg::HealthCheck(service, Box::new(check)));
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

async fn store_event(store: &Store, out: &broadcast::Sender<Event>, event: &NewEvent) {
    match store.insert_event(event).await {
        Ok(stored) => {
            let _ = out.send(stored);
        }
        Err(e) => tracing::error!(error = %e, service = %event.service, "cannot store event"),
    }
}
