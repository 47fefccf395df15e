//! `tend fix NAME [--cron] [--model M] [--wait]`, `tend fix show|approve|reject|restore ID` and
//! `tend fixes NAME [--cron]`: auto-fix from the command line. `--wait` follows the fix (polling
//! `GET /api/fixes/{id}`) until it stops moving. The renderings are pure functions of the wire types.

use std::time::Duration;

use reqwest::Method;

use super::client::CliError;
use super::commands::{Ctx, out, out_raw};
use super::render::table;
use crate::wire::{FixKind, FixRequest, FixStatus, FixView, FixesPage};

const POLL: Duration = Duration::from_millis(300);
/// The words `tend fix` takes as a verb when an id follows.
const VERBS: [&str; 4] = ["show", "approve", "reject", "restore"];

#[derive(Clone, Debug, clap::Args)]
pub struct FixArgs {
    /// NAME (a service, or a cron job with --cron), or one of show|approve|reject|restore and a fix id
    #[arg(num_args = 1..=2, required = true, value_name = "NAME | VERB ID")]
    words: Vec<String>,
    /// NAME is a cron job
    #[arg(long)]
    cron: bool,
    /// A model of [llm.models] for this fix
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// Follow the fix until it is verified, restored, waiting for approval or otherwise ended
    #[arg(short, long)]
    wait: bool,
}

#[derive(Clone, Debug, clap::Args)]
pub struct FixesArgs {
    /// Service name (a cron job's with --cron)
    name: String,
    #[arg(long)]
    cron: bool,
}

fn area(cron: bool) -> &'static str {
    if cron { "cron" } else { "services" }
}

pub async fn fix(ctx: &Ctx, args: &FixArgs) -> Result<(), CliError> {
    match args.words.as_slice() {
        [verb, id] if VERBS.contains(&verb.as_str()) => match verb.as_str() {
            "show" => {
                let answer = ctx.client.get(&["api", "fixes", id], &[]).await?;
                if ctx.json {
                    return out_raw(&answer);
                }
                out(&render(&answer.parse()?))
            }
            verb => {
                let answer = ctx
                    .client
                    .send(Method::POST, &["api", "fixes", id, verb], None)
                    .await?;
                if ctx.json {
                    return out_raw(&answer);
                }
                let fix: FixView = answer.parse()?;
                out(&format!("{}\n", line(&fix)))
            }
        },
        [name] => {
            let body = serde_json::to_value(FixRequest {
                model: args.model.clone(),
            })
            .map_err(|e| CliError::Other(anyhow::anyhow!("cannot encode the request: {e}")))?;
            let answer = ctx
                .client
                .send(
                    Method::POST,
                    &["api", area(args.cron), name, "fix"],
                    Some(&body),
                )
                .await?;
            let mut fix: FixView = answer.parse()?;
            if !args.wait {
                if ctx.json {
                    return out_raw(&answer);
                }
                return out(&format!(
                    "{}\nfollow it with `tend fix show {}`\n",
                    line(&fix),
                    fix.id
                ));
            }
            // Retries are new records of the same job: follow the newest of the target's fixes.
            loop {
                if fix.status.is_final() || fix.status == FixStatus::AwaitingApproval {
                    let page: FixesPage = ctx
                        .client
                        .get(&["api", area(args.cron), name, "fixes"], &[])
                        .await?
                        .parse()?;
                    match page.fixes.first() {
                        Some(newest) if newest.id != fix.id && !newest.status.is_final() => {
                            fix = newest.clone();
                        }
                        _ => break,
                    }
                }
                // tidy:allow-sleep: the CLI follows a fix by polling its record.
                tokio::time::sleep(POLL).await;
                fix = ctx
                    .client
                    .get(&["api", "fixes", &fix.id], &[])
                    .await?
                    .parse()?;
            }
            if ctx.json {
                return out(&format!(
                    "{}\n",
                    serde_json::to_string(&fix).unwrap_or_default()
                ));
            }
            out(&render(&fix))?;
            match fix.status {
                FixStatus::Verified | FixStatus::Proposed | FixStatus::AwaitingApproval => Ok(()),
                s => Err(CliError::Other(anyhow::anyhow!(
                    "fix {} {}: {}",
                    fix.id,
                    s.as_str(),
                    fix.reason.as_deref().unwrap_or("no reason recorded")
                ))),
            }
        }
        _ => Err(CliError::Other(anyhow::anyhow!(
            "usage: tend fix NAME | tend fix show|approve|reject|restore ID"
        ))),
    }
}

