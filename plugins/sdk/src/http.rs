//! Outbound HTTP, performed by the host, only to hosts on the plugin's allowlist.

use crate::bindings::tend::plugin::http as host;
pub use host::{Error, Request, Response};

/// Sends a request; redirects are not followed.
pub fn send(request: &Request) -> Result<Response, Error> {
    host::send(request)
}

/// `GET url` with no headers.
pub fn get(url: &str, timeout_ms: u32) -> Result<Response, Error> {
    send(&Request {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: None,
        timeout_ms,
    })
}

impl Error {
    /// A one-line description for health messages (the generated `Display` is the `Debug` form).
    pub fn describe(&self) -> String {
        match self {
            Error::Denied(why) => format!("denied by the plugin's grants: {why}"),
            Error::Timeout => "timed out".into(),
            Error::Connect(why) => format!("connection failed: {why}"),
            Error::TooLarge => "response body too large".into(),
            Error::Invalid(why) => format!("invalid request: {why}"),
        }
    }
}
