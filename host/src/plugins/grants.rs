//! Effective grants = manifest grants ∩ daemon settings, and the allowlist check every `http`/`net`
//! call goes through before any connection is made (and the `llm`/`project` grants: the manifest's
//! word, for agent worlds only, checked against the component's imports at load): `$target` is the checked service's own host:port,
//! and the daemon's reserved ports (its API, control port, Caddy's admin API) are never reachable. Paths are resolved (symlinks included) when a
//! plugin loads, so a link cannot lead a grant outside an allowed directory.

use std::path::{Path, PathBuf};

use super::agent::{AGENT_DEFAULT_TIMEOUT_MS, AGENT_MAX_TIMEOUT_MS, is_agent};
use super::bindings::World;
use super::manifest::{DEFAULT_TIMEOUT_MS, ManifestGrants, ManifestLimits};
use super::pattern::{HostPattern, is_loopback, same_host};
use super::settings::PluginSettings;
use crate::wire::{PluginGrants, PluginLimits};

/// The host and port of the service a call checks: what `$target` stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetAddr {
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EffectiveGrants {
    hosts: Vec<HostPattern>,
    /// `Some(daemon allowlist)` when the manifest asks for `$target`: the checked service's own host
    /// and port, if that host is loopback (where tend runs services) or on the daemon's allowlist.
    target: Option<Vec<HostPattern>>,
    /// Ports never reachable, whatever the grants (`PluginSettings::reserved_ports`).
    reserved: Vec<u16>,
    pub paths: Vec<PathBuf>,
    pub env: Vec<String>,
    /// May import `llm` / `project` (the manifest's grants; `Manifest::parse` refuses them outside
    /// agent worlds).
    pub llm: bool,
    pub project: bool,
    /// What the manifest asked for but the daemon does not allow, for the log.
    pub narrowed: Vec<String>,
}

impl EffectiveGrants {
    pub fn new(asked: &ManifestGrants, settings: &PluginSettings) -> EffectiveGrants {
        let mut g = EffectiveGrants {
            reserved: settings.reserved_ports.clone(),
            llm: asked.llm,
            project: asked.project,
            ..EffectiveGrants::default()
        };
        // `PluginHost::start` validated the settings; an unparsable entry would allow nothing.
        let daemon: Vec<HostPattern> = settings
            .allow_hosts
            .iter()
            .filter_map(|h| HostPattern::parse(h).ok())
            .collect();
        for h in &asked.hosts {
            if h == "$target" {
                g.target = Some(daemon.clone());
                continue;
            }
            let Ok(want) = HostPattern::parse(h) else {
                continue;
            };
            let before = g.hosts.len();
            for d in &daemon {
                if let Some(both) = want.intersect(d).filter(|p| !g.hosts.contains(p)) {
                    g.hosts.push(both);
                }
            }
            if g.hosts.len() == before {
                g.narrowed.push(format!("host {h}"));
            }
        }
        for p in &asked.paths {
            match allowed_path(p, &settings.allow_paths) {
                Some(real) => g.paths.push(real),
                None => g.narrowed.push(format!("path {}", p.display())),
            }
        }
        for e in &asked.env {
            if settings.allow_env.contains(e) {
                g.env.push(e.clone());
            } else {
                g.narrowed.push(format!("env {e}"));
            }
        }
        g
    }

    /// True when some host could ever be reached (the plugin may import `http`/`net`).
    pub fn any_host(&self) -> bool {
        !self.hosts.is_empty() || self.target.is_some()
    }

    /// The allowlist check for one connection. A reserved port is refused first, on every host: a
    /// name can resolve to this machine, so the host alone cannot tell tend's ports apart.
    pub fn permits(&self, host: &str, port: u16, target: Option<&TargetAddr>) -> bool {
        if self.reserved.contains(&port) {
            return false;
        }
        if self.hosts.iter().any(|p| p.matches(host, port)) {
            return true;
        }
        match (&self.target, target) {
            (Some(daemon), Some(t)) => {
                same_host(&t.host, host)
                    && t.port == Some(port)
                    && (is_loopback(&t.host) || daemon.iter().any(|d| d.matches(host, port)))
            }
            _ => false,
        }
    }

    pub fn to_wire(&self) -> PluginGrants {
        let target = self.target.as_ref().map(|_| "$target".to_string());
        PluginGrants {
            hosts: target
                .into_iter()
                .chain(self.hosts.iter().map(|h| h.to_string()))
                .collect(),
            paths: self.paths.clone(),
            env: self.env.clone(),
            llm: self.llm,
            project: self.project,
        }
    }
}

/// `asked`, resolved, if it exists and lies within one of the (resolved) allowed directories.
fn allowed_path(asked: &Path, allowed: &[PathBuf]) -> Option<PathBuf> {
    let real = asked.canonicalize().ok()?;
    allowed
        .iter()
        .filter_map(|a| a.canonicalize().ok())
        .any(|a| real.starts_with(&a))
        .then_some(real)
}

