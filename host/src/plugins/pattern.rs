//! Host patterns of plugin grants and of the daemon's `[plugins] allow_hosts`: parsing, printing,
//! matching a connection, and the intersection of two patterns. Shared by `manifest` and `settings`
//! (which validate them) and `grants` (which intersects and checks them); it must not depend on any of
//! the three, so that none of them import each other through it.

/// `host` (any port) or `host:port`; IPv6 as `::1` or `[::1]:80`. Hosts compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let bad = || format!("{s:?} is not `host` or `host:port`");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else if s.matches(':').count() == 1 {
            let (h, p) = s.split_once(':').ok_or_else(bad)?;
            (h, Some(p))
        } else {
            (s, None)
        };
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        let host = normalize_host(host);
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
        if host.is_empty() || !host.chars().all(valid) {
            return Err(bad());
        }
        Ok(HostPattern { host, port })
    }

    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.host == normalize_host(host) && self.port.is_none_or(|p| p == port)
    }

    /// The pattern both allow, if any.
    pub(super) fn intersect(&self, other: &HostPattern) -> Option<HostPattern> {
        if self.host != other.host {
            return None;
        }
        let port = match (self.port, other.port) {
            (Some(a), Some(b)) if a != b => return None,
            (a, b) => a.or(b),
        };
        Some(HostPattern {
            host: self.host.clone(),
            port,
        })
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.port, self.host.contains(':')) {
            (None, _) => f.write_str(&self.host),
            (Some(p), true) => write!(f, "[{}]:{p}", self.host),
            (Some(p), false) => write!(f, "{}:{p}", self.host),
        }
    }
}

fn normalize_host(h: &str) -> String {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether two host names denote the same host: equal after normalizing, or both loopback names, so a
/// service on 127.0.0.1 is its own `$target` when a URL says `localhost`.
pub(super) fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (normalize_host(a), normalize_host(b));
    a == b || (is_loopback(&a) && is_loopback(&b))
}

/// `localhost` or a loopback address (any spelling `normalize_host` accepts).
pub(super) fn is_loopback(h: &str) -> bool {
    let h = normalize_host(h);
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_parse_and_print() {
        for (input, shown) in [
            ("LocalHost", "localhost"),
            ("127.0.0.1:80", "127.0.0.1:80"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("[::1]:8080", "[::1]:8080"),
            ("example.org.", "example.org"),
        ] {
            assert_eq!(
                HostPattern::parse(input).unwrap().to_string(),
                shown,
                "{input}"
            );
        }
        for bad in ["", "a:b", "a:70000", "[::1", "[::1]x", "a b", "a/b"] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns_match_and_intersect_by_host_and_port() {
        let any_port = HostPattern::parse("Example.org").unwrap();
        let one_port = HostPattern::parse("example.org:8080").unwrap();
        assert!(any_port.matches("EXAMPLE.org.", 1));
        assert!(one_port.matches("example.org", 8080));
        assert!(!one_port.matches("example.org", 8081));
        assert_eq!(any_port.intersect(&one_port), Some(one_port.clone()));
        assert_eq!(one_port.intersect(&any_port), Some(one_port.clone()));
        let other_port = HostPattern::parse("example.org:9").unwrap();
        assert_eq!(one_port.intersect(&other_port), None);
        assert_eq!(
            any_port.intersect(&HostPattern::parse("example.com").unwrap()),
            None
        );
        assert!(
            same_host("localhost", "[::1]"),
            "loopback names are one host"
        );
        assert!(!same_host("localhost", "10.0.0.1"));
    }
}
