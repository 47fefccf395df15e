//! `tend audit` (the policy's decisions, newest first) and `tend policy check -- COMMAND...` (would
//! the policy allow this command?), and their renderings (pure functions of the wire types, tested
//! below).

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;

use super::client::CliError;
use super::commands::Ctx;
use super::commands::{out, out_raw};
use super::render::table;
use crate::wire::{AuditEntry, AuditPage, CommandType, Decision, PolicyCheckResponse};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only decisions about this service's commands
    #[arg(long)]
    service: Option<String>,
    /// Only `allow` or `deny` decisions
    #[arg(long, value_enum)]
    decision: Option<DecisionArg>,
    /// Only decisions asked for by `rest`, `tcp`, `cli` or `fixer`
    #[arg(long)]
    origin: Option<String>,
    /// How many decisions to show
    #[arg(short = 'n', long = "limit", default_value_t = 20)]
    limit: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DecisionArg {
    Allow,
    Deny,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Ask the command policy about a command without running it; exits 1 when it is denied
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Judge it as a step of this service (its working dir and environment)
    #[arg(long)]
    service: Option<String>,
    /// How the command would run
    #[arg(long = "type", value_enum, default_value_t = TypeArg::Shell)]
    command_type: TypeArg,
    /// Declare the command `is_safe: false`
    #[arg(long = "unsafe")]
    is_unsafe: bool,
    /// Declare the command `allowed_in_production: true`
    #[arg(long)]
    production_ok: bool,
    /// Working dir (absolute) [default: the service's, else the daemon's]
    #[arg(long)]
    cwd: Option<std::path::PathBuf>,
    /// The command: for `shell`, its words joined with spaces (quote it to keep it as one);
    /// for `make`/`exec`, the arguments as given
    #[arg(required = true, last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TypeArg {
    Shell,
    Make,
    Exec,
}

pub async fn audit(ctx: &Ctx, args: &AuditArgs) -> Result<(), CliError> {
    if args.limit == 0 || args.limit > 1000 {
        return Err(CliError::Usage(
            "-n/--limit must be between 1 and 1000".into(),
        ));
    }
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(s) = &args.service {
        query.push(("service", s.clone()));
    }
    if let Some(d) = args.decision {
        let d = match d {
            DecisionArg::Allow => "allow",
            DecisionArg::Deny => "deny",
        };
        query.push(("decision", d.to_string()));
    }
    if let Some(o) = &args.origin {
        query.push(("origin", o.clone()));
    }
    let answer = ctx.client.get(&["api", "audit"], &query).await?;
    if ctx.json {
        return out_raw(&answer);
    }
    let page: AuditPage = answer.parse()?;
    out(&audit_table(&page.entries))
}

pub async fn run(ctx: &Ctx, command: &PolicyCommand) -> Result<(), CliError> {
    match command {
        PolicyCommand::Check(args) => check(ctx, args).await,
    }
}

async fn check(ctx: &Ctx, args: &CheckArgs) -> Result<(), CliError> {
    let (command_type, command) = match args.command_type {
        TypeArg::Shell => (CommandType::Shell, args.command.join(" ")),
        TypeArg::Make | TypeArg::Exec => {
            let joined = shlex::try_join(args.command.iter().map(String::as_str))
                .map_err(|e| CliError::Usage(format!("COMMAND: {e}")))?;
            let t = if args.command_type == TypeArg::Make {
                CommandType::Make
            } else {
                CommandType::Exec
            };
            (t, joined)
        }
    };
    let mut body = serde_json::json!({
        "command": {
            "command_type": command_type,
            "command": command,
            "is_safe": !args.is_unsafe,
            "allowed_in_production": args.production_ok,
        },
    });
    if let Some(s) = &args.service {
        body["service"] = s.clone().into();
    }
    if let Some(cwd) = &args.cwd {
        let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.clone());
        body["cwd"] = cwd.to_string_lossy().into_owned().into();
    }
    let answer = ctx
        .client
        .send(Method::POST, &["api", "policy", "evaluate"], Some(&body))
        .await?;
    let response: PolicyCheckResponse = answer.parse()?;
    if ctx.json {
        out_raw(&answer)?;
    } else {
        out(&check_line(&response))?;
    }
    if response.allowed {
        Ok(())
    } else {
        Err(CliError::Other(anyhow::anyhow!(
            "the command policy denies this command"
        )))
    }
}