/// Limits in force: the manifest's, capped by the daemon's ceilings. Agent worlds wait on models:
/// their time limit defaults to `AGENT_DEFAULT_TIMEOUT_MS` and is capped by `AGENT_MAX_TIMEOUT_MS`
/// instead of the daemon's `max_timeout_ms` (which is about probes and policies).
pub fn effective_limits(
    asked: &ManifestLimits,
    settings: &PluginSettings,
    world: World,
) -> PluginLimits {
    let timeout_ms = if is_agent(world) {
        asked
            .timeout_ms
            .unwrap_or(AGENT_DEFAULT_TIMEOUT_MS)
            .min(AGENT_MAX_TIMEOUT_MS)
    } else {
        asked
            .timeout_ms
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .min(settings.max_timeout_ms)
    };
    PluginLimits {
        memory_mb: asked.memory_mb.min(settings.max_memory_mb),
        timeout_ms,
        max_response_bytes: asked.max_response_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(hosts: &[&str]) -> ManifestGrants {
        ManifestGrants {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn settings(hosts: &[&str]) -> PluginSettings {
        PluginSettings {
            allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn target(host: &str, port: Option<u16>) -> TargetAddr {
        TargetAddr {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn hosts_are_the_intersection_of_manifest_and_daemon() {
        let g = EffectiveGrants::new(
            &asked(&["localhost", "127.0.0.1:8080", "example.org", "::1:9"]),
            &settings(&["127.0.0.1", "localhost:3000", "::1"]),
        );
        assert_eq!(g.to_wire().hosts, ["localhost:3000", "127.0.0.1:8080"]);
        assert!(g.permits("LOCALHOST", 3000, None));
        assert!(!g.permits("localhost", 3001, None));
        assert!(g.permits("127.0.0.1", 8080, None));
        assert!(!g.permits("127.0.0.1", 80, None));
        assert!(!g.permits("example.org", 80, None));
        assert_eq!(g.narrowed, ["host example.org", "host ::1:9"]);
    }

    #[test]
    fn target_is_the_checked_services_own_host_and_port() {
        // The default: no hosts at all, yet a probe reaches the service it checks.
        let g = EffectiveGrants::new(&asked(&["$target"]), &settings(&[]));
        assert!(g.any_host());
        assert_eq!(g.to_wire().hosts, ["$target"]);
        let t = target("127.0.0.1", Some(8080));
        assert!(g.permits("127.0.0.1", 8080, Some(&t)));
        assert!(
            g.permits("localhost", 8080, Some(&t)),
            "localhost is the same host as a 127.0.0.1 target"
        );
        assert!(
            !g.permits("127.0.0.1", 8081, Some(&t)),
            "other port of the target host"
        );
        assert!(!g.permits("127.0.0.1", 8080, None), "no target, no $target");
        assert!(
            !g.permits("::1", 1, Some(&target("[::1]", None))),
            "a target without a port grants no port"
        );
        let outside = target("10.0.0.1", Some(80));
        assert!(
            !g.permits("10.0.0.1", 80, Some(&outside)),
            "a target off this machine needs the daemon's allowlist"
        );
        let allowed = EffectiveGrants::new(&asked(&["$target"]), &settings(&["10.0.0.1"]));
        assert!(allowed.permits("10.0.0.1", 80, Some(&outside)));
    }

    #[test]
    fn reserved_ports_are_refused_whatever_the_grants() {
        let s = PluginSettings {
            allow_hosts: vec!["127.0.0.1".into(), "example.org".into()],
            reserved_ports: vec![9900, 2019],
            ..Default::default()
        };
        let g = EffectiveGrants::new(&asked(&["$target", "127.0.0.1", "example.org"]), &s);
        assert!(g.permits("127.0.0.1", 8080, None));
        assert!(!g.permits("127.0.0.1", 9900, None));
        assert!(
            !g.permits("example.org", 2019, None),
            "a name may resolve here"
        );
        let t = target("127.0.0.1", Some(9900));
        assert!(
            !g.permits("127.0.0.1", 9900, Some(&t)),
            "not even as a probe's target"
        );
    }

    #[test]
    fn paths_must_lie_within_allowed_dirs_after_resolving_links() {
        let root = tempfile::tempdir().unwrap();
        let allowed = root.path().join("allowed");
        let secret = root.path().join("secret");
        std::fs::create_dir_all(allowed.join("sub")).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::os::unix::fs::symlink(&secret, allowed.join("link")).unwrap();
        let s = PluginSettings {
            allow_paths: vec![allowed.clone()],
            allow_env: vec!["A".into()],
            ..Default::default()
        };
        let m = ManifestGrants {
            paths: vec![
                allowed.join("sub"),
                allowed.join("link"),
                secret.clone(),
                allowed.join("missing"),
            ],
            env: vec!["A".into(), "B".into()],
            ..Default::default()
        };
        let g = EffectiveGrants::new(&m, &s);
        assert_eq!(g.paths, [allowed.join("sub").canonicalize().unwrap()]);
        assert_eq!(g.env, ["A"]);
        assert_eq!(g.narrowed.len(), 4, "{:?}", g.narrowed);
        assert!(!g.any_host());
    }

    #[test]
    fn limits_are_capped_by_the_daemon() {
        let s = PluginSettings {
            max_memory_mb: 64,
            max_timeout_ms: 1000,
            ..Default::default()
        };
        let l = effective_limits(
            &ManifestLimits {
                memory_mb: 128,
                timeout_ms: Some(500),
                max_response_bytes: 7,
            },
            &s,
            World::Probe,
        );
        assert_eq!(
            l,
            PluginLimits {
                memory_mb: 64,
                timeout_ms: 500,
                max_response_bytes: 7
            }
        );
        let default = ManifestLimits::default();
        let probe = effective_limits(&default, &PluginSettings::default(), World::Probe);
        assert_eq!(probe.timeout_ms, 5000);
        let fixer = effective_limits(&default, &s, World::Fixer);
        assert_eq!(
            fixer.timeout_ms, 300_000,
            "agents wait on models: not capped by max_timeout_ms"
        );
        let long = ManifestLimits {
            timeout_ms: Some(3_600_000),
            ..default
        };
        assert_eq!(
            effective_limits(&long, &s, World::Onboarder).timeout_ms,
            600_000
        );
        assert_eq!(effective_limits(&long, &s, World::Probe).timeout_ms, 1000);
    }
}
