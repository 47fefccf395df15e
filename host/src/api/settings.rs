//! `ApiSettings`: the `[api]` table of `tend.toml` (connection limit and timeouts of the REST server,
//! the lifetime of dashboard sessions) and the descriptor budget that caps the limit. Plain data with the documented defaults; `config`
//! reads it, `validate` rejects nonsense before anything listens.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Connections served at once. Beyond it the daemon stops accepting: new connections wait in the
    /// kernel's listen backlog, holding no descriptor of the daemon's, and are served as slots free up.
    /// Capped further by the descriptor budget (see [`ApiSettings::connection_cap`]).
    pub max_connections: usize,
    /// A connection must deliver a complete request head within this many seconds of being accepted,
    /// and again of its previous response (so an idle keep-alive connection is closed after it too).
    pub header_timeout_s: u64,
    /// A connection on which no byte moves either way for this long while no request is being handled
    /// (a response the client does not read) is closed. Event streams send a keep-alive comment every
    /// 15 s, so a client that reads them is never idle.
    pub idle_timeout_s: u64,
    /// A request body must arrive completely within this many seconds of its head (else `408`).
    pub body_timeout_s: u64,
    /// A dashboard session (sign-in cookie) ends this many hours after sign-in, whatever its use.
    pub session_ttl_h: u64,
    /// Host names (or addresses) the API answers to besides loopback names (`localhost`,
    /// `*.localhost`, `127.0.0.0/8`, `[::1]`) and the listen address: a request with any other `Host`
    /// is refused, so a web page cannot reach the daemon through a name rebound to 127.0.0.1.
    pub allowed_hosts: Vec<String>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_connections: 512,
            header_timeout_s: 10,
            idle_timeout_s: 60,
            body_timeout_s: 30,
            session_ttl_h: 24,
            allowed_hosts: Vec::new(),
        }
    }
}

/// Descriptors kept for everything that is not a front-end connection: the store, log files and
/// pipes of services, plugins, `/proc` reads, spawning. Front ends get what the limit leaves.
pub const RESERVED_DESCRIPTORS: u64 = 256;
/// The connection cap never goes below this, whatever the descriptor limit.
pub const MIN_CONNECTIONS: usize = 8;

const MAX_CONNECTIONS: usize = 65_536;
const MAX_TIMEOUT_S: u64 = 3_600;
/// A sign-in lasts at most 30 days.
const MAX_SESSION_TTL_H: u64 = 720;
const MAX_ALLOWED_HOSTS: usize = 64;
/// The longest DNS name.
const MAX_HOST_LEN: usize = 253;

impl ApiSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "api.max_connections must be between 1 and {MAX_CONNECTIONS}, got {}",
                self.max_connections
            ));
        }
        // An event stream is silent for up to its 15 s keep-alive interval: never idle below 20 s.
        for (key, value, min) in [
            ("header_timeout_s", self.header_timeout_s, 1),
            ("idle_timeout_s", self.idle_timeout_s, 20),
            ("body_timeout_s", self.body_timeout_s, 1),
        ] {
            if !(min..=MAX_TIMEOUT_S).contains(&value) {
                return Err(format!(
                    "api.{key} must be between {min} and {MAX_TIMEOUT_S}, got {value}"
                ));
            }
        }
        if !(1..=MAX_SESSION_TTL_H).contains(&self.session_ttl_h) {
            return Err(format!(
                "api.session_ttl_h must be between 1 and {MAX_SESSION_TTL_H}, got {}",
                self.session_ttl_h
            ));
        }
        if self.allowed_hosts.len() > MAX_ALLOWED_HOSTS {
            return Err(format!(
                "api.allowed_hosts may list at most {MAX_ALLOWED_HOSTS} names, got {}",
                self.allowed_hosts.len()
            ));
        }
        for host in &self.allowed_hosts {
            check_host_name(host).map_err(|why| format!("api.allowed_hosts: {host:?} {why}"))?;
        }
        Ok(())
    }

    /// Connections the API serves at once with `nofile` descriptors available to the process, of which
    /// `others` may be held by other front ends (the control port): `max_connections`, but never more
    /// than what leaves [`RESERVED_DESCRIPTORS`] free, so a spawn never fails for want of a descriptor
    /// the API holds.
    pub fn connection_cap(&self, nofile: u64, others: usize) -> usize {
        let budget = nofile
            .saturating_sub(RESERVED_DESCRIPTORS)
            .saturating_sub(others as u64);
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        self.max_connections
            .min(budget)
            .max(MIN_CONNECTIONS.min(self.max_connections))
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_s)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_s)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_s)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_h * 3600)
    }
}

/// A host name or an IP address as a `Host` header names it, without port or scheme.
fn check_host_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return Err("must be a host name of 1 to 253 characters");
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Ok(())
    } else {
        Err("must be a host name or an IP address, without port or scheme")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ApiSettings::default().validate().unwrap();
    }

    #[test]
    fn the_cap_leaves_the_reserve_free() {
        let s = ApiSettings::default();
        assert_eq!(s.connection_cap(1_048_576, 256), 512);
        assert_eq!(s.connection_cap(1024, 256), 1024 - 256 - 256);
        assert_eq!(s.connection_cap(300, 0), 44);
        // A tiny limit still serves a few connections.
        assert_eq!(s.connection_cap(100, 256), MIN_CONNECTIONS);
        let one = ApiSettings {
            max_connections: 1,
            ..s
        };
        assert_eq!(one.connection_cap(100, 0), 1);
    }

    #[test]
    fn nonsense_is_rejected_naming_the_key() {
        for text in [
            "max_connections = 0",
            "header_timeout_s = 0",
            "idle_timeout_s = 100000",
            "idle_timeout_s = 10",
            "body_timeout_s = 0",
            "session_ttl_h = 0",
            "session_ttl_h = 721",
            "allowed_hosts = [\"box.lan:9900\"]",
            "allowed_hosts = [\"http://box.lan\"]",
            "allowed_hosts = [\"\"]",
        ] {
            let s: ApiSettings = toml::from_str(text).unwrap();
            let err = s.validate().unwrap_err();
            let key = text.split(' ').next().unwrap();
            assert!(err.contains(key), "{text}: {err}");
        }
        assert!(toml::from_str::<ApiSettings>("bogus = 1").is_err());
        let ok: ApiSettings =
            toml::from_str(r#"allowed_hosts = ["box.lan", "10.0.0.5", "[fe80::1]"]"#).unwrap();
        ok.validate().unwrap();
    }
}
