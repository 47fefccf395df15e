//! Black-box harness for the `tend` integration suite. It drives the real `tend` binary only: a daemon
//! fixture on a temp data dir and a free port, HTTP and SSE clients, the CLI, and `/proc` scans for the
//! processes a test's services left behind; plugin fixtures to install in a data dir ([`plugins`]),
//! loopback servers run by the test itself ([`servers`]), scripted LLM providers ([`llm_script`]), a
//! real LLM server ([`llama`]) and the onboarding fixture projects ([`onboard`]). It must never link
//! the `tend` crate: what the suite checks is the contract users see, not the code behind it.
//!
//! Every daemon gets a unique marker. Services built with [`Daemon::service`] carry it as
//! `TEND_TEST_ID=<marker>` in their spec's `env`, and the daemon process itself carries
//! `TEND_TEST_DAEMON=<marker>` (inherited by every child it spawns, even ones the test did not build), so
//! leak checks and the cleanup on drop can find every process a test is responsible for.

pub mod caddy;
pub mod control;
mod daemon;
pub mod llama;
pub mod llm_script;
pub mod onboard;
pub mod output;
pub mod plugins;
mod procs;
pub mod servers;
mod sse;
pub mod tools;
mod wait;

pub use control::{Control, assert_error};
pub use daemon::{Daemon, DaemonBuilder, refused_start, send, tend_bin, tend_cmd, tend_cmd_at};
pub use plugins::{Fixture, fixture};
pub use procs::{
    pid_alive, proc_environ, processes_with_env, processes_with_marker, python3, run_with_deadline,
    service_environ,
};
pub use serde_json::{Value, json};
pub use servers::{HttpServer, RecordingListener, free_port};
pub use sse::{Sse, SseEvent};
pub use wait::{wait_for, wait_until};

use std::time::Duration;

/// Env var carrying a daemon's marker in the specs of the services a test creates.
pub const MARKER_VAR: &str = "TEND_TEST_ID";
/// Env var carrying a daemon's marker in the daemon's own environment (and so in every child's).
pub const DAEMON_MARKER_VAR: &str = "TEND_TEST_DAEMON";

/// Shorthand for a `Duration` of whole seconds.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp (any fraction of a second).
pub fn rfc3339_ms(s: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad RFC 3339 time {s:?}: {e}"));
    t.timestamp_micros() as f64 / 1000.0
}

/// Deep-merges `patch` into `base`: objects merge key by key, anything else replaces.
pub fn merge(base: Value, patch: Value) -> Value {
    match (base, patch) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                let old = a.remove(&k).unwrap_or(Value::Null);
                a.insert(k, merge(old, v));
            }
            Value::Object(a)
        }
        (_, patch) => patch,
    }
}

/// `(from, to)` of an event, for compact assertions.
pub fn transition(ev: &Value) -> (String, String) {
    let s = |k: &str| ev[k].as_str().unwrap_or("?").to_string();
    (s("from"), s("to"))
}

/// Renders events as `from->to (reason)` lines, for failure messages.
pub fn describe_events(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| {
            let (f, t) = transition(e);
            format!(
                "{} {f}->{t} ({})",
                e["time"].as_str().unwrap_or("?"),
                e["reason"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
