//! The wasm side: the `fixer` world's bindings, the traits of `model` over its imports, and the
//! conversions between the generated types and the plain ones.

use crate::model as m;
use tend_agent_kit::Host as Kit;

wit_bindgen::generate!({
    world: "fixer",
    path: "../../wit",
});

use tend::plugin::fixing as f;
use tend::plugin::llm as l;

struct Fixer;

impl Guest for Fixer {
    fn propose(incident: f::Incident) -> Result<f::Answer, String> {
        let incident = from_incident(incident);
        crate::propose(&incident, &Kit, &mut Host, &Kit).map(to_answer)
    }
}

export!(Fixer);

/// The `llm` import as the fixer's logic sees it (`project` and `log`: the agent kit's `Host`).
struct Host;

impl m::Llm for Host {
    fn complete(&mut self, r: &m::Request) -> Result<m::Response, m::LlmError> {
        let request = l::Request {
            model: r.model.clone(),
            messages: r.messages.iter().map(to_message).collect(),
            tools: r
                .tools
                .iter()
                .map(|t| l::Tool {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                })
                .collect(),
            response_schema: r.response_schema.clone(),
            max_tokens: r.max_tokens,
            temperature: r.temperature,
        };
        match l::complete(&request) {
            Ok(resp) => Ok(m::Response {
                message: from_message(resp.message),
                finish_reason: match resp.finish_reason {
                    l::FinishReason::Stop => m::FinishReason::Stop,
                    l::FinishReason::ToolCalls => m::FinishReason::ToolCalls,
                    l::FinishReason::Length => m::FinishReason::Length,
                    l::FinishReason::Other => m::FinishReason::Other,
                },
                usage: m::Usage {
                    input_tokens: resp.usage.input_tokens,
                    output_tokens: resp.usage.output_tokens,
                },
                model: resp.model,
            }),
            Err(e) => Err(match e {
                l::Error::NotConfigured(s) => m::LlmError::NotConfigured(s),
                l::Error::BudgetExceeded(s) => m::LlmError::BudgetExceeded(s),
                l::Error::Timeout => m::LlmError::Timeout,
                l::Error::RateLimited(s) => m::LlmError::RateLimited(s),
                l::Error::Rejected(s) => m::LlmError::Rejected(s),
                l::Error::Provider(s) => m::LlmError::Provider(s),
                l::Error::InvalidAnswer(s) => m::LlmError::InvalidAnswer(s),
                l::Error::InvalidRequest(s) => m::LlmError::InvalidRequest(s),
            }),
        }
    }
}

fn to_message(msg: &m::Message) -> l::Message {
    l::Message {
        role: match msg.role {
            m::Role::System => l::Role::System,
            m::Role::User => l::Role::User,
            m::Role::Assistant => l::Role::Assistant,
            m::Role::Tool => l::Role::Tool,
        },
        content: msg.content.clone(),
        tool_calls: msg
            .tool_calls
            .iter()
            .map(|c| l::ToolCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect(),
        tool_call_id: msg.tool_call_id.clone(),
    }
}

fn from_message(msg: l::Message) -> m::Message {
    m::Message {
        role: match msg.role {
            l::Role::System => m::Role::System,
            l::Role::User => m::Role::User,
            l::Role::Assistant => m::Role::Assistant,
            l::Role::Tool => m::Role::Tool,
        },
        content: msg.content,
        tool_calls: msg
            .tool_calls
            .into_iter()
            .map(|c| m::ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect(),
        tool_call_id: msg.tool_call_id,
    }
}

fn from_incident(i: f::Incident) -> m::Incident {
    m::Incident {
        kind: match i.kind {
            f::IncidentKind::CrashLoop => m::IncidentKind::CrashLoop,
            f::IncidentKind::HealthFailure => m::IncidentKind::HealthFailure,
            f::IncidentKind::CronFailure => m::IncidentKind::CronFailure,
            f::IncidentKind::Manual => m::IncidentKind::Manual,
        },
        target: match i.target {
            f::TargetKind::Service => m::TargetKind::Service,
            f::TargetKind::CronJob => m::TargetKind::CronJob,
        },
        name: i.name,
        command: i.command,
        argv: i.argv,
        working_dir: i.working_dir,
        exit_code: i.exit_code,
        signal: i.signal,
        restarts: i.restarts,
        log_tail: i.log_tail,
        env_names: i.env_names,
        env_file: i.env_file,
        port: i.port,
        port_holder: i.port_holder.map(|h| m::PortHolder {
            pid: h.pid,
            command: h.command,
            leftover: h.leftover,
        }),
        health_message: i.health_message,
        previous: i
            .previous
            .into_iter()
            .map(|a| m::Attempt {
                diagnosis: a.diagnosis,
                outcome: a.outcome,
                detail: a.detail,
            })
            .collect(),
        model: i.model,
    }
}

fn to_answer(a: m::Answer) -> f::Answer {
    match a {
        m::Answer::NoSafeFix(reason) => f::Answer::NoSafeFix(reason),
        m::Answer::Fix(p) => f::Answer::Fix(f::Proposal {
            diagnosis: p.diagnosis,
            confidence: p.confidence,
            edits: p.edits.into_iter().map(to_edit).collect(),
            commands: p
                .commands
                .into_iter()
                .map(|c| f::Command {
                    command_type: match c.command_type {
                        m::CommandType::Shell => f::CommandType::Shell,
                        m::CommandType::Make => f::CommandType::Make,
                        m::CommandType::Exec => f::CommandType::Exec,
                    },
                    command: c.command,
                    is_safe: c.is_safe,
                    allowed_in_production: c.allowed_in_production,
                    timeout_s: c.timeout_s,
                    reason: c.reason,
                })
                .collect(),
            restart: p.restart,
            author: match p.author {
                m::Author::Rule => f::Author::Rule,
                m::Author::Model => f::Author::Model,
            },
            source: p.source,
        }),
    }
}

fn to_edit(e: m::Edit) -> f::Edit {
    match e {
        m::Edit::Replace {
            path,
            base_sha256,
            old,
            new,
        } => f::Edit::Replace(f::ReplaceEdit {
            path,
            base_sha256,
            old,
            new,
        }),
        m::Edit::Create {
            path,
            content,
            executable,
        } => f::Edit::Create(f::CreateEdit {
            path,
            content,
            executable,
        }),
        m::Edit::CreateDir(path) => f::Edit::CreateDir(path),
        m::Edit::SetExecutable {
            path,
            base_sha256,
            executable,
        } => f::Edit::SetExecutable(f::ModeEdit {
            path,
            base_sha256,
            executable,
        }),
    }
}
