//! The command-safety policy: asks the `command-policy` plugin about every command tend runs on
//! someone's behalf, fails closed, and audits every decision in the store.
//!
//! INTERFACE SKELETON (owned by the policy work): `evaluate` must call the plugin and audit.

use std::collections::BTreeMap;
use std::path::Path;

use crate::plugins::PluginHost;
use crate::store::Store;
use crate::wire::WorkflowCommand;

/// What is asked about one command.
pub struct Ask<'a> {
    pub command: &'a WorkflowCommand,
    /// What will be executed (for `shell`: `["sh", "-c", command]`).
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub service: &'a str,
    /// The environment the command runs with (the service's env).
    pub vars: &'a BTreeMap<String, String>,
    /// Who asks: `rest`, `tcp`, `cli`, `fixer`.
    pub origin: &'a str,
}

/// The answer: allowed, or denied with a reason. Already audited when returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Why it was denied (empty when allowed).
    pub reason: String,
    /// The audit row recording this decision.
    pub audit_id: i64,
}

#[derive(Clone)]
pub struct Policy {
    #[allow(dead_code)]
    plugins: PluginHost,
    #[allow(dead_code)]
    store: Store,
}

impl Policy {
    pub fn new(plugins: PluginHost, store: Store) -> Policy {
        Policy { plugins, store }
    }

    /// Asks the policy plugin; a trap, timeout or missing plugin means deny.
    pub async fn evaluate(&self, _ask: Ask<'_>) -> Verdict {
        Verdict {
            allowed: false,
            reason: "no command policy is wired yet".into(),
            audit_id: 0,
        }
    }
}
