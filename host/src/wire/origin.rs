//! Who asked for something: recorded with jobs and policy decisions, and a filter of `GET /api/audit`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The front end (or daemon part) a request came through. Serialised as the lowercase name, which is
/// also what the store keeps in its `origin` columns, so rows written before this enum stay readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The REST API (curl, scripts).
    Rest,
    /// The TCP control port.
    Tcp,
    /// The `tend` CLI (it says so in `x-tend-client: cli`).
    Cli,
    /// The web dashboard.
    Dashboard,
    /// An LLM agent's tool call.
    Agent,
    /// The cron scheduler.
    Cron,
    /// The daemon itself at boot.
    Boot,
}

impl Origin {
    pub const ALL: [Origin; 7] = [
        Origin::Rest,
        Origin::Tcp,
        Origin::Cli,
        Origin::Dashboard,
        Origin::Agent,
        Origin::Cron,
        Origin::Boot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Rest => "rest",
            Origin::Tcp => "tcp",
            Origin::Cli => "cli",
            Origin::Dashboard => "dashboard",
            Origin::Agent => "agent",
            Origin::Cron => "cron",
            Origin::Boot => "boot",
        }
    }

    pub fn parse(s: &str) -> Option<Origin> {
        Origin::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_names_are_the_stored_strings() {
        for o in Origin::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
            assert_eq!(Origin::parse(o.as_str()), Some(o));
        }
        // The strings rows were written with before the enum existed.
        for s in ["rest", "tcp", "cli"] {
            assert!(Origin::parse(s).is_some(), "{s}");
        }
        assert_eq!(Origin::parse("REST"), None);
    }
}
