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
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            plugin: "policy".into(),
            environment: "development".into(),
            allow_unsafe: false,
            timeout_ms: 2000,
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
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(format!(
                "policy.timeout_ms must be between 1 and 60000, got {}",
                self.timeout_ms
            ));
        }
        Ok(())
    }
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
            ..d
        };
        assert!(bad.validate().unwrap_err().contains("policy.plugin"));
    }

    #[test]
    fn table_parses_with_defaults() {
        let s: PolicySettings = toml::from_str("allow_unsafe = true\nplugin = \"mine\"").unwrap();
        assert!(s.allow_unsafe);
        assert_eq!(s.plugin, "mine");
        assert_eq!(s.timeout_ms, 2000);
        assert!(toml::from_str::<PolicySettings>("bogus = 1").is_err());
    }
}
