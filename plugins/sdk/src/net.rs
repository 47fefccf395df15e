//! Outbound TCP connection checks, under the same allowlist as [`http`](crate::http).

use crate::bindings::tend::plugin::net as host;
pub use host::Error;

/// Connects to `host:port` and closes at once; returns the connect time in milliseconds.
pub fn tcp_connect(host: &str, port: u16, timeout_ms: u32) -> Result<u32, Error> {
    host::tcp_connect(host, port, timeout_ms)
}

/// `host:port`, with an IPv6 host in brackets.
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Error {
    /// A one-line description for health messages (the generated `Display` is the `Debug` form).
    pub fn describe(&self) -> String {
        match self {
            Error::Denied(why) => format!("denied by the plugin's grants: {why}"),
            Error::Timeout => "timed out".into(),
            Error::Refused(why) => format!("connection refused: {why}"),
        }
    }
}
