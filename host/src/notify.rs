//! systemd's notification protocol (`sd_notify(3)`), for `Type=notify` units: datagrams of
//! `KEY=VALUE` lines sent to the unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for an
//! abstract socket). The daemon sends `READY=1` once the API listens and the boot-time services were
//! started, `STATUS=` lines when the counts of running and failed services change (at most one a
//! second), `WATCHDOG=1` every `WATCHDOG_USEC / 2` when systemd asked for it, and `STOPPING=1` when
//! shutdown begins. Without `NOTIFY_SOCKET` everything here does nothing.
//!
//! The variables are taken out of the daemon's environment at start ([`scrub_env`]), so no service
//! inherits them: systemd would take a child's messages for the daemon's. Sending never blocks and a
//! failed send is logged, never fatal: the daemon must not stop for its service manager's sake.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::events::Bus;
use crate::supervisor::Supervisor;
use crate::wire::{Status, Topic};

/// The variables of the protocol (each also removed from the environment by [`scrub_env`]).
const VARS: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// Shortest time between two `STATUS=` lines.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// Where to notify, and how often the watchdog wants a ping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    pub socket: SocketName,
    /// `WATCHDOG_USEC`, when it is set and meant for this process (`WATCHDOG_PID`, when set, is ours).
    pub watchdog: Option<Duration>,
}

/// `NOTIFY_SOCKET`: a filesystem path or an abstract name (`@name`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketName {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl NotifyConfig {
    /// From the protocol's variables read through `env`; `None` without `NOTIFY_SOCKET`. A value that
    /// cannot be used is an error naming the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<NotifyConfig>, String> {
        let Some(socket) = env("NOTIFY_SOCKET").filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let socket = if let Some(name) = socket.strip_prefix('@') {
            SocketName::Abstract(name.as_bytes().to_vec())
        } else if socket.starts_with('/') {
            SocketName::Path(socket.into())
        } else {
            return Err(format!(
                "NOTIFY_SOCKET: expected an absolute path or @name, got {socket:?}"
            ));
        };
        let for_us = match env("WATCHDOG_PID").filter(|v| !v.is_empty()) {
            None => true,
            Some(pid) => {
                let pid: u32 = pid
                    .trim()
                    .parse()
                    .map_err(|_| format!("WATCHDOG_PID: expected a process id, got {pid:?}"))?;
                pid == std::process::id()
            }
        };
        let watchdog = match env("WATCHDOG_USEC").filter(|v| !v.is_empty()) {
            Some(usec) if for_us => {
                let usec: u64 = usec.trim().parse().ok().filter(|u| *u > 0).ok_or_else(|| {
                    format!("WATCHDOG_USEC: expected microseconds above 0, got {usec:?}")
                })?;
                Some(Duration::from_micros(usec))
            }
            _ => None,
        };
        Ok(Some(NotifyConfig { socket, watchdog }))
    }
}

/// Removes the protocol's variables from this process's environment, so that no child inherits them.
///
/// # Safety
/// No other thread may be running (reading or writing the environment): call it before the runtime
/// and the log writer start.
pub unsafe fn scrub_env() {
    for var in VARS {
        // SAFETY: the caller guarantees this process is still single-threaded.
        unsafe { std::env::remove_var(var) };
    }
}

/// A connection to the service manager; cheap to clone. `Notifier::none()` sends nothing.
#[derive(Clone)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    socket: UnixDatagram,
    to: SocketName,
    watchdog: Option<Duration>,
}

impl Notifier {
    pub fn none() -> Notifier {
        Notifier { inner: None }
    }

    /// A notifier for `config` (none without it). A socket that cannot be created is logged and
    /// leaves a notifier that sends nothing.
    pub fn new(config: Option<&NotifyConfig>) -> Notifier {
        let Some(config) = config else {
            return Notifier::none();
        };
        let socket = match UnixDatagram::unbound().and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the sd_notify socket; not notifying systemd");
                return Notifier::none();
            }
        };
        Notifier {
            inner: Some(Arc::new(Inner {
                socket,
                to: config.socket.clone(),
                watchdog: config.watchdog,
            })),
        }
    }

    /// Sends one message (`KEY=VALUE` lines). Never blocks: a full queue drops it, with a log line.
    pub fn send(&self, message: &str) {
        let Some(inner) = &self.inner else { return };
        let sent = match &inner.to {
            SocketName::Path(path) => inner.socket.send_to(message.as_bytes(), path),
            SocketName::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|addr| inner.socket.send_to_addr(message.as_bytes(), &addr))
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, message, "cannot notify systemd");
        }
    }

    /// `READY=1` with the current `STATUS=`.
    pub fn ready(&self, sup: &Supervisor) {
        self.send(&format!("READY=1\nSTATUS={}", status_line(sup)));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping every service");
    }

    /// Starts the watchdog pings (when systemd asked for them) and the `STATUS=` updates; both end when
    /// `stop` turns true.
    pub fn start(&self, sup: Supervisor, bus: Bus, stop: watch::Receiver<bool>) {
        let Some(inner) = &self.inner else { return };
        if let Some(every) = inner.watchdog {
            tokio::spawn(watchdog(self.clone(), every / 2, stop.clone()));
        }
        tokio::spawn(statuses(self.clone(), sup, bus, stop));
    }
}

