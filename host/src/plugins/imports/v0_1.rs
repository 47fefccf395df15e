//! The `tend:plugin@0.1.0` names of the host interfaces (`tend:plugin/log@0.1.0`, ...), for plugins
//! built against the previous major version (wit/README.md, "Versioning", rule 3). The interfaces
//! did not change between 0.1 and 0.2, so every function here delegates to the 0.2 implementation
//! in the sibling modules; the only work is converting the records and variants an interface
//! defines itself (`http`'s, `net`'s error), which bindgen generates once per version. No logic
//! lives here: grants, caps and logging are the 0.2 code's.

use crate::plugins::bindings::host::tend::plugin as now;
use crate::plugins::bindings::host::tend::plugin::types::Level;
use crate::plugins::bindings::v0_1::probe::tend::plugin as old;
use crate::plugins::sandbox::CallState;

impl old::log::Host for CallState {
    async fn log(&mut self, level: Level, message: String) {
        now::log::Host::log(self, level, message).await
    }
}

impl old::kv::Host for CallState {
    async fn get(&mut self, key: String) -> Option<Vec<u8>> {
        now::kv::Host::get(self, key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        now::kv::Host::set(self, key, value).await
    }

    async fn delete(&mut self, key: String) {
        now::kv::Host::delete(self, key).await
    }
}

impl old::http::Host for CallState {
    async fn send(
        &mut self,
        r: old::http::Request,
    ) -> Result<old::http::Response, old::http::Error> {
        let request = now::http::Request {
            method: r.method,
            url: r.url,
            headers: r.headers,
            body: r.body,
            timeout_ms: r.timeout_ms,
        };
        match now::http::Host::send(self, request).await {
            Ok(r) => Ok(old::http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
                elapsed_ms: r.elapsed_ms,
            }),
            Err(e) => Err(match e {
                now::http::Error::Denied(s) => old::http::Error::Denied(s),
                now::http::Error::Timeout => old::http::Error::Timeout,
                now::http::Error::Connect(s) => old::http::Error::Connect(s),
                now::http::Error::TooLarge => old::http::Error::TooLarge,
                now::http::Error::Invalid(s) => old::http::Error::Invalid(s),
            }),
        }
    }
}

impl old::net::Host for CallState {
    async fn tcp_connect(
        &mut self,
        host: String,
        port: u16,
        timeout_ms: u32,
    ) -> Result<u32, old::net::Error> {
        now::net::Host::tcp_connect(self, host, port, timeout_ms)
            .await
            .map_err(|e| match e {
                now::net::Error::Denied(s) => old::net::Error::Denied(s),
                now::net::Error::Timeout => old::net::Error::Timeout,
                now::net::Error::Refused(s) => old::net::Error::Refused(s),
            })
    }
}
