//! `tend plugin ls | info NAME | reload`: client commands for the daemon's WebAssembly plugins, and
//! their human renderings (pure functions of the wire types, tested below).

use clap::Subcommand;
use reqwest::Method;

use super::client::CliError;
use super::commands::Ctx;
use super::commands::{out, out_raw};
use super::render::table;
use crate::wire::{
    LatencyHistogram, PluginCode, PluginInfo, PluginState, ReloadAction, ReloadReport,
};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List plugins: built-in and user, loaded, suspended or rejected
    Ls,
    /// Show one plugin: world, source, grants, limits, statistics, last errors, rejection
    Info {
        /// Plugin name
        name: String,
    },
    /// Rescan the plugin dir and load what changed; exits 1 if a plugin was rejected
    Reload,
}

pub async fn run(ctx: &Ctx, command: &PluginCommand) -> Result<(), CliError> {
    match command {
        PluginCommand::Ls => {
            let answer = ctx.client.get(&["api", "plugins"], &[]).await?;
            if ctx.json {
                return out_raw(&answer);
            }
            let plugins: Vec<PluginInfo> = answer.parse()?;
            out(&if plugins.is_empty() {
                "no plugins\n".to_string()
            } else {
                plugins_table(&plugins)
            })
        }
        PluginCommand::Info { name } => {
            let answer = ctx.client.get(&["api", "plugins", name], &[]).await?;
            if ctx.json {
                return out_raw(&answer);
            }
            out(&plugin_details(&answer.parse()?))
        }
        PluginCommand::Reload => {
            let answer = ctx
                .client
                .send(Method::POST, &["api", "plugins", "reload"], None)
                .await?;
            let report: ReloadReport = answer.parse()?;
            if ctx.json {
                out_raw(&answer)?;
            } else {
                out(&reload_report(&report))?;
            }
            match report.rejected().count() {
                0 => Ok(()),
                n => Err(CliError::Other(anyhow::anyhow!(
                    "{n} plugin(s) rejected; see above"
                ))),
            }
        }
    }
}

fn state_label(p: &PluginInfo) -> &'static str {
    match p.state {
        PluginState::Loaded if p.rejected.is_some() => "loaded (update rejected)",
        PluginState::Loaded => "loaded",
        PluginState::Suspended => "suspended",
        PluginState::Rejected => "rejected",
    }
}

fn failures(p: &PluginInfo) -> u64 {
    p.stats.failures.values().sum()
}

/// `tend plugin ls`.
pub fn plugins_table(plugins: &[PluginInfo]) -> String {
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                or_dash(&p.world),
                or_dash(&p.version),
                p.source.label().to_string(),
                p.stats.calls.to_string(),
                failures(p).to_string(),
                state_label(p).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "WORLD", "VERSION", "SOURCE", "CALLS", "FAILURES", "STATE",
        ],
        &rows,
    )
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

fn list_or_dash<T: AsRef<str>>(items: &[T]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(|i| i.as_ref())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The bucket bound below which `q` of the calls fell, as "<= 250us"; `None` without calls.
fn percentile(h: &LatencyHistogram, q: f64) -> Option<String> {
    let total: u64 = h.counts.iter().sum();
    if total == 0 {
        return None;
    }
    let wanted = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in h.counts.iter().enumerate() {
        seen += c;
        if seen >= wanted {
            return Some(match h.bounds_us.get(i) {
                Some(b) => format!("<= {}", micros(*b)),
                None => format!("> {}", micros(h.bounds_us.last().copied().unwrap_or(0))),
            });
        }
    }
    None
}

fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{}ms", us as f64 / 1000.0),
        _ => format!("{}s", us as f64 / 1_000_000.0),
    }
}

