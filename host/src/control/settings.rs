//! `ControlSettings`: the `[control]` table of `tend.toml` and `--control-port` / `TEND_CONTROL_PORT`.
//! Plain data with the documented defaults (README, "TCP control port"); `config` merges the sources,
//! `validate` rejects nonsense before anything listens.

use serde::Deserialize;

use crate::wire::{ControlVerb, DEFAULT_CONTROL_PORT};

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlSettings {
    /// TCP port on the API's host; 0 disables the control port.
    pub port: u16,
    /// Verbs this port serves (case-insensitive); absent: all. `auth`, `help` and `quit` are always
    /// served.
    pub allowed_commands: Option<Vec<String>>,
    /// Connections from a loopback address are authenticated without `auth`. Default false: every
    /// connection must send `auth <token>` first.
    pub loopback_without_auth: bool,
    /// Longest request line, in bytes (newline excluded).
    pub max_line_bytes: usize,
    /// A connection that sends no request for this long is closed (blank lines do not count).
    pub idle_timeout_s: u64,
    /// A connection that is not authenticated this many seconds after it opened is closed.
    pub auth_timeout_s: u64,
    /// Connections served at once; more are answered `too_many_connections` and closed.
    pub max_connections: usize,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            port: DEFAULT_CONTROL_PORT,
            allowed_commands: None,
            loopback_without_auth: false,
            max_line_bytes: 64 * 1024,
            idle_timeout_s: 300,
            auth_timeout_s: 5,
            max_connections: 256,
        }
    }
}

/// Upper bounds: beyond them a setting is a typo, not a wish.
const MAX_LINE_BYTES: usize = 16 << 20;
const MAX_CONNECTIONS: usize = 65_536;
const MAX_IDLE_S: u64 = 7 * 86_400;
const MAX_AUTH_S: u64 = 300;

impl ControlSettings {
    pub fn validate(&self) -> Result<(), String> {
        self.allowed_verbs()?;
        if !(256..=MAX_LINE_BYTES).contains(&self.max_line_bytes) {
            return Err(format!(
                "control.max_line_bytes must be between 256 and {MAX_LINE_BYTES}, got {}",
                self.max_line_bytes
            ));
        }
        if !(1..=MAX_IDLE_S).contains(&self.idle_timeout_s) {
            return Err(format!(
                "control.idle_timeout_s must be between 1 and {MAX_IDLE_S}, got {}",
                self.idle_timeout_s
            ));
        }
        if !(1..=MAX_AUTH_S).contains(&self.auth_timeout_s) {
            return Err(format!(
                "control.auth_timeout_s must be between 1 and {MAX_AUTH_S}, got {}",
                self.auth_timeout_s
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "control.max_connections must be between 1 and {MAX_CONNECTIONS}, got {}",
                self.max_connections
            ));
        }
        Ok(())
    }

    /// The verbs served: `allowed_commands` (or every verb) plus the ones always allowed.
    pub fn allowed_verbs(&self) -> Result<Vec<ControlVerb>, String> {
        let Some(names) = &self.allowed_commands else {
            return Ok(ControlVerb::ALL.to_vec());
        };
        let mut verbs: Vec<ControlVerb> = ControlVerb::ALL
            .into_iter()
            .filter(|v| v.always_allowed())
            .collect();
        for name in names {
            let verb = ControlVerb::parse(name.trim()).ok_or_else(|| {
                let known: Vec<&str> = ControlVerb::ALL.iter().map(|v| v.as_str()).collect();
                format!(
                    "control.allowed_commands: unknown verb {name:?} (known: {})",
                    known.join(", ")
                )
            })?;
            verbs.push(verb);
        }
        verbs.sort();
        verbs.dedup();
        Ok(verbs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_serve_every_verb() {
        let s = ControlSettings::default();
        s.validate().unwrap();
        assert_eq!(s.allowed_verbs().unwrap(), ControlVerb::ALL.to_vec());
        assert_eq!(s.port, 9901);
    }

    #[test]
    fn allowed_commands_are_case_insensitive_and_keep_auth_help_quit() {
        let s: ControlSettings =
            toml::from_str("allowed_commands = [\"STATUS\", \"logs\"]").unwrap();
        assert_eq!(
            s.allowed_verbs().unwrap(),
            vec![
                ControlVerb::Auth,
                ControlVerb::Status,
                ControlVerb::Logs,
                ControlVerb::Help,
                ControlVerb::Quit
            ]
        );
    }

    #[test]
    fn nonsense_is_rejected_naming_the_key() {
        let bad = [
            "allowed_commands = [\"reboot\"]",
            "max_line_bytes = 10",
            "idle_timeout_s = 0",
            "auth_timeout_s = 0",
            "auth_timeout_s = 301",
            "max_connections = 0",
        ];
        for text in bad {
            let s: ControlSettings = toml::from_str(text).unwrap();
            let err = s.validate().unwrap_err();
            let key = text.split(' ').next().unwrap();
            assert!(err.contains(key), "{text}: {err}");
        }
        assert!(toml::from_str::<ControlSettings>("bogus = 1").is_err());
    }
}
