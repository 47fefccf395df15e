//! `tend:plugin/net`: TCP connect checks. The allowlist is checked before anything else; the
//! connect timeout never exceeds the call's remaining time.

use std::time::{Duration, Instant};

use crate::plugins::bindings::host::tend::plugin::net::{self, Error};
use crate::plugins::sandbox::CallState;

impl net::Host for CallState {
    async fn tcp_connect(
        &mut self,
        host: String,
        port: u16,
        timeout_ms: u32,
    ) -> Result<u32, Error> {
        if !self
            .ctx
            .grants
            .permits(&host, port, self.ctx.target.as_ref())
        {
            let what = format!("net tcp-connect {host}:{port} is not on the plugin's allowlist");
            self.deny(what.clone());
            return Err(Error::Denied(what));
        }
        let budget = Duration::from_millis(timeout_ms.into()).min(self.remaining());
        if budget.is_zero() {
            return Err(Error::Timeout);
        }
        let started = Instant::now();
        let addr = host.trim_start_matches('[').trim_end_matches(']');
        match tokio::time::timeout(budget, tokio::net::TcpStream::connect((addr, port))).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(e)) => Err(Error::Refused(e.to_string())),
            Ok(Ok(stream)) => {
                drop(stream);
                Ok(u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX))
            }
        }
    }
}
