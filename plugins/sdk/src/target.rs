//! Reading the `target` a probe is asked to check.

use serde::de::DeserializeOwned;

use crate::Target;

impl Target {
    /// The probe's config (the service's `health` block merged over the manifest's `[config]`),
    /// parsed into `T`: a `#[derive(Deserialize)]` struct, or [`serde_json::Value`]. An empty
    /// document reads as `{}`. The error is a message fit for [`Health::unhealthy`](crate::Health).
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, String> {
        let text = match self.config.trim() {
            "" => "{}",
            text => text,
        };
        serde_json::from_str(text).map_err(|e| format!("invalid probe config: {e}"))
    }

    /// The timeout to give one host call (`http::get`, `net::tcp_connect`): `configured` if given,
    /// capped so that a tenth of the check's budget is left to answer. A call that used the whole
    /// budget would race the daemon's deadline and count as a hung plugin rather than a failed check.
    pub fn io_timeout_ms(&self, configured: Option<u32>) -> u32 {
        let cap = (self.timeout_ms - self.timeout_ms / 10).max(1);
        configured.map_or(cap, |ms| ms.clamp(1, cap))
    }

    /// `host:port` of this target with the given port (IPv6 hosts in brackets, as URLs need them).
    pub fn address(&self, port: u16) -> String {
        crate::net::address(&self.host, port)
    }
}
