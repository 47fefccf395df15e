//! `PolicySettings`: the `[policy]` table of `tend.toml` (and `TEND_ENVIRONMENT`). Plain data with the
//! documented defaults (README, "Command-safety policy"); `validate` rejects nonsense.

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// The `command-policy` plugin asked about every command (a built-in or a user plugin's name).
    pub plugin: String,
    /// The daemon's environment name; `production` turns on the `allowed_in_production` rule.
    /// `TEND_ENVIRONMENT` overrides it.
    pub environment: String,
    /// Let commands declared `is_safe: false` run (the other rules still apply).
    pub allow_unsafe: bool,
    /// Longest one decision may take; the plugin's own `limits.timeout_ms` caps it too.
    pub timeout_ms: u64,
    /// Interpreters whose inline code (`python3 -c`, `node -e`, an awk program) the built-in policy
    /// lets run. Empty by default: inline code is denied, script files of the project run.
    pub interpreters: Vec<String>,
    /// Programs added to the built-in policy's allow-list (their destructive targets are still
    /// checked). Empty by default.
    pub programs: Vec<String>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            plugin: "policy".into(),
            environment: "development".into(),
            allow_unsafe: false,
            timeout_ms: 2000,
            interpreters: Vec::new(),
            programs: Vec::new(),
        }
    }
}

impl PolicySettings {
    /// The file's table with `TEND_ENVIRONMENT` (when set and not empty) over `environment`.
    pub fn with_env(mut self, environment: Option<String>) -> PolicySettings {
        if let Some(e) = environment.filter(|e| !e.trim().is_empty()) {
            self.environment = e.trim().to_string();
        }
        self
    }

    pub fn production(&self) -> bool {
        self.environment.eq_ignore_ascii_case("production")
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.plugin.trim().is_empty() {
            return Err(
                "policy.plugin must name a command-policy plugin (default \"policy\")".into(),
            );
        }
        if self.environment.trim().is_empty() {
            return Err(
                "policy.environment must not be empty (e.g. \"development\", \"production\")"
                    .into(),
            );
        }
        for (field, names) in [
            ("policy.interpreters", &self.interpreters),
            ("policy.programs", &self.programs),
        ] {
            if names.len() > 256 {
                return Err(format!("{field} lists more than 256 names"));
            }
            if let Some(bad) = names.iter().find(|n| !program_name(n)) {
                return Err(format!(
                    "{field}: {bad:?} is not a program name (letters, digits, `._+-`, no `/`, at most 64 characters)"
                ));
            }
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(format!(
                "policy.timeout_ms must be between 1 and 60000, got {}",
                self.timeout_ms
            ));
        }
        Ok(())
    }
}

/// A program's file name, as the policy compares it (`python3`, `docker-compose`).
fn program_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        && !n.starts_with(['-', '.'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_env_override_and_validation() {
        let d = PolicySettings::default();
        assert_eq!(d.validate(), Ok(()));
        assert!(!d.production());
        let p = d.clone().with_env(Some("Production".into()));
        assert!(p.production());
        assert_eq!(
            d.clone().with_env(Some("  ".into())).environment,
            "development"
        );
        let bad = PolicySettings {
            timeout_ms: 0,
            ..d.clone()
        };
        assert!(bad.validate().unwrap_err().contains("timeout_ms"));
        let bad = PolicySettings {
            plugin: String::new(),
            ..d.clone()
        };
        assert!(bad.validate().unwrap_err().contains("policy.plugin"));
        let bad = PolicySettings {
            interpreters: vec!["/usr/bin/python3".into()],
            ..d.clone()
        };
        assert!(bad.validate().unwrap_err().contains("policy.interpreters"));
        let bad = PolicySettings {
            programs: vec![String::new()],
            ..d
        };
        assert!(bad.validate().unwrap_err().contains("policy.programs"));
    }

    #[test]
    fn table_parses_with_defaults() {
        let s: PolicySettings = toml::from_str("allow_unsafe = true\nplugin = \"mine\"").unwrap();
        assert!(s.allow_unsafe);
        assert_eq!(s.plugin, "mine");
        assert_eq!(s.timeout_ms, 2000);
        assert!(s.interpreters.is_empty() && s.programs.is_empty());
        let s: PolicySettings =
            toml::from_str("interpreters = [\"python3\"]\nprograms = [\"docker\"]").unwrap();
        assert_eq!(
            (s.interpreters, s.programs),
            (vec!["python3".to_string()], vec!["docker".to_string()])
        );
        assert!(toml::from_str::<PolicySettings>("bogus = 1").is_err());
    }
}
