//! Plain-data counterparts of the WIT records the onboarder reads and writes (`onboarding`, `llm`,
//! `project`), and the traits the logic sees the host through. Nothing here names a binding type:
//! `component` converts at the boundary, the unit tests implement the traits with in-memory fakes.

use std::collections::BTreeMap;

// ---- onboarding ----

/// A file that led to a choice, and which choice.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub path: String,
    pub reason: String,
}

impl Evidence {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Evidence {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Service {
    pub name: String,
    pub argv: Vec<String>,
    /// Relative to the root, `""` for the root.
    pub working_dir: String,
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub health_path: Option<String>,
    pub data_dir: bool,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cron {
    pub name: String,
    pub schedule: String,
    pub argv: Vec<String>,
    pub working_dir: String,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub evidence: Vec<Evidence>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandType {
    Shell,
    Make,
    Exec,
}

/// A setup step: the `fixing.command` record plus where it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    pub command_type: CommandType,
    pub command: String,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub timeout_s: Option<u32>,
    pub reason: String,
    pub working_dir: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Author {
    #[default]
    Rule,
    Model,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub services: Vec<Service>,
    pub cron_jobs: Vec<Cron>,
    pub setup: Vec<Setup>,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
    pub notes: Vec<String>,
    pub author: Author,
    pub source: String,
}

// ---- project, log (shared with the other agent plugins) ----

pub use tend_agent_kit::{Entry, EntryKind, File, GrepMatch, Log, Project, ProjectError};

// ---- llm ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub tool_call_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub model: Option<String>,
    pub messages: Vec<Message>,
    /// JSON Schema the answer must match (the host checks it).
    pub response_schema: Option<String>,
    pub max_tokens: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
}

/// The host's `llm` interface; `Err` is the error's sentence.
pub trait Llm {
    fn complete(&mut self, request: &Request) -> Result<Response, String>;
}