pub async fn fixes(ctx: &Ctx, args: &FixesArgs) -> Result<(), CliError> {
    let answer = ctx
        .client
        .get(&["api", area(args.cron), &args.name, "fixes"], &[])
        .await?;
    if ctx.json {
        return out_raw(&answer);
    }
    let page: FixesPage = answer.parse()?;
    out(&list(&page))
}

/// `fix 3 of service "web": verified (reason)`.
fn line(f: &FixView) -> String {
    let kind = match f.kind {
        FixKind::Fix => "fix",
        FixKind::Restore => "restore",
    };
    let mut s = format!("{kind} {} of {}: {}", f.id, f.name, f.status.as_str());
    if let Some(r) = &f.reason {
        s.push_str(&format!(" ({r})"));
    }
    s
}

/// The table of `tend fixes`.
pub fn list(page: &FixesPage) -> String {
    if page.fixes.is_empty() {
        return "no fixes\n".into();
    }
    let rows: Vec<Vec<String>> = page
        .fixes
        .iter()
        .map(|f| {
            vec![
                f.id.clone(),
                match f.kind {
                    FixKind::Fix => "fix".into(),
                    FixKind::Restore => {
                        format!("restore of {}", f.restores.clone().unwrap_or_default())
                    }
                },
                f.status.as_str().into(),
                f.mode.as_str().into(),
                f.created_at.clone(),
                f.proposal
                    .as_ref()
                    .map(|p| p.diagnosis.chars().take(60).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["ID", "KIND", "STATUS", "MODE", "CREATED", "DIAGNOSIS"],
        &rows,
    )
}

/// `tend fix show ID`: everything about a fix, the diff included.
pub fn render(f: &FixView) -> String {
    let mut s = format!("{}\n", line(f));
    s.push_str(&format!(
        "  trigger: {:?}, origin {}, mode {}, attempt {}, created {}\n",
        f.trigger,
        f.origin,
        f.mode.as_str(),
        f.attempt,
        f.created_at
    ));
    if let Some(job) = &f.job_id {
        s.push_str(&format!("  job: {job}\n"));
    }
    if let Some(p) = &f.proposal {
        s.push_str(&format!(
            "  diagnosis: {} (confidence {:.2}, {:?} {})\n",
            p.diagnosis, p.confidence, p.author, p.source
        ));
    }
    for d in &f.decisions {
        s.push_str(&format!(
            "  policy: {:?} `{}`{}\n",
            d.decision,
            d.command,
            if d.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", d.reason)
            }
        ));
    }
    if let Some(a) = &f.apply_result {
        s.push_str(&format!("  applied: {a}\n"));
    }
    for c in &f.commands {
        s.push_str(&format!(
            "  command `{}`: {} ({})\n",
            c.command, c.status, c.message
        ));
    }
    if let Some(v) = &f.verify_result {
        s.push_str(&format!("  verify: {v}\n"));
    }
    if let Some(b) = &f.backup {
        s.push_str(&format!("  backup: {b}\n"));
    }
    if f.llm_calls > 0 {
        s.push_str(&format!(
            "  model: {} calls, {} tokens in, {} out\n",
            f.llm_calls, f.usage.input_tokens, f.usage.output_tokens
        ));
    }
    for d in &f.diffs {
        s.push('\n');
        s.push_str(&d.diff);
        if !d.diff.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}
