//! `AutofixSettings`: the `[autofix]` table of `tend.toml`, with `AUTOFIX_ENABLED` and
//! `AUTOFIX_TIMEOUT` over it. Plain data with the documented defaults; `validate` rejects nonsense.

use serde::Deserialize;

use crate::wire::{Author, FixMode};

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutofixSettings {
    /// Off: no fixer is ever asked, manual fixes are refused. `AUTOFIX_ENABLED=false` wins.
    pub enabled: bool,
    /// Bounds one fix end to end (diagnosis, apply, commands, verification). `AUTOFIX_TIMEOUT` wins.
    pub timeout_s: u64,
    /// The `fixer` plugin asked.
    pub plugin: String,
    /// What happens to a proposal from a deterministic rule.
    pub rules: FixMode,
    /// What happens to a model-written proposal.
    pub models: FixMode,
    /// At most this many fixes of one target per `window_s` (manual ones included).
    pub max_attempts: u32,
    pub window_s: u64,
    /// After a fix of a target ends, automatic triggers of it wait this long.
    pub cooldown_s: u64,
    /// A service restarting this many times within `restarts_window_s` triggers a fix.
    pub restarts_trigger: u32,
    pub restarts_window_s: u64,
    /// How long a service without a health check must stay up after a fix for it to count.
    pub verify_window_s: u64,
    /// Backups kept per target.
    pub keep_backups: usize,
}

impl Default for AutofixSettings {
    fn default() -> Self {
        AutofixSettings {
            enabled: true,
            timeout_s: 300,
            plugin: "fixer".into(),
            rules: FixMode::Auto,
            models: FixMode::Approve,
            max_attempts: 3,
            window_s: 3600,
            cooldown_s: 60,
            restarts_trigger: 5,
            restarts_window_s: 300,
            verify_window_s: 10,
            keep_backups: 10,
        }
    }
}

impl AutofixSettings {
    /// The file's table with the environment over it (`get` reads a variable).
    pub fn with_env(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        if let Some(v) = get("AUTOFIX_ENABLED").filter(|v| !v.trim().is_empty()) {
            self.enabled = match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                other => {
                    return Err(format!(
                        "AUTOFIX_ENABLED: expected true or false, got {other:?}"
                    ));
                }
            };
        }
        if let Some(v) = get("AUTOFIX_TIMEOUT").filter(|v| !v.trim().is_empty()) {
            self.timeout_s = v
                .trim()
                .parse()
                .map_err(|_| format!("AUTOFIX_TIMEOUT: expected seconds, got {v:?}"))?;
        }
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.plugin.trim().is_empty() {
            return Err("autofix.plugin must name a fixer plugin (default \"fixer\")".into());
        }
        for (key, value, min, max) in [
            ("autofix.timeout_s", self.timeout_s, 1, 86_400),
            ("autofix.window_s", self.window_s, 1, 30 * 86_400),
            ("autofix.cooldown_s", self.cooldown_s, 0, 86_400),
            (
                "autofix.restarts_window_s",
                self.restarts_window_s,
                1,
                86_400,
            ),
            ("autofix.verify_window_s", self.verify_window_s, 1, 3600),
            (
                "autofix.max_attempts",
                u64::from(self.max_attempts),
                1,
                1000,
            ),
            (
                "autofix.restarts_trigger",
                u64::from(self.restarts_trigger),
                1,
                1000,
            ),
            ("autofix.keep_backups", self.keep_backups as u64, 1, 1000),
        ] {
            if !(min..=max).contains(&value) {
                return Err(format!(
                    "{key} must be between {min} and {max}, got {value}"
                ));
            }
        }
        Ok(())
    }

    /// The mode for a proposal by `author`, a target's own mode (`over`) winning.
    pub fn mode_for(&self, author: Author, over: Option<FixMode>) -> FixMode {
        if !self.enabled {
            return FixMode::Off;
        }
        over.unwrap_or(match author {
            Author::Rule => self.rules,
            Author::Model => self.models,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_and_bad_values_are_named() {
        let env = |k: &str| match k {
            "AUTOFIX_ENABLED" => Some("false".to_string()),
            "AUTOFIX_TIMEOUT" => Some("42".to_string()),
            _ => None,
        };
        let s = AutofixSettings::default().with_env(env).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.timeout_s, 42);
        assert_eq!(s.mode_for(Author::Rule, Some(FixMode::Auto)), FixMode::Off);
        let bad = AutofixSettings::default()
            .with_env(|k| (k == "AUTOFIX_TIMEOUT").then(|| "soon".to_string()))
            .unwrap_err();
        assert!(bad.contains("AUTOFIX_TIMEOUT"), "{bad}");
        let d = AutofixSettings::default();
        assert_eq!(d.mode_for(Author::Rule, None), FixMode::Auto);
        assert_eq!(d.mode_for(Author::Model, None), FixMode::Approve);
        assert_eq!(
            d.mode_for(Author::Model, Some(FixMode::Propose)),
            FixMode::Propose
        );
    }
}
