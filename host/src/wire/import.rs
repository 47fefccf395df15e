//! Importing service definitions written for other supervisors (`POST /api/import`, `tend import`):
//! the request (the file's format, name, content and directory) and the answer (the services
//! registered, or that would be, and a warning for every field that has no equivalent).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use super::ServiceSpec;

/// The formats `tend import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// MagicTunnel's `config.yaml`, its `supervisor:` section.
    Magictunnel,
    /// supervisord's `.conf` (`[program:x]` sections).
    Supervisord,
    /// A PM2 ecosystem file as JSON (a `.config.js` is evaluated by the CLI first).
    Pm2,
    /// process-compose's YAML (`processes:`).
    ProcessCompose,
    /// A Procfile (`name: command` lines).
    Procfile,
    /// A docker-compose file: the services run from a host command.
    Compose,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 6] = [
        ImportFormat::Magictunnel,
        ImportFormat::Supervisord,
        ImportFormat::Pm2,
        ImportFormat::ProcessCompose,
        ImportFormat::Procfile,
        ImportFormat::Compose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Magictunnel => "magictunnel",
            ImportFormat::Supervisord => "supervisord",
            ImportFormat::Pm2 => "pm2",
            ImportFormat::ProcessCompose => "process-compose",
            ImportFormat::Procfile => "procfile",
            ImportFormat::Compose => "compose",
        }
    }

    pub fn parse(s: &str) -> Option<ImportFormat> {
        ImportFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// `POST /api/import`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Detected from `file_name` and `content` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImportFormat>,
    /// The file's name (detection, messages); `%(here)s` and relative paths use `base_dir`.
    pub file_name: String,
    /// The file's text (a PM2 `.config.js` as the JSON its `module.exports` evaluates to).
    pub content: String,
    /// The absolute directory relative paths of the file are taken from, and the working directory
    /// of services that name none.
    #[schema(value_type = String)]
    pub base_dir: PathBuf,
    /// Convert and validate, register nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// PM2: merge each app's `env_<NAME>` over its `env` (as `pm2 start --env NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_name: Option<String>,
    /// supervisord: the values of the `%(ENV_X)s` the file expands (the importing user's environment).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(optional = nullable)]
    pub environment: BTreeMap<String, String>,
}

/// A field of the imported file that tend does not carry over, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ImportWarning {
    /// The object in the file: `program:web`, `services.db`, `apps[0]`, ...
    pub object: String,
    /// The field of that object (or the section, for a whole object that is skipped).
    pub field: String,
    pub reason: String,
}

/// `POST /api/import`'s answer: the services in the order they were (or would be) registered,
/// dependencies first.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ImportResult {
    pub format: ImportFormat,
    pub dry_run: bool,
    pub services: Vec<ServiceSpec>,
    pub warnings: Vec<ImportWarning>,
}