/// `tend plugin info NAME`.
pub fn plugin_details(p: &PluginInfo) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        ("name", p.name.clone()),
        ("state", state_label(p).to_string()),
        ("world", or_dash(&p.world)),
        ("version", or_dash(&p.version)),
        ("description", or_dash(&p.description)),
        ("source", p.source.label().to_string()),
        (
            "path",
            p.path
                .as_ref()
                .map_or_else(|| "- (embedded)".to_string(), |p| p.display().to_string()),
        ),
        ("sha256", or_dash(&p.sha256)),
    ];
    if !p.loaded_at.is_empty() {
        let how = match p.code {
            Some(PluginCode::Precompiled) => "code precompiled into the executable",
            Some(PluginCode::Cache) => "compiled code from the cache",
            Some(PluginCode::Compiled) | None => "compiled",
        };
        lines.push(("loaded", format!("{} ({how})", p.loaded_at)));
    }
    let paths: Vec<String> = p
        .grants
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    lines.push(("hosts", list_or_dash(&p.grants.hosts)));
    lines.push(("paths", list_or_dash(&paths)));
    lines.push(("env", list_or_dash(&p.grants.env)));
    let agent: Vec<String> = [("llm", p.grants.llm), ("project", p.grants.project)]
        .into_iter()
        .filter(|(_, granted)| *granted)
        .map(|(name, _)| name.to_string())
        .collect();
    if !agent.is_empty() {
        lines.push(("interfaces", agent.join(", ")));
    }
    let l = &p.limits;
    lines.push((
        "limits",
        format!(
            "{} MiB, {} ms, responses up to {} bytes",
            l.memory_mb, l.timeout_ms, l.max_response_bytes
        ),
    ));
    let s = &p.stats;
    let mut calls = format!("{} ({} ok", s.calls, s.ok);
    for (kind, n) in &s.failures {
        calls.push_str(&format!(", {n} {kind}"));
    }
    calls.push(')');
    lines.push(("calls", calls));
    lines.push(("denials", s.denials.to_string()));
    if let (Some(p50), Some(p99)) = (percentile(&s.latency, 0.5), percentile(&s.latency, 0.99)) {
        lines.push(("latency", format!("p50 {p50}, p99 {p99}")));
    }
    if let Some(until) = &p.suspended_until {
        lines.push((
            "suspended",
            format!("until {until} ({} traps in a row)", s.consecutive_traps),
        ));
    }
    if let Some(r) = &p.rejected {
        lines.push(("rejected", format!("{} at {}", r.reason, r.time)));
    }
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(&format!("{:<13}{v}\n", format!("{k}:")));
    }
    if !s.last_errors.is_empty() {
        out.push_str("last errors:\n");
        for e in &s.last_errors {
            out.push_str(&format!("  {}  {}  {}\n", e.time, e.kind, e.message));
        }
    }
    out
}

