//! Types of the TCP control port (`control`): requests are lines, responses one JSON object per line.
//!
//! A request is `<verb> [arguments]` (verbs are case-insensitive); a response is
//! `{"ok":true, <one payload key>}` or `{"ok":false,"error":{"code","message"[,"field"]}}`. The
//! payloads are the REST API's own types, so a status, an action result or a log line reads the same
//! on both. `ControlRequest::to_line` renders a request for clients; the daemon's parser is
//! `control::parse`.

use serde::{Deserialize, Serialize};

use super::{
    ActionResponse, Code, CustomRestartRequest, ErrorDetail, JobView, LogLine, ServiceView,
    StatusResponse,
};

/// Default TCP control port (`--control-port`, `TEND_CONTROL_PORT`, `[control] port`; 0 disables).
pub const DEFAULT_CONTROL_PORT: u16 = 9901;

/// Every verb of the control port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlVerb {
    Auth,
    Status,
    Start,
    Stop,
    Restart,
    CustomRestart,
    Job,
    Cancel,
    Logs,
    Shutdown,
    Help,
    Quit,
}

impl ControlVerb {
    pub const ALL: [ControlVerb; 12] = [
        ControlVerb::Auth,
        ControlVerb::Status,
        ControlVerb::Start,
        ControlVerb::Stop,
        ControlVerb::Restart,
        ControlVerb::CustomRestart,
        ControlVerb::Job,
        ControlVerb::Cancel,
        ControlVerb::Logs,
        ControlVerb::Shutdown,
        ControlVerb::Help,
        ControlVerb::Quit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlVerb::Auth => "auth",
            ControlVerb::Status => "status",
            ControlVerb::Start => "start",
            ControlVerb::Stop => "stop",
            ControlVerb::Restart => "restart",
            ControlVerb::CustomRestart => "custom-restart",
            ControlVerb::Job => "job",
            ControlVerb::Cancel => "cancel",
            ControlVerb::Logs => "logs",
            ControlVerb::Shutdown => "shutdown",
            ControlVerb::Help => "help",
            ControlVerb::Quit => "quit",
        }
    }

    /// Case-insensitive.
    pub fn parse(s: &str) -> Option<ControlVerb> {
        ControlVerb::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// How the verb is written, with its arguments.
    pub fn usage(self) -> &'static str {
        match self {
            ControlVerb::Auth => "auth <token>",
            ControlVerb::Status => "status [name]",
            ControlVerb::Start => "start <name>",
            ControlVerb::Stop => "stop <name>",
            ControlVerb::Restart => "restart <name>",
            ControlVerb::CustomRestart => "custom-restart <name> <json>",
            ControlVerb::Job => "job <id>",
            ControlVerb::Cancel => "cancel <id>",
            ControlVerb::Logs => "logs <name> [n]",
            ControlVerb::Shutdown => "shutdown",
            ControlVerb::Help => "help",
            ControlVerb::Quit => "quit",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            ControlVerb::Auth => "authenticate with the API token",
            ControlVerb::Status => "the supervisor and every service, or one service",
            ControlVerb::Start => "start a service; answers after the spawn",
            ControlVerb::Stop => "stop a service; answers once its whole tree is gone",
            ControlVerb::Restart => "restart a service; answers after the new spawn",
            ControlVerb::CustomRestart => {
                "start a custom-restart workflow (JSON: pre_commands, post_commands, args); \
                 answers the queued job (follow it with `job <id>`)"
            }
            ControlVerb::Job => "a custom-restart job: its status and every step so far",
            ControlVerb::Cancel => {
                "cancel a job: its running command's tree is stopped, the rest skipped"
            }
            ControlVerb::Logs => "the last n (default 100, at most 10000) log lines, oldest first",
            ControlVerb::Shutdown => {
                "stop every service and the daemon; the connection closes when it is done"
            }
            ControlVerb::Help => "the verbs allowed on this connection",
            ControlVerb::Quit => "close the connection",
        }
    }

    /// Verbs that cannot be switched off by `allowed_commands` and need no authentication: they reveal
    /// nothing and change nothing.
    pub fn always_allowed(self) -> bool {
        matches!(
            self,
            ControlVerb::Auth | ControlVerb::Help | ControlVerb::Quit
        )
    }
}

/// One parsed request line.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlRequest {
    Auth {
        token: String,
    },
    Status {
        name: Option<String>,
    },
    Start {
        name: String,
    },
    Stop {
        name: String,
    },
    Restart {
        name: String,
    },
    CustomRestart {
        name: String,
        request: CustomRestartRequest,
    },
    Job {
        id: String,
    },
    Cancel {
        id: String,
    },
    Logs {
        name: String,
        n: u32,
    },
    Shutdown,
    Help,
    Quit,
}

