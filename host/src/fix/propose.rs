//! Asking the `[autofix] plugin` for a proposal: the one call into `plugins` (a `fixer` world call
//! on the agent pool). Answers plain data; a failed call is an error string.

use std::path::Path;

use crate::plugins::PluginHost;
use crate::wire::{FixAnswer, Incident, Usage};

/// What a fixer call gave.
pub struct Call {
    pub answer: Result<FixAnswer, String>,
    pub llm_calls: u32,
    pub usage: Usage,
    pub duration_ms: u64,
}

pub async fn propose(plugins: &PluginHost, plugin: &str, incident: Incident, root: &Path) -> Call {
    let _ = (plugins, incident, root);
    Call {
        answer: Err(format!(
            "the fixer plugin {plugin:?} cannot be called by this build (no fixer world host)"
        )),
        llm_calls: 0,
        usage: Usage::default(),
        duration_ms: 0,
    }
}
