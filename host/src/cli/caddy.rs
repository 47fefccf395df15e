//! `tend caddy reload | show [--json|--caddyfile]`: client commands for the Caddy integration, and
//! their human renderings (pure functions of the wire types, tested below).

use std::fmt::Write as _;

use clap::Subcommand;
use reqwest::Method;

use super::client::CliError;
use super::commands::Ctx;
use super::commands::out;
use crate::wire::{CaddyConfigView, CaddyReloadReport, CaddyStatus};

#[derive(Debug, Subcommand)]
pub enum CaddyCommand {
    /// Generate the Caddy configuration and apply it now, even if nothing changed; exits 1 if Caddy
    /// is unreachable or rejects it
    Reload,
    /// Show what would be applied (services, Caddyfile rendering) and the integration's status
    Show {
        /// Print only the Caddyfile rendering
        #[arg(long, conflicts_with = "config")]
        caddyfile: bool,
        /// Print only the generated Caddy JSON
        #[arg(long)]
        config: bool,
    },
}

pub async fn run(ctx: &Ctx, command: &CaddyCommand) -> Result<(), CliError> {
    match command {
        CaddyCommand::Reload => {
            let answer = ctx
                .client
                .send(Method::POST, &["api", "caddy", "reload"], None)
                .await?;
            if ctx.json {
                return out(&format!("{}\n", answer.text.trim_end()));
            }
            let report: CaddyReloadReport = answer.parse()?;
            out(&format!(
                "{}\n{}",
                report.action,
                status_lines(&report.status)
            ))
        }
        CaddyCommand::Show { caddyfile, config } => {
            let answer = ctx.client.get(&["api", "caddy", "config"], &[]).await?;
            let view: CaddyConfigView = answer.parse()?;
            if *caddyfile {
                return match &view.caddyfile {
                    Some(text) => out(text),
                    None => Err(generation_failed(&view)),
                };
            }
            if *config {
                return match &view.config {
                    Some(doc) => out(&format!("{}\n", pretty(doc))),
                    None => Err(generation_failed(&view)),
                };
            }
            if ctx.json {
                return out(&format!("{}\n", answer.text.trim_end()));
            }
            out(&show(&view))
        }
    }
}

fn generation_failed(view: &CaddyConfigView) -> CliError {
    CliError::Other(anyhow::anyhow!(
        "the generator failed: {}",
        view.error.as_deref().unwrap_or("no output")
    ))
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn status_lines(s: &CaddyStatus) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "state: {}  (admin {}, plugin {}, {} exposed)",
        s.state.as_str(),
        s.admin_url,
        s.plugin,
        s.exposed
    );
    if let Some(at) = &s.last_applied_at {
        let _ = writeln!(o, "last applied: {at}");
    }
    if let Some(e) = &s.last_error {
        let at = s.last_error_at.as_deref().unwrap_or("?");
        let _ = writeln!(o, "last error ({at}): {e}");
    }
    if let Some(at) = &s.next_retry_at {
        let _ = writeln!(o, "retry #{} at {at}", s.failures + 1);
    }
    let _ = writeln!(o, "caddyfile rendering: {}", s.supervisor_file.display());
    o
}

fn show(v: &CaddyConfigView) -> String {
    let mut o = status_lines(&v.status);
    let _ = writeln!(
        o,
        "in sync with Caddy: {}",
        if v.in_sync { "yes" } else { "no" }
    );
    o.push('\n');
    if v.services.is_empty() {
        o.push_str("no exposed services\n");
    } else {
        let rows: Vec<Vec<String>> = v
            .services
            .iter()
            .map(|s| {
                let route = match (&s.subdomain, &s.path) {
                    (Some(sub), Some(p)) => format!("{sub}.*{p}"),
                    (Some(sub), None) => format!("{sub}.*"),
                    (None, Some(p)) => p.clone(),
                    (None, None) => "-".into(),
                };
                vec![s.name.clone(), route, s.upstream.clone(), s.health.clone()]
            })
            .collect();
        o.push_str(&super::render::table(
            &["SERVICE", "ROUTE", "UPSTREAM", "HEALTH"],
            &rows,
        ));
    }
    o.push('\n');
    match (&v.caddyfile, &v.error) {
        (Some(text), _) => o.push_str(text),
        (None, Some(e)) => {
            let _ = writeln!(o, "generator error: {e}");
        }
        (None, None) => {}
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CaddyService, CaddyState};

    fn status() -> CaddyStatus {
        CaddyStatus {
            state: CaddyState::Failing,
            admin_url: "http://127.0.0.1:2019".into(),
            plugin: "caddy".into(),
            exposed: 1,
            last_applied_at: None,
            last_error: Some("unreachable".into()),
            last_error_at: Some("2026-01-01T00:00:00Z".into()),
            failures: 2,
            next_retry_at: Some("2026-01-01T00:00:04Z".into()),
            supervisor_file: "/d/caddy/supervisor.caddy".into(),
        }
    }

    #[test]
    fn show_lists_routes_and_the_failure() {
        let view = CaddyConfigView {
            plugin: "caddy".into(),
            settings: serde_json::json!({}),
            services: vec![CaddyService {
                name: "web".into(),
                upstream: "127.0.0.1:8000".into(),
                subdomain: Some("www".into()),
                path: None,
                health: "healthy".into(),
                headers: vec![],
            }],
            config: None,
            caddyfile: Some("www.example.test:443 {\n}\n".into()),
            error: None,
            applied: None,
            in_sync: false,
            status: status(),
        };
        let text = show(&view);
        assert!(text.contains("state: failing"), "{text}");
        assert!(text.contains("last error (2026-01-01T00:00:00Z): unreachable"));
        assert!(text.contains("retry #3 at 2026-01-01T00:00:04Z"));
        assert!(text.contains("in sync with Caddy: no"));
        let row = text.lines().find(|l| l.starts_with("web")).unwrap();
        assert!(
            row.contains("www.*") && row.contains("127.0.0.1:8000") && row.contains("healthy"),
            "{row}"
        );
        assert!(text.ends_with("www.example.test:443 {\n}\n"));
    }
}