fn plugin_label(plugin: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{plugin} {v}"),
        None => plugin.to_string(),
    }
}

fn check_line(r: &PolicyCheckResponse) -> String {
    let by = plugin_label(&r.plugin, r.plugin_version.as_deref());
    match r.decision {
        Decision::Allow => format!("allow  (plugin {by}, audit #{})\n", r.audit_id),
        Decision::Deny => format!("deny: {}  (plugin {by}, audit #{})\n", r.reason, r.audit_id),
    }
}

/// `2026-11-22T00:56:07.655747Z` -> `2026-11-22 00:56:07`.
fn short_time(t: &str) -> String {
    let t = t.replacen('T', " ", 1);
    t.split('.')
        .next()
        .unwrap_or(&t)
        .trim_end_matches('Z')
        .to_string()
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

/// A `make` command is its target list: shown with `make` in front, as it runs.
fn shown_command(e: &AuditEntry) -> String {
    match e.command_type {
        CommandType::Make => format!("make {}", e.command),
        _ => e.command.clone(),
    }
}

fn audit_table(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "no policy decisions recorded\n".into();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                short_time(&e.time),
                e.origin.to_string(),
                e.service.clone().unwrap_or_else(|| "-".into()),
                match e.decision {
                    Decision::Allow => "allow".into(),
                    Decision::Deny => "DENY".into(),
                },
                plugin_label(&e.plugin, e.plugin_version.as_deref()),
                clip(&shown_command(e), 40),
                clip(&e.reason, 80),
            ]
        })
        .collect();
    table(
        &[
            "ID", "TIME", "ORIGIN", "SERVICE", "DECISION", "PLUGIN", "COMMAND", "REASON",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, decision: Decision, reason: &str) -> AuditEntry {
        AuditEntry {
            id,
            time: "2026-11-22T00:56:07.655747Z".into(),
            origin: crate::wire::Origin::Rest,
            service: (id == 2).then(|| "web".to_string()),
            command_type: CommandType::Shell,
            command: "rm -rf /".into(),
            argv: vec!["/bin/sh".into(), "-c".into(), "rm -rf /".into()],
            cwd: "/srv".into(),
            environment: "development".into(),
            is_safe: true,
            allowed_in_production: false,
            decision,
            reason: reason.into(),
            plugin: "policy".into(),
            plugin_version: Some("0.1.0".into()),
        }
    }

    #[test]
    fn audit_rows_show_decision_plugin_and_reason() {
        let text = audit_table(&[
            entry(2, Decision::Deny, "recursive delete of /"),
            entry(1, Decision::Allow, ""),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID"), "{text}");
        assert!(
            lines[1].contains("2026-11-22 00:56:07") && lines[1].contains("web"),
            "{text}"
        );
        assert!(
            lines[1].contains("DENY") && lines[1].contains("recursive delete of /"),
            "{text}"
        );
        assert!(lines[1].contains("policy 0.1.0"), "{text}");
        assert!(
            lines[2].contains("allow") && lines[2].contains(" - "),
            "{text}"
        );
        assert_eq!(audit_table(&[]), "no policy decisions recorded\n");
    }

    #[test]
    fn check_lines() {
        let r = PolicyCheckResponse {
            allowed: false,
            decision: Decision::Deny,
            reason: "fork bomb".into(),
            plugin: "policy".into(),
            plugin_version: Some("0.1.0".into()),
            audit_id: 7,
            argv: vec![],
            cwd: "/".into(),
        };
        assert_eq!(
            check_line(&r),
            "deny: fork bomb  (plugin policy 0.1.0, audit #7)\n"
        );
        let ok = PolicyCheckResponse {
            allowed: true,
            decision: Decision::Allow,
            plugin_version: None,
            ..r
        };
        assert_eq!(check_line(&ok), "allow  (plugin policy, audit #7)\n");
    }
}
