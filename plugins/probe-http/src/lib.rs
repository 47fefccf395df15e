//! The built-in `http` probe: one GET per check, healthy when the status is in the expected range and
//! the body contains the expected text. Config (JSON, all optional):
//! `url`, or `port` (default: the service's) and `path` (default "/") on the service's host;
//! `expect_status: [lo, hi]` (inclusive, default [200, 399]); `body_contains`; `timeout_ms`
//! (default and cap: nine tenths of the check's budget). I/O only through the host's `http` import.

use serde::Deserialize;
use tend_plugin_sdk::{Health, Probe, Target, http};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    expect_status: Option<(u16, u16)>,
    body_contains: Option<String>,
    timeout_ms: Option<u32>,
}

struct HttpProbe;

impl Probe for HttpProbe {
    fn check(target: Target) -> Health {
        match check(&target) {
            Ok(health) | Err(health) => health,
        }
    }
}

tend_plugin_sdk::export_probe!(HttpProbe);

fn check(target: &Target) -> Result<Health, Health> {
    let config: Config = target.config().map_err(Health::unhealthy)?;
    let url = url(target, &config).map_err(Health::unhealthy)?;
    let (lo, hi) = config.expect_status.unwrap_or((200, 399));
    if lo > hi {
        return Err(Health::unhealthy(format!(
            "invalid probe config: expect_status [{lo}, {hi}] is an empty range"
        )));
    }
    let timeout_ms = target.io_timeout_ms(config.timeout_ms);
    let response = http::get(&url, timeout_ms)
        .map_err(|e| Health::unhealthy(format!("GET {url}: {}", e.describe())))?;
    let status = response.status;
    let latency = response.elapsed_ms;
    if !(lo..=hi).contains(&status) {
        return Ok(
            Health::unhealthy(format!("GET {url}: status {status}, expected {lo}-{hi}"))
                .with_latency(latency),
        );
    }
    if let Some(needle) = &config.body_contains
        && !contains(&response.body, needle.as_bytes())
    {
        return Ok(Health::unhealthy(format!(
            "GET {url}: status {status}, but the body does not contain {needle:?}"
        ))
        .with_latency(latency));
    }
    Ok(Health::healthy(format!("GET {url}: status {status}")).with_latency(latency))
}

/// The URL to check: `url` as given, else `http://<service host>:<port><path>`.
fn url(target: &Target, config: &Config) -> Result<String, String> {
    if let Some(url) = &config.url {
        if config.port.is_some() || config.path.is_some() {
            return Err(
                "invalid probe config: give either `url` or `port`/`path`, not both".into(),
            );
        }
        return Ok(url.clone());
    }
    let port = config.port.or(target.port).ok_or(
        "no port to probe: set `port` or `url` in the probe config, or give the service a `port`",
    )?;
    let path = config.path.as_deref().unwrap_or("/");
    let slash = if path.starts_with('/') { "" } else { "/" };
    Ok(format!("http://{}{slash}{path}", target.address(port)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
