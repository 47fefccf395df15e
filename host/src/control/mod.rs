//! The TCP control port: one request per line, one JSON response per line (README, "TCP control
//! port"). Owns the listener, the connection limit and the connection tasks; requests are carried out
//! by the same `ops::Ops` methods the REST handlers call (`dispatch`), and answered with the same wire
//! types under the `ok` envelope (`wire::control`), errors with the same codes. Knows nothing of HTTP
//! and imports nothing from `api`.

mod conn;
mod dispatch;
mod lines;
pub mod parse;
pub mod settings;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

pub use settings::ControlSettings;

use crate::ops::Ops;
use crate::wire::{Code, ControlResponse};

/// Binds the control port on `host` (the API's host), or `None` when `port` is 0 (disabled). Done
/// before anything starts, so a taken port stops the daemon at once.
pub async fn bind(host: IpAddr, settings: &ControlSettings) -> anyhow::Result<Option<TcpListener>> {
    if settings.port == 0 {
        return Ok(None);
    }
    let addr = std::net::SocketAddr::new(host, settings.port);
    // The accept queue holds a burst of `max_connections` clients (tokio's default of 128 would drop
    // connects, which clients retry only after a second).
    let backlog = u32::try_from(settings.max_connections)
        .unwrap_or(u32::MAX)
        .max(128);
    let listener = crate::listen::listen(addr, backlog).with_context(|| {
        format!(
            "cannot listen on the control port {host}:{} (set --control-port 0 to disable it)",
            settings.port
        )
    })?;
    Ok(Some(listener))
}

/// The running control port.
pub struct ControlServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Serves `listener` until `closing` becomes true; then stops accepting and closes every
    /// connection (each gets a last `shutting_down` line).
    pub fn start(
        listener: TcpListener,
        settings: ControlSettings,
        token: Arc<str>,
        ops: Ops,
        closing: watch::Receiver<bool>,
    ) -> anyhow::Result<ControlServer> {
        let addr = listener.local_addr()?;
        let allowed = settings.allowed_verbs().map_err(anyhow::Error::msg)?;
        let shared = Arc::new(conn::Shared {
            ops,
            token,
            settings,
            allowed,
        });
        let task = tokio::spawn(accept_loop(listener, shared, closing));
        tracing::info!(%addr, "control port is listening");
        Ok(ControlServer { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves once the accept loop and every connection have ended (after `closing`).
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the control port task failed");
        }
    }
}

/// How long connections get to finish their current request once the daemon is closing.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Connections over the limit being answered `too_many_connections` at once. With that many, the loop
/// stops accepting until one ends: the rest wait in the kernel's backlog, so a flood of connections
/// holds at most `max_connections + MAX_REFUSING` of the daemon's descriptors.
pub const MAX_REFUSING: usize = 16;

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<conn::Shared>,
    mut closing: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(shared.settings.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut conns = JoinSet::new();
    loop {
        let room = slots.available_permits() > 0 || refusing.available_permits() > 0;
        tokio::select! {
            _ = async { drop(closing.wait_for(|c| *c).await) } => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept(), if room => match accepted {
                Ok((stream, peer)) => {
                    if let Ok(slot) = slots.clone().try_acquire_owned() {
                        let (shared, closing) = (shared.clone(), closing.clone());
                        conns.spawn(async move {
                            let _slot = slot;
                            conn::serve(stream, peer, shared, closing).await;
                        });
                    } else if let Ok(permit) = refusing.clone().try_acquire_owned() {
                        tracing::warn!(%peer, "control port: too many connections");
                        let max = shared.settings.max_connections;
                        conns.spawn(async move {
                            let _permit = permit;
                            refuse(stream, max).await;
                        });
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "control port: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(CLOSE_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("control connections still busy after {CLOSE_GRACE:?}; closing them");
        conns.shutdown().await;
    }
}

/// Answers a connection over the limit and closes it; bounded to one second.
async fn refuse(mut stream: TcpStream, max: usize) {
    let line = ControlResponse::error(
        Code::TooManyConnections,
        format!("too many connections (max_connections = {max}); closing"),
    )
    .to_line();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&line).await?;
        stream.shutdown().await?;
        // Drain before closing, so unread input does not reset the connection under the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}
