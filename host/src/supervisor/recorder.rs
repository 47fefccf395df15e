//! Off the actors' hot path (a restart never waits for SQLite): publishes transitions and health
//! changes on the event bus (which stores them in order before broadcasting them), and writes runtime
//! records and health-check results to the store in the order they happened.

use tokio::sync::{mpsc, oneshot};

use crate::events::Bus;
use crate::store::{RuntimeRecord, Store};
use crate::wire::{Event, HealthCheck, Payload};

enum Msg {
    Runtime(Box<RuntimeRecord>),
    HealthCheck(String, Box<HealthCheck>),
    Flush(oneshot::Sender<()>),
}

pub(crate) struct Recorder {
    tx: mpsc::UnboundedSender<Msg>,
    bus: Bus,
}

impl Recorder {
    pub fn start(store: Store, bus: Bus) -> Recorder {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Runtime(runtime) => {
                        if let Err(e) = store.save_runtime(&runtime).await {
                            tracing::error!(error = %e, service = %runtime.service, "cannot store runtime");
                        }
                    }
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
        Recorder { tx, bus }
    }

    pub fn record(&self, event: Event, runtime: RuntimeRecord) {
        self.bus.publish(Payload::Service(event));
        let _ = self.tx.send(Msg::Runtime(Box::new(runtime)));
    }

    /// An event that changes no runtime record (health changes).
    pub fn event(&self, event: Event) {
        self.bus.publish(Payload::Service(event));
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
        self.bus.flush().await;
    }
}
