//! The plugin manifest `<name>.toml`: parsing and shape validation (see the contract in
//! `ARCHITECTURE.md`). Pure: no file access, no narrowing by daemon settings (that is `grants`).

use std::path::PathBuf;

use serde::Deserialize;

use super::bindings::World;
use super::pattern::HostPattern;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Which world the component must implement.
    pub world: String,
    /// The plugin's own version.
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub grants: ManifestGrants,
    #[serde(default)]
    pub limits: ManifestLimits,
    /// Defaults merged under each service's probe config.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManifestGrants {
    pub hosts: Vec<String>,
    pub paths: Vec<PathBuf>,
    pub env: Vec<String>,
    /// May import `llm` (agent worlds only).
    pub llm: bool,
    /// May import `project` (agent worlds only).
    pub project: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManifestLimits {
    pub memory_mb: u64,
    /// `None`: the world's default (`DEFAULT_TIMEOUT_MS`, or `agent::AGENT_DEFAULT_TIMEOUT_MS`).
    pub timeout_ms: Option<u64>,
    pub max_response_bytes: u64,
}

/// A call's time limit when the manifest names none (agent worlds: `agent::AGENT_DEFAULT_TIMEOUT_MS`).
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;

impl Default for ManifestLimits {
    fn default() -> Self {
        ManifestLimits {
            memory_mb: 32,
            timeout_ms: None,
            max_response_bytes: 1 << 20,
        }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Largest memory a manifest may ask for; the daemon's `max_memory_mb` narrows it further.
const MEMORY_MB_CEILING: u64 = 4096;

impl Manifest {
    /// Parses and validates; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let m: Manifest = toml::from_str(text)
            .map_err(|e| format!("bad manifest: {}", e.to_string().trim_end()))?;
        m.validate().map_err(|e| format!("bad manifest: {e}"))?;
        Ok(m)
    }

    /// The world, known to be one of `tend:plugin`'s after `parse`.
    pub fn world(&self) -> World {
        World::parse(&self.world).unwrap_or(World::Probe)
    }

    fn validate(&self) -> Result<(), String> {
        if World::parse(&self.world).is_none() {
            let known: Vec<&str> = World::ALL.iter().map(|w| w.name()).collect();
            return Err(format!(
                "unknown world {:?} (known: {})",
                self.world,
                known.join(", ")
            ));
        }
        if self.version.trim().is_empty() {
            return Err("`version` is empty".into());
        }
        for h in &self.grants.hosts {
            if h != "$target" {
                HostPattern::parse(h).map_err(|e| format!("grants.hosts: {e}"))?;
            }
        }
        for p in &self.grants.paths {
            if !p.is_absolute() || p.to_str().is_none() {
                return Err(format!(
                    "grants.paths: {} is not an absolute UTF-8 path",
                    p.display()
                ));
            }
        }
        for e in &self.grants.env {
            let mut chars = e.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "grants.env: {e:?} is not an environment variable name"
                ));
            }
        }
        let world = self.world();
        for (asked, grant) in [(self.grants.llm, "llm"), (self.grants.project, "project")] {
            if asked && !super::agent::is_agent(world) {
                return Err(format!(
                    "grants.{grant} is for fixer and onboarder plugins, not world `{}`",
                    world.name()
                ));
            }
        }
        let l = &self.limits;
        if l.memory_mb == 0 || l.memory_mb > MEMORY_MB_CEILING {
            return Err(format!("limits.memory_mb must be 1..={MEMORY_MB_CEILING}"));
        }
        if l.timeout_ms == Some(0) || l.max_response_bytes == 0 {
            return Err("limits.timeout_ms and limits.max_response_bytes must be positive".into());
        }
        if !self.config.is_object() {
            return Err("`config` must be a table".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_manifest_parses_with_defaults_filled_in() {
        let m = Manifest::parse(
            r#"
            world = "probe"
            version = "0.1.0"
            description = "HTTP probe"
            [grants]
            hosts = ["$target", "example.org:80", "[::1]:8080"]
            paths = ["/etc/ssl"]
            env = ["HOME", "_X1"]
            [limits]
            timeout_ms = 2000
            [config]
            path = "/health"
            expect = { status = 200 }
            "#,
        )
        .unwrap();
        assert_eq!(m.world(), World::Probe);
        assert_eq!(
            m.limits,
            ManifestLimits {
                memory_mb: 32,
                timeout_ms: Some(2000),
                max_response_bytes: 1 << 20
            }
        );
        assert_eq!(
            m.config,
            serde_json::json!({ "path": "/health", "expect": { "status": 200 } })
        );
        assert_eq!(m.grants.env, ["HOME", "_X1"]);
        assert!(!m.grants.llm && !m.grants.project);
    }

    #[test]
    fn agent_worlds_may_ask_for_llm_and_project() {
        let m = Manifest::parse(
            "world = \"fixer\"\nversion = \"1\"\n[grants]\nllm = true\nproject = true",
        )
        .unwrap();
        assert!(m.grants.llm && m.grants.project);
        assert_eq!(m.limits.timeout_ms, None, "the world's default applies");
    }

    #[test]
    fn minimal_manifest_gets_contract_defaults() {
        let m = Manifest::parse("world = \"command-policy\"\nversion = \"1\"").unwrap();
        assert_eq!(m.world(), World::CommandPolicy);
        assert_eq!(m.grants, ManifestGrants::default());
        assert_eq!(m.limits, ManifestLimits::default());
        assert_eq!(m.config, serde_json::json!({}));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("world = \"probe\"", "version"),
            (
                "world = \"nope\"\nversion = \"1\"",
                "unknown world \"nope\"",
            ),
            ("world = \"probe\"\nversion = \"1\"\nwrold = 1", "wrold"),
            (
                "world = \"probe\"\nversion = \"1\"\n[grants]\nhosts = [\"a:b\"]",
                "grants.hosts",
            ),
            (
                "world = \"probe\"\nversion = \"1\"\n[grants]\npaths = [\"rel\"]",
                "absolute",
            ),
            (
                "world = \"probe\"\nversion = \"1\"\n[grants]\nenv = [\"A-B\"]",
                "grants.env",
            ),
            (
                "world = \"probe\"\nversion = \"1\"\n[limits]\nmemory_mb = 0",
                "memory_mb",
            ),
            ("world = \"probe\"\nversion = \" \"", "version"),
            (
                "world = \"probe\"\nversion = \"1\"\n[grants]\nllm = true",
                "grants.llm is for fixer and onboarder plugins, not world `probe`",
            ),
            (
                "world = \"command-policy\"\nversion = \"1\"\n[grants]\nproject = true",
                "grants.project is for fixer and onboarder plugins",
            ),
            ("not toml at all", "bad manifest"),
        ] {
            let err = Manifest::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