/// `WATCHDOG=1` every `every`, from a task of the runtime: a runtime that stops running tasks stops
/// the pings, and systemd restarts the daemon.
async fn watchdog(notifier: Notifier, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => notifier.send("WATCHDOG=1"),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// A `STATUS=` line whenever a lifecycle event changes it, at most one per [`STATUS_INTERVAL`] (a
/// burst of transitions ends with the line of its end state).
async fn statuses(notifier: Notifier, sup: Supervisor, bus: Bus, mut stop: watch::Receiver<bool>) {
    let mut events = bus.subscribe();
    let mut last = status_line(&sup);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(e) if e.topic() != Topic::Lifecycle => continue,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        }
        let line = status_line(&sup);
        if line != last {
            notifier.send(&format!("STATUS={line}"));
            last = line;
            // Rate limit: what changes meanwhile is picked up by the next event, or right after.
            tokio::select! {
                _ = tokio::time::sleep(STATUS_INTERVAL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let line = status_line(&sup);
            if line != last {
                notifier.send(&format!("STATUS={line}"));
                last = line;
            }
        }
    }
}

/// `3 services: 2 running, 1 failed` (failed: given up on, `fatal`).
pub fn status_line(sup: &Supervisor) -> String {
    let status = sup.status();
    let count = |s: Status| {
        status
            .supervisor
            .counts
            .get(s.as_str())
            .copied()
            .unwrap_or(0)
    };
    let total = status.supervisor.managed_services;
    format!(
        "{total} service{}: {} running, {} failed",
        if total == 1 { "" } else { "s" },
        count(Status::Running),
        count(Status::Fatal)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<NotifyConfig>, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NotifyConfig::from_env(&move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_socket_and_the_watchdog_come_from_the_environment() {
        assert_eq!(config(&[]).unwrap(), None);
        assert_eq!(config(&[("WATCHDOG_USEC", "1000")]).unwrap(), None);
        assert_eq!(
            config(&[("NOTIFY_SOCKET", "/run/n"), ("WATCHDOG_USEC", "30000000")]).unwrap(),
            Some(NotifyConfig {
                socket: SocketName::Path("/run/n".into()),
                watchdog: Some(Duration::from_secs(30)),
            })
        );
        assert_eq!(
            config(&[("NOTIFY_SOCKET", "@sys/notify")]).unwrap(),
            Some(NotifyConfig {
                socket: SocketName::Abstract(b"sys/notify".to_vec()),
                watchdog: None,
            })
        );
        // A watchdog meant for another process (the unit's main pid is not us) is not ours to ping.
        let other = (std::process::id() + 1).to_string();
        let c = config(&[
            ("NOTIFY_SOCKET", "/run/n"),
            ("WATCHDOG_USEC", "1000"),
            ("WATCHDOG_PID", &other),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.watchdog, None);
        let ours = std::process::id().to_string();
        let c = config(&[
            ("NOTIFY_SOCKET", "/run/n"),
            ("WATCHDOG_USEC", "1000"),
            ("WATCHDOG_PID", &ours),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.watchdog, Some(Duration::from_millis(1)));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (vars, name) in [
            (vec![("NOTIFY_SOCKET", "relative")], "NOTIFY_SOCKET"),
            (
                vec![("NOTIFY_SOCKET", "/n"), ("WATCHDOG_USEC", "soon")],
                "WATCHDOG_USEC",
            ),
            (
                vec![("NOTIFY_SOCKET", "/n"), ("WATCHDOG_USEC", "0")],
                "WATCHDOG_USEC",
            ),
            (
                vec![("NOTIFY_SOCKET", "/n"), ("WATCHDOG_PID", "me")],
                "WATCHDOG_PID",
            ),
        ] {
            let err = config(&vars).unwrap_err();
            assert!(err.starts_with(name), "{vars:?}: {err}");
        }
    }

    #[test]
    fn messages_reach_path_and_abstract_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(Some(&NotifyConfig {
            socket: SocketName::Path(path),
            watchdog: None,
        }));
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("tend-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::new(Some(&NotifyConfig {
            socket: SocketName::Abstract(name.into_bytes()),
            watchdog: None,
        }));
        n.stopping();
        let len = listener.recv(&mut buf).unwrap();
        assert!(buf[..len].starts_with(b"STOPPING=1\n"));
    }
}
