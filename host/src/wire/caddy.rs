//! The Caddy integration (`/api/caddy/*`, `tend caddy`, `supervisor.caddy` in `/api/status`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Where the integration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaddyState {
    /// Nothing to do: no service is exposed, `[caddy] enabled` is not set and tend never applied a
    /// config; Caddy's admin API is not contacted.
    Idle,
    /// Caddy runs the configuration tend generated last.
    Applied,
    /// The last attempt failed (Caddy unreachable, rejected the config, or the generator failed); the
    /// last good configuration stays in force and a retry follows (`next_retry_at`).
    Failing,
    /// `[caddy] enabled = false`: the integration never talks to Caddy.
    Disabled,
}

impl CaddyState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaddyState::Idle => "idle",
            CaddyState::Applied => "applied",
            CaddyState::Failing => "failing",
            CaddyState::Disabled => "disabled",
        }
    }
}

/// The integration's status: `supervisor.caddy` in `/api/status`, `status` in the other answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CaddyStatus {
    pub state: CaddyState,
    pub admin_url: String,
    /// The `proxy-config` plugin that generates the configuration.
    pub plugin: String,
    /// Services with `expose_caddy`.
    pub exposed: usize,
    /// RFC 3339: when Caddy last accepted a configuration from this daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
    /// Failed attempts in a row.
    pub failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<String>,
    /// Where the readable rendering is written (`CADDY_SUPERVISOR_FILE`).
    #[schema(value_type = String)]
    pub supervisor_file: PathBuf,
}

/// One exposed service as given to the generator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CaddyService {
    pub name: String,
    /// `host:port` the proxy sends requests to.
    pub upstream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `healthy`, `unhealthy` or `unknown`.
    pub health: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional = nullable)]
    pub headers: Vec<(String, String)>,
}

/// `GET /api/caddy/config`: what would be applied now, and what was applied last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CaddyConfigView {
    pub plugin: String,
    /// The settings JSON the generator gets.
    pub settings: serde_json::Value,
    pub services: Vec<CaddyService>,
    /// The generated JSON (`route`, optional `server` and `tls_policy`); absent when generation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// The readable rendering (a Caddyfile for the built-in generator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddyfile: Option<String>,
    /// Why generation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The configuration Caddy last accepted from this daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<serde_json::Value>,
    /// `config` equals `applied`.
    pub in_sync: bool,
    pub status: CaddyStatus,
}

/// `POST /api/caddy/reload` (success; failures answer 502 with the error).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct CaddyReloadReport {
    /// What the reload did, e.g. `inserted the route group into server srv0`.
    pub action: String,
    pub status: CaddyStatus,
}