impl ControlRequest {
    #[cfg(test)]
    pub fn verb(&self) -> ControlVerb {
        match self {
            ControlRequest::Auth { .. } => ControlVerb::Auth,
            ControlRequest::Status { .. } => ControlVerb::Status,
            ControlRequest::Start { .. } => ControlVerb::Start,
            ControlRequest::Stop { .. } => ControlVerb::Stop,
            ControlRequest::Restart { .. } => ControlVerb::Restart,
            ControlRequest::CustomRestart { .. } => ControlVerb::CustomRestart,
            ControlRequest::Job { .. } => ControlVerb::Job,
            ControlRequest::Cancel { .. } => ControlVerb::Cancel,
            ControlRequest::Logs { .. } => ControlVerb::Logs,
            ControlRequest::Shutdown => ControlVerb::Shutdown,
            ControlRequest::Help => ControlVerb::Help,
            ControlRequest::Quit => ControlVerb::Quit,
        }
    }

    /// The request as a line (without the newline), as a client sends it (the parser's round-trip
    /// tests use it; tend's own CLI speaks REST).
    #[cfg(test)]
    pub fn to_line(&self) -> String {
        let verb = self.verb().as_str();
        match self {
            ControlRequest::Auth { token } => format!("{verb} {token}"),
            ControlRequest::Status { name: None } => verb.to_string(),
            ControlRequest::Status { name: Some(name) }
            | ControlRequest::Start { name }
            | ControlRequest::Stop { name }
            | ControlRequest::Restart { name } => format!("{verb} {name}"),
            ControlRequest::Job { id } | ControlRequest::Cancel { id } => format!("{verb} {id}"),
            ControlRequest::CustomRestart { name, request } => format!(
                "{verb} {name} {}",
                serde_json::to_string(request).unwrap_or_else(|_| "{}".into())
            ),
            ControlRequest::Logs { name, n } => format!("{verb} {name} {n}"),
            ControlRequest::Shutdown | ControlRequest::Help | ControlRequest::Quit => {
                verb.to_string()
            }
        }
    }
}

/// One response line: `{"ok": true, <payload>}` or `{"ok": false, "error": {...}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlResponse {
    pub ok: bool,
    #[serde(flatten)]
    pub body: ControlBody,
}

/// The payload of a response: exactly one key next to `ok`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlBody {
    /// `auth`, `shutdown`, `quit`: a sentence.
    Message(String),
    /// `status`: as `GET /api/status` (with `supervisor.caddy`).
    Status(StatusResponse),
    /// `status <name>`: as `GET /api/services/{name}`.
    Service(Box<ServiceView>),
    /// `start`, `stop`, `restart`: as `POST /api/services/{name}/{action}`.
    Result(ActionResponse),
    /// `logs`: oldest first, as `GET /api/services/{name}/logs`.
    Lines(Vec<LogLine>),
    /// `custom-restart` (the queued job), `job`, `cancel`: as `GET /api/jobs/{id}`.
    Job(Box<JobView>),
    /// `help`: the verbs allowed on this connection.
    Verbs(Vec<VerbHelp>),
    Error(ErrorDetail),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerbHelp {
    pub verb: String,
    pub usage: String,
    pub summary: String,
}

impl ControlResponse {
    pub fn new(body: ControlBody) -> ControlResponse {
        ControlResponse {
            ok: !matches!(body, ControlBody::Error(_)),
            body,
        }
    }

    pub fn error(code: Code, message: impl Into<String>) -> ControlResponse {
        ControlResponse::new(ControlBody::Error(ErrorDetail {
            code,
            message: message.into(),
            field: None,
        }))
    }

    /// The JSON line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|_| {
            br#"{"ok":false,"error":{"code":"internal","message":"cannot encode the response"}}"#
                .to_vec()
        });
        line.push(b'\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shapes() {
        let ok = ControlResponse::new(ControlBody::Message("authenticated".into()));
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            serde_json::json!({"ok": true, "message": "authenticated"})
        );
        let err = ControlResponse::error(Code::NotFound, "no such service");
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({"ok": false, "error": {"code": "not_found", "message": "no such service"}})
        );
        let back: ControlResponse = serde_json::from_slice(&err.to_line()).unwrap();
        assert!(!back.ok);
        assert!(matches!(back.body, ControlBody::Error(e) if e.code == Code::NotFound));
        let job = ControlResponse::new(ControlBody::Job(Box::new(JobView {
            id: "7".into(),
            kind: "custom-restart".into(),
            service: "web".into(),
            origin: crate::wire::Origin::Tcp,
            status: crate::wire::JobStatus::Queued,
            created_at: "2026-01-01T00:00:00Z".into(),
            started_at: None,
            finished_at: None,
            request: CustomRestartRequest::default(),
            steps: Vec::new(),
            error: None,
        })));
        let back: ControlResponse = serde_json::from_slice(&job.to_line()).unwrap();
        assert!(back.ok && matches!(back.body, ControlBody::Job(j) if j.id == "7"));
    }

    #[test]
    fn verbs_are_case_insensitive_and_round_trip() {
        for v in ControlVerb::ALL {
            assert_eq!(ControlVerb::parse(v.as_str()), Some(v));
            assert_eq!(ControlVerb::parse(&v.as_str().to_uppercase()), Some(v));
        }
        assert_eq!(
            ControlVerb::parse("Custom-Restart"),
            Some(ControlVerb::CustomRestart)
        );
        assert_eq!(ControlVerb::parse("reboot"), None);
    }
}
