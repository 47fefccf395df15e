//! Asking the `[autofix] plugin` for a proposal: the one call into `plugins` (`PluginHost::
//! propose_fix`, a `fixer` world call on the agent pool, its `project` reads jailed to `root`).
//! Answers plain data; a failed call is an error string.

use std::path::Path;

use crate::plugins::{FixCall, PluginHost};
use crate::wire::Incident;

pub async fn propose(
    plugins: &PluginHost,
    plugin: &str,
    incident: Incident,
    root: &Path,
) -> FixCall {
    plugins.propose_fix(plugin, incident, root).await
}
