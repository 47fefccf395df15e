//! `tend import FILE [--dry-run] [--format F] [--env NAME]`: another supervisor's file registered
//! through `POST /api/import`. The file is read here (where its path means something): its
//! directory is the base of relative paths, a PM2 `.config.js` is evaluated with node first
//! (`process::eval_js_config`), and supervisord's `%(ENV_X)s` get their values from this
//! environment (only the variables the file names are sent). Prints the services (a table; the
//! answer with `--json`) and every warning on stderr. The renderings are pure functions.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;

use super::client::CliError;
use super::commands::{Ctx, out, out_raw};
use super::render::table;
use crate::wire::{ImportFormat, ImportRequest, ImportResult, ImportWarning};

#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// supervisord .conf, PM2 ecosystem (.json, .config.js), process-compose .yaml, Procfile,
    /// docker-compose .yml, or MagicTunnel's config.yaml
    #[arg(value_name = "FILE")]
    file: String,
    /// Print what would be registered; register nothing
    #[arg(long)]
    dry_run: bool,
    /// The file's format when its name and content do not tell: magictunnel, supervisord, pm2,
    /// process-compose, procfile, compose
    #[arg(long, value_name = "F", value_parser = parse_format)]
    format: Option<ImportFormat>,
    /// PM2: use each app's env_NAME too (as `pm2 start --env NAME`)
    #[arg(long = "env", value_name = "NAME")]
    env_name: Option<String>,
}

fn parse_format(s: &str) -> Result<ImportFormat, String> {
    ImportFormat::parse(s).ok_or_else(|| {
        format!(
            "unknown format {s:?}: one of {}",
            ImportFormat::ALL.map(ImportFormat::as_str).join(", ")
        )
    })
}

pub async fn import(ctx: &Ctx, args: &ImportArgs) -> Result<(), CliError> {
    let path = std::path::absolute(&args.file)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.file)))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.file.clone());
    let base_dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let is_js = [".js", ".cjs"].iter().any(|e| file_name.ends_with(e));
    let (format, content) = if is_js && matches!(args.format, None | Some(ImportFormat::Pm2)) {
        let json = crate::process::eval_js_config(&path).map_err(CliError::Usage)?;
        (Some(ImportFormat::Pm2), json)
    } else {
        let content = std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
        (args.format, content)
    };
    let request = ImportRequest {
        format,
        file_name,
        environment: referenced_env(&content, |k| std::env::var(k).ok()),
        content,
        base_dir,
        dry_run: args.dry_run,
        env_name: args.env_name.clone(),
    };
    let body = serde_json::to_value(&request)
        .map_err(|e| CliError::Other(anyhow::anyhow!("cannot encode the request: {e}")))?;
    let answer = ctx
        .client
        .send(Method::POST, &["api", "import"], Some(&body))
        .await?;
    let result: ImportResult = answer.parse()?;
    eprint!("{}", render_warnings(&result.warnings));
    if ctx.json {
        return out_raw(&answer);
    }
    out(&render(&result))
}

/// The values of the `%(ENV_X)s` a supervisord file names (and nothing else of the environment).
fn referenced_env(content: &str, get: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = content;
    while let Some(pos) = rest.find("%(ENV_") {
        rest = &rest[pos + "%(ENV_".len()..];
        let Some(end) = rest.find(')') else { break };
        let name = &rest[..end];
        if let Some(v) = get(name) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

pub fn render_warnings(warnings: &[ImportWarning]) -> String {
    warnings
        .iter()
        .map(|w| format!("warning: {} {}: {}\n", w.object, w.field, w.reason))
        .collect()
}

/// The services in registration order, then one line saying what happened.
pub fn render(r: &ImportResult) -> String {
    let rows: Vec<Vec<String>> = r
        .services
        .iter()
        .map(|s| {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|(n, d)| format!("{n} ({})", d.condition.as_str()))
                .collect();
            vec![
                s.name.clone(),
                if s.enabled { "yes" } else { "no" }.to_string(),
                s.port.map_or_else(|| "-".into(), |p| p.to_string()),
                s.effective_health()
                    .map_or_else(|| "-".into(), |h| h.probe.clone()),
                if deps.is_empty() {
                    "-".into()
                } else {
                    deps.join(", ")
                },
                s.command.display(),
            ]
        })
        .collect();
    let mut text = table(
        &["NAME", "ENABLED", "PORT", "HEALTH", "DEPENDS ON", "COMMAND"],
        &rows,
    );
    let n = r.services.len();
    let services = if n == 1 { "service" } else { "services" };
    let warnings = match r.warnings.len() {
        0 => String::new(),
        1 => ", 1 warning".into(),
        w => format!(", {w} warnings"),
    };
    text.push_str(&if r.dry_run {
        format!(
            "dry run ({}): {n} {services} would be registered{warnings}\n",
            r.format.as_str()
        )
    } else {
        format!(
            "imported ({}): {n} {services} registered{warnings}\n",
            r.format.as_str()
        )
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_variables_are_sent() {
        let env = referenced_env("a=%(ENV_HOME)s b=%(ENV_MISSING)s %(here)s", |k| {
            (k == "HOME").then(|| "/home/u".to_string())
        });
        assert_eq!(
            env,
            BTreeMap::from([("HOME".to_string(), "/home/u".to_string())])
        );
    }
}