/// `tend plugin reload`.
pub fn reload_report(r: &ReloadReport) -> String {
    if r.plugins.is_empty() {
        return "no plugins\n".into();
    }
    let rows: Vec<Vec<String>> = r
        .plugins
        .iter()
        .map(|e| {
            let action = match e.action {
                ReloadAction::Loaded => "loaded",
                ReloadAction::Unchanged => "unchanged",
                ReloadAction::Rejected if e.previous_kept => "rejected (previous kept)",
                ReloadAction::Rejected => "rejected",
                ReloadAction::Removed => "removed",
            };
            vec![
                e.name.clone(),
                action.to_string(),
                e.source.label().to_string(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["NAME", "RESULT", "SOURCE", "REASON"], &rows)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::wire::{
        PluginCallError, PluginGrants, PluginLimits, PluginRejection, PluginSource, PluginStats,
        ReloadEntry,
    };

    fn info(name: &str) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            state: PluginState::Loaded,
            world: "probe".into(),
            wit: Some("0.2.3".into()),
            version: "0.1.0".into(),
            description: "HTTP probe".into(),
            source: PluginSource::Builtin,
            path: None,
            sha256: "ab12".into(),
            grants: PluginGrants {
                hosts: vec!["$target".into()],
                paths: vec![],
                env: vec![],
                llm: false,
                project: false,
            },
            limits: PluginLimits {
                memory_mb: 32,
                timeout_ms: 5000,
                max_response_bytes: 1024,
            },
            config: serde_json::json!({}),
            from_cache: true,
            code: Some(PluginCode::Cache),
            loaded_at: "2026-01-01T00:00:00.000000Z".into(),
            stats: PluginStats {
                calls: 4,
                ok: 2,
                failures: BTreeMap::from([("trap".into(), 2)]),
                denials: 1,
                consecutive_traps: 2,
                latency: LatencyHistogram {
                    bounds_us: vec![50, 1000],
                    counts: vec![3, 0, 1],
                },
                last_errors: vec![PluginCallError {
                    time: "2026-01-01T00:00:01.000000Z".into(),
                    kind: "trap".into(),
                    message: "plugin trapped: unreachable".into(),
                }],
            },
            suspended_until: None,
            rejected: None,
        }
    }

    #[test]
    fn table_has_one_row_per_plugin() {
        let mut user = info("mine");
        user.source = PluginSource::UserOverridesBuiltin;
        user.state = PluginState::Rejected;
        user.world = String::new();
        assert_eq!(
            plugins_table(&[info("http"), user]),
            "NAME  WORLD  VERSION  SOURCE                     CALLS  FAILURES  STATE\n\
             http  probe  0.1.0    builtin                    4      2         loaded\n\
             mine  -      0.1.0    user (overrides built-in)  4      2         rejected\n"
        );
    }

    #[test]
    fn details_show_grants_stats_and_rejection() {
        let mut p = info("http");
        p.rejected = Some(PluginRejection {
            time: "T".into(),
            reason: "wrong world: x".into(),
            sha256: None,
        });
        p.suspended_until = Some("U".into());
        assert!(!plugin_details(&p).contains("interfaces:"));
        p.grants.llm = true;
        p.grants.project = true;
        let text = plugin_details(&p);
        for needle in [
            "state:       loaded (update rejected)\n",
            "path:        - (embedded)\n",
            "hosts:       $target\n",
            "paths:       -\n",
            "interfaces:  llm, project\n",
            "limits:      32 MiB, 5000 ms, responses up to 1024 bytes\n",
            "calls:       4 (2 ok, 2 trap)\n",
            "latency:     p50 <= 50us, p99 > 1ms\n",
            "suspended:   until U (2 traps in a row)\n",
            "rejected:    wrong world: x at T\n",
            "  2026-01-01T00:00:01.000000Z  trap  plugin trapped: unreachable\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn reload_report_names_results_and_reasons() {
        let entry = |name: &str, action, reason: Option<&str>, previous_kept| ReloadEntry {
            name: name.into(),
            action,
            source: PluginSource::User,
            reason: reason.map(String::from),
            previous_kept,
        };
        let r = ReloadReport {
            plugins: vec![
                entry("a", ReloadAction::Loaded, None, false),
                entry(
                    "b",
                    ReloadAction::Rejected,
                    Some("not a WebAssembly file"),
                    true,
                ),
                entry("c", ReloadAction::Removed, None, false),
            ],
        };
        assert_eq!(
            reload_report(&r),
            "NAME  RESULT                    SOURCE  REASON\n\
             a     loaded                    user\n\
             b     rejected (previous kept)  user    not a WebAssembly file\n\
             c     removed                   user\n"
        );
        assert_eq!(r.rejected().count(), 1);
    }

    #[test]
    fn percentiles_come_from_bucket_bounds() {
        let h = LatencyHistogram {
            bounds_us: vec![50, 1000, 2_000_000],
            counts: vec![0, 99, 0, 1],
        };
        assert_eq!(percentile(&h, 0.5).as_deref(), Some("<= 1ms"));
        assert_eq!(percentile(&h, 0.99).as_deref(), Some("<= 1ms"));
        assert_eq!(percentile(&h, 1.0).as_deref(), Some("> 2s"));
        assert_eq!(percentile(&LatencyHistogram::default(), 0.5), None);
    }
}
