//! Plain-data counterparts of the WIT records the fixer reads and writes (`fixing`, `llm`,
//! `project`), and the traits the logic sees the host through. Nothing here names a binding type:
//! `component` converts at the boundary, the unit tests implement the traits with in-memory fakes.

// ---- fixing ----

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncidentKind {
    #[default]
    CrashLoop,
    HealthFailure,
    CronFailure,
    Manual,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetKind {
    #[default]
    Service,
    CronJob,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: u32,
    pub command: String,
    pub leftover: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    pub diagnosis: String,
    pub outcome: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Incident {
    pub kind: IncidentKind,
    pub target: TargetKind,
    pub name: String,
    pub command: String,
    pub argv: Vec<String>,
    pub working_dir: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub restarts: u32,
    pub log_tail: Vec<String>,
    pub env_names: Vec<String>,
    pub env_file: Option<String>,
    pub port: Option<u16>,
    pub port_holder: Option<PortHolder>,
    pub health_message: Option<String>,
    pub previous: Vec<Attempt>,
    pub model: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    Replace {
        path: String,
        base_sha256: String,
        old: String,
        new: String,
    },
    Create {
        path: String,
        content: String,
        executable: bool,
    },
    CreateDir(String),
    SetExecutable {
        path: String,
        base_sha256: String,
        executable: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandType {
    Shell,
    Make,
    Exec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixCommand {
    pub command_type: CommandType,
    pub command: String,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub timeout_s: Option<u32>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Rule,
    Model,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub diagnosis: String,
    pub confidence: f32,
    pub edits: Vec<Edit>,
    pub commands: Vec<FixCommand>,
    pub restart: bool,
    pub author: Author,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Fix(Proposal),
    NoSafeFix(String),
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

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub parameters: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub response_schema: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    Other,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub message: Message,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub model: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmError {
    NotConfigured(String),
    BudgetExceeded(String),
    Timeout,
    RateLimited(String),
    Rejected(String),
    Provider(String),
    InvalidAnswer(String),
    InvalidRequest(String),
}

impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LlmError::NotConfigured(m) => write!(f, "no model configured: {m}"),
            LlmError::BudgetExceeded(m) => write!(f, "token budget used up: {m}"),
            LlmError::Timeout => write!(f, "the model did not answer in time"),
            LlmError::RateLimited(m) => write!(f, "rate-limited: {m}"),
            LlmError::Rejected(m) => write!(f, "the provider refused the request: {m}"),
            LlmError::Provider(m) => write!(f, "the provider failed: {m}"),
            LlmError::InvalidAnswer(m) => write!(f, "invalid answer: {m}"),
            LlmError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
        }
    }
}

/// The `llm` interface.
pub trait Llm {
    fn complete(&mut self, request: &Request) -> Result<Response, LlmError>;
}
