//! The environment variables of the systems tend replaces (the MagicTunnel supervisor and the Python
//! supervisor; README, "Coming from ..."), read as fallbacks: each is used only when the flag and the
//! `TEND_*` variable are unset, and beats `tend.toml`. A value that cannot be used is an error naming the
//! variable (the daemon does not start). Empty values count as unset. `LOG_*`, `MONITOR_INTERVAL`,
//! `CADDY_*` and `AUTOFIX_*` are tend's own names too and are read where their settings are. Used by
//! `config.rs` only.

use std::net::IpAddr;

/// Longest default backoff delay `RESTART_DELAY` may set (as `backoff.max_delay_ms` allows): one day.
const MAX_RESTART_DELAY_S: f64 = 86_400.0;

/// What the legacy variables set; `None` where unset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Legacy {
    /// `SUPERVISOR_HOST`: the API's address.
    pub host: Option<IpAddr>,
    /// `SUPERVISOR_PORT`: the API's port.
    pub port: Option<u16>,
    /// `SUPERVISOR_LOG_LEVEL`: the daemon's log filter.
    pub log_level: Option<String>,
    /// `MAX_RESTART_ATTEMPTS`: `max_restarts` of services that do not set it.
    pub max_restarts: Option<u32>,
    /// `RESTART_DELAY` (seconds): `backoff.initial_delay_ms` of services that do not set it.
    pub initial_delay_ms: Option<u64>,
}

/// Reads the legacy variables through `env`.
pub fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<Legacy, String> {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut legacy = Legacy::default();
    if let Some(v) = get("SUPERVISOR_HOST") {
        legacy.host = Some(parse_host(&v).ok_or_else(|| {
            format!("SUPERVISOR_HOST: expected an IP address (e.g. 127.0.0.1), got {v:?}")
        })?);
    }
    if let Some(v) = get("SUPERVISOR_PORT") {
        legacy.port = Some(v.parse().map_err(|_| {
            format!("SUPERVISOR_PORT: expected a port number (0-65535), got {v:?}")
        })?);
    }
    if let Some(v) = get("SUPERVISOR_LOG_LEVEL") {
        legacy.log_level = Some(log_filter(&v)?);
    }
    if let Some(v) = get("MAX_RESTART_ATTEMPTS") {
        let max = crate::spec::MAX_RESTARTS;
        legacy.max_restarts = Some(v.parse().ok().filter(|n| *n <= max).ok_or_else(|| {
            format!("MAX_RESTART_ATTEMPTS: expected a whole number from 0 to {max}, got {v:?}")
        })?);
    }
    if let Some(v) = get("RESTART_DELAY") {
        let secs: f64 = v
            .parse()
            .ok()
            .filter(|s: &f64| (0.0..=MAX_RESTART_DELAY_S).contains(s))
            .ok_or_else(|| {
                format!(
                    "RESTART_DELAY: expected seconds from 0 to {MAX_RESTART_DELAY_S} (e.g. 5 or 0.5), got {v:?}"
                )
            })?;
        legacy.initial_delay_ms = Some((secs * 1000.0).round() as u64);
    }
    Ok(legacy)
}

/// An address as the seeds wrote it; `localhost` is the loopback address.
fn parse_host(v: &str) -> Option<IpAddr> {
    if v.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    v.parse().ok()
}

/// The replaced systems' level names (Python's `WARNING` and `CRITICAL` included, any case) as a
/// tracing filter; a value with `=` or `,` is taken as a filter already (`RUST_LOG` style). A bare
/// word is refused rather than passed on: the filter syntax would read it as a target name and
/// silently log nothing of tend.
fn log_filter(v: &str) -> Result<String, String> {
    let level = match v.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" | "fatal" => "error",
        "off" => "off",
        _ if v.contains('=') || v.contains(',') => {
            return tracing_subscriber::EnvFilter::try_new(v)
                .map(|_| v.to_string())
                .map_err(|e| format!("SUPERVISOR_LOG_LEVEL: invalid log filter {v:?}: {e}"));
        }
        _ => {
            return Err(format!(
                "SUPERVISOR_LOG_LEVEL: expected trace, debug, info, warning, error, critical or a \
                 filter like tend=debug, got {v:?}"
            ));
        }
    };
    Ok(level.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(vars: &[(&str, &str)]) -> Result<Legacy, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read(&move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn every_variable_is_read() {
        let l = read_from(&[
            ("SUPERVISOR_HOST", "0.0.0.0"),
            ("SUPERVISOR_PORT", "8081"),
            ("SUPERVISOR_LOG_LEVEL", "WARNING"),
            ("MAX_RESTART_ATTEMPTS", "3"),
            ("RESTART_DELAY", "0.25"),
        ])
        .unwrap();
        assert_eq!(
            l,
            Legacy {
                host: Some(IpAddr::from([0, 0, 0, 0])),
                port: Some(8081),
                log_level: Some("warn".into()),
                max_restarts: Some(3),
                initial_delay_ms: Some(250),
            }
        );
        assert_eq!(read_from(&[]).unwrap(), Legacy::default());
        assert_eq!(
            read_from(&[("SUPERVISOR_PORT", " "), ("SUPERVISOR_HOST", "localhost")]).unwrap(),
            Legacy {
                host: Some(IpAddr::from([127, 0, 0, 1])),
                ..Legacy::default()
            }
        );
        let l = read_from(&[("SUPERVISOR_LOG_LEVEL", "tend=debug,info")]).unwrap();
        assert_eq!(l.log_level.as_deref(), Some("tend=debug,info"));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("SUPERVISOR_HOST", "example.com"),
            ("SUPERVISOR_PORT", "70000"),
            ("SUPERVISOR_PORT", "http"),
            ("SUPERVISOR_LOG_LEVEL", "verbose"),
            ("SUPERVISOR_LOG_LEVEL", "tend=loud"),
            ("MAX_RESTART_ATTEMPTS", "-1"),
            ("MAX_RESTART_ATTEMPTS", "2000000"),
            ("RESTART_DELAY", "soon"),
            ("RESTART_DELAY", "-5"),
            ("RESTART_DELAY", "100000"),
            ("RESTART_DELAY", "NaN"),
        ] {
            let err = read_from(&[(var, value)]).unwrap_err();
            assert!(err.starts_with(var), "{var}={value}: {err}");
        }
    }
}
