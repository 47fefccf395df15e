//! The wasm side: the `onboarder` world's bindings, the traits of `model` over its imports, and the
//! conversions between the generated types and the plain ones.

use crate::model as m;
use tend_agent_kit::Host as Kit;

wit_bindgen::generate!({
    world: "onboarder",
    path: "../../wit",
});

use tend::plugin::fixing as f;
use tend::plugin::llm as l;
use tend::plugin::onboarding as o;

struct Onboarder;

impl Guest for Onboarder {
    fn analyze(
        _root: String,
        name: String,
        free_ports: Vec<u16>,
        model: Option<String>,
    ) -> Result<o::Plan, String> {
        crate::analyze(&Kit, &name, &free_ports, model.as_deref(), &mut Host, &Kit).map(to_plan)
    }
}

export!(Onboarder);

/// The `llm` import as the onboarder's logic sees it (`project` and `log`: the agent kit's `Host`).
struct Host;

impl m::Llm for Host {
    fn complete(&mut self, r: &m::Request) -> Result<m::Response, String> {
        let request = l::Request {
            model: r.model.clone(),
            messages: r.messages.iter().map(to_message).collect(),
            tools: Vec::new(),
            response_schema: r.response_schema.clone(),
            max_tokens: r.max_tokens,
            temperature: None,
        };
        match l::complete(&request) {
            Ok(resp) => Ok(m::Response {
                content: resp.message.content,
                tool_calls: resp
                    .message
                    .tool_calls
                    .into_iter()
                    .map(|c| m::ToolCall {
                        id: c.id,
                        name: c.name,
                        arguments: c.arguments,
                    })
                    .collect(),
            }),
            Err(e) => Err(match e {
                l::Error::NotConfigured(s) => format!("not configured: {s}"),
                l::Error::BudgetExceeded(s) => format!("budget exceeded: {s}"),
                l::Error::Timeout => "the model did not answer in time".to_string(),
                l::Error::RateLimited(s) => format!("rate limited: {s}"),
                l::Error::Rejected(s) => format!("rejected: {s}"),
                l::Error::Provider(s) => format!("provider error: {s}"),
                l::Error::InvalidAnswer(s) => format!("invalid answer: {s}"),
                l::Error::InvalidRequest(s) => format!("invalid request: {s}"),
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

fn evidence(e: Vec<m::Evidence>) -> Vec<o::Evidence> {
    e.into_iter()
        .map(|e| o::Evidence {
            path: e.path,
            reason: e.reason,
        })
        .collect()
}

fn env(env: std::collections::BTreeMap<String, String>) -> Vec<o::EnvVar> {
    env.into_iter()
        .map(|(name, value)| o::EnvVar { name, value })
        .collect()
}

fn to_plan(p: m::Plan) -> o::Plan {
    o::Plan {
        services: p
            .services
            .into_iter()
            .map(|s| o::PlannedService {
                name: s.name,
                argv: s.argv,
                working_dir: s.working_dir,
                port: s.port,
                env: env(s.env),
                env_file: s.env_file,
                health_path: s.health_path,
                data_dir: s.data_dir,
                confidence: s.confidence,
                evidence: evidence(s.evidence),
            })
            .collect(),
        cron_jobs: p
            .cron_jobs
            .into_iter()
            .map(|c| o::PlannedCron {
                name: c.name,
                schedule: c.schedule,
                argv: c.argv,
                working_dir: c.working_dir,
                env: env(c.env),
                env_file: c.env_file,
                evidence: evidence(c.evidence),
            })
            .collect(),
        setup: p
            .setup
            .into_iter()
            .map(|s| o::SetupStep {
                command: f::Command {
                    command_type: match s.command_type {
                        m::CommandType::Shell => f::CommandType::Shell,
                        m::CommandType::Make => f::CommandType::Make,
                        m::CommandType::Exec => f::CommandType::Exec,
                    },
                    command: s.command,
                    is_safe: s.is_safe,
                    allowed_in_production: s.allowed_in_production,
                    timeout_s: s.timeout_s,
                    reason: s.reason,
                },
                working_dir: s.working_dir,
            })
            .collect(),
        confidence: p.confidence,
        evidence: evidence(p.evidence),
        notes: p.notes,
        author: match p.author {
            m::Author::Rule => f::Author::Rule,
            m::Author::Model => f::Author::Model,
        },
        source: p.source,
    }
}
