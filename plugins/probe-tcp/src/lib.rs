//! The built-in `tcp` probe: healthy when a TCP connection to the service's host and port succeeds.
//! Config (JSON, all optional): `port` (default: the service's), `timeout_ms` (default and cap:
//! nine tenths of the check's budget). I/O only through the host's `net` import.

use serde::Deserialize;
use tend_plugin_sdk::{Health, Probe, Target, net};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    port: Option<u16>,
    timeout_ms: Option<u32>,
}

struct TcpProbe;

impl Probe for TcpProbe {
    fn check(target: Target) -> Health {
        let config: Config = match target.config() {
            Ok(config) => config,
            Err(e) => return Health::unhealthy(e),
        };
        let Some(port) = config.port.or(target.port) else {
            return Health::unhealthy(
                "no port to probe: set `port` in the probe config or give the service a `port`",
            );
        };
        let address = target.address(port);
        let timeout_ms = target.io_timeout_ms(config.timeout_ms);
        match net::tcp_connect(&target.host, port, timeout_ms) {
            Ok(ms) => {
                Health::healthy(format!("connected to {address} in {ms} ms")).with_latency(ms)
            }
            Err(e) => Health::unhealthy(format!("connect to {address}: {}", e.describe())),
        }
    }
}

tend_plugin_sdk::export_probe!(TcpProbe);
