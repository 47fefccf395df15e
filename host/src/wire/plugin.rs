//! Plugins (`GET /api/plugins`, `GET /api/plugins/{name}`, `POST /api/plugins/reload`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Where a plugin was loaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PluginSource {
    /// Embedded in the `tend` binary.
    Builtin,
    /// `<data_dir>/plugins/NAME.wasm`.
    User,
    /// A user plugin with the name of a built-in, which it replaces.
    UserOverridesBuiltin,
}

impl PluginSource {
    /// How people read it (`tend plugin ls`).
    pub fn label(self) -> &'static str {
        match self {
            PluginSource::Builtin => "builtin",
            PluginSource::User => "user",
            PluginSource::UserOverridesBuiltin => "user (overrides built-in)",
        }
    }
}

/// What a plugin may reach: the manifest's grants narrowed to what the daemon allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PluginGrants {
    /// `host`, `host:port` or `$target` (the checked service's own host:port).
    pub hosts: Vec<String>,
    /// Directories preopened read-only (host path = guest path).
    #[schema(value_type = Vec<String>)]
    pub paths: Vec<PathBuf>,
    /// Names of daemon environment variables passed through.
    pub env: Vec<String>,
    /// May complete conversations through the LLM gateway (`llm`; fixer and onboarder plugins).
    #[serde(default)]
    pub llm: bool,
    /// May read the project an operation is about (`project`, jailed to its root; fixer and
    /// onboarder plugins).
    #[serde(default)]
    pub project: bool,
}

/// Per-call limits in force for a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PluginLimits {
    pub memory_mb: u64,
    pub timeout_ms: u64,
    pub max_response_bytes: u64,
}

/// Call latencies counted into fixed buckets: `counts[i]` calls took at most `bounds_us[i]`
/// (and more than the bound before); the last count is everything slower than the last bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LatencyHistogram {
    pub bounds_us: Vec<u64>,
    pub counts: Vec<u64>,
}

/// One failed (or denied) call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PluginCallError {
    /// RFC 3339, UTC.
    pub time: String,
    /// The outcome kind: `trap`, `timeout`, `out_of_memory`, `denied`, `plugin_error`, ...
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PluginStats {
    /// Calls asked for, including those refused while suspended.
    pub calls: u64,
    pub ok: u64,
    /// Failed calls by outcome kind.
    pub failures: BTreeMap<String, u64>,
    /// Capability requests refused by the sandbox (a call may have several, and may still succeed).
    pub denials: u64,
    /// Traps (including timeouts and out-of-memory) since the last successful call.
    pub consecutive_traps: u32,
    pub latency: LatencyHistogram,
    /// Newest last.
    pub last_errors: Vec<PluginCallError>,
}

/// Why the last attempt to load a plugin's files failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct PluginRejection {
    /// RFC 3339, UTC.
    pub time: String,
    pub reason: String,
    /// sha256 of the rejected `.wasm`, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Whether a plugin can be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    Loaded,
    /// Loaded, but refusing calls until `suspended_until` after trapping repeatedly.
    Suspended,
    /// Never loaded: its files were rejected (see `rejected`).
    Rejected,
}

/// Where a loaded plugin's compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginCode {
    /// A built-in's code precompiled into the `tend` executable (`tend __precompile-builtins`).
    Precompiled,
    /// The on-disk compile cache of the data dir.
    Cache,
    /// Compiled at this load (in a short-lived child process).
    Compiled,
}

/// `GET /api/plugins/{name}` and list entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct PluginInfo {
    pub name: String,
    pub state: PluginState,
    /// The world from the manifest (empty when a rejected plugin's manifest did not parse).
    pub world: String,
    /// The `tend:plugin` package version the component was built against (`0.2.3` for every 0.2.x component, or `0.1.0`, which
    /// the host adapts); absent when nothing is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wit: Option<String>,
    pub version: String,
    pub description: String,
    pub source: PluginSource,
    /// The `.wasm` file; absent for built-ins, which are embedded in the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub path: Option<PathBuf>,
    pub sha256: String,
    /// Effective grants (manifest ∩ daemon settings).
    pub grants: PluginGrants,
    pub limits: PluginLimits,
    /// The manifest's `[config]`: defaults under each service's probe config.
    pub config: serde_json::Value,
    /// `true` when the code was not compiled at this load (`code` is `precompiled` or `cache`).
    pub from_cache: bool,
    /// Where the compiled code came from; absent when nothing is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<PluginCode>,
    /// RFC 3339, UTC; empty when never loaded.
    pub loaded_at: String,
    pub stats: PluginStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
    /// The last rejected version of this plugin's files, while they are still the current files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<PluginRejection>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadAction {
    /// A new or changed plugin is now in use.
    Loaded,
    Unchanged,
    /// The files were refused; the previous version (if any) stays loaded.
    Rejected,
    /// Its files are gone; the plugin was unloaded.
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ReloadEntry {
    pub name: String,
    pub action: ReloadAction,
    pub source: PluginSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `rejected`: whether an earlier version is still loaded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional = nullable)]
    pub previous_kept: bool,
}

/// `POST /api/plugins/reload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ReloadReport {
    pub plugins: Vec<ReloadEntry>,
}

impl ReloadReport {
    pub fn rejected(&self) -> impl Iterator<Item = &ReloadEntry> {
        self.plugins
            .iter()
            .filter(|e| e.action == ReloadAction::Rejected)
    }
}
