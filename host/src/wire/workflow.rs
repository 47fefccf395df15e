//! Custom-restart workflows and background jobs (`POST /api/services/{name}/custom-restart`,
//! `GET /api/jobs/{id}`, the TCP verb `custom-restart`, `tend custom-restart`).

use serde::{Deserialize, Serialize};

/// How a workflow command is run: `shell` as `sh -c <command>`, `make` as `make <args...>`, `exec` as
/// the argv split from `command` with shell-like quoting (no shell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandType {
    Shell,
    Make,
    Exec,
}

impl CommandType {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandType::Shell => "shell",
            CommandType::Make => "make",
            CommandType::Exec => "exec",
        }
    }
}

/// One pre- or post-command (the seed format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowCommand {
    pub command_type: CommandType,
    pub command: String,
    /// Declared by the caller; `false` is denied unless `[policy] allow_unsafe`.
    #[serde(default)]
    pub is_safe: bool,
    /// Declared by the caller; required when the daemon's environment is `production`.
    #[serde(default)]
    pub allowed_in_production: bool,
    /// Seconds before the command's tree is killed and the step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
}

/// The body of a custom restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRestartRequest {
    #[serde(default)]
    pub pre_commands: Vec<WorkflowCommand>,
    #[serde(default)]
    pub post_commands: Vec<WorkflowCommand>,
    /// Appended to the service's command for the next run only.
    #[serde(default)]
    pub args: Vec<String>,
}
