//! A PM2 ecosystem file as JSON (`{"apps": [...]}`, or the array; a `.config.js` arrives evaluated
//! by the CLI). Per app: `script` with `interpreter` (by extension when absent, as PM2 does: `.js`
//! runs with node, `none` runs the script itself), `interpreter_args`/`node_args`, `args`, `cwd`,
//! `env` (its `PORT` is the service's `port`), `env_<NAME>` (merged with `--env NAME`, else warned),
//! `instances` (in fork mode, N services `name-0`..`name-N-1` with `NODE_APP_INSTANCE`, as PM2 sets;
//! cluster mode shares one port between workers, which has no equivalent: one service, warned),
//! `autorestart`, `max_restarts`, `restart_delay` (a fixed delay), `exp_backoff_restart_delay`
//! (PM2's backoff: x1.5 up to 15 s), `kill_timeout`, `max_memory_restart` (`300M` -> 300 MiB),
//! `watch`, and `cron_restart` (warned, with the cron job to add instead).

use serde_json::{Map, Value};

use super::common::{
    Warnings, bool_of, object, resolve, spec, str_of, text, u64_of, whole_s, words,
};
use super::{Draft, ImportError, Input};
use crate::wire::{Backoff, CommandLine, RestartPolicy};

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let doc: Value = serde_json::from_str(input.content).map_err(|e| {
        let hint = if input.file_name.ends_with(".js") || input.file_name.ends_with(".cjs") {
            " (a .config.js is evaluated by `tend import` with node first)"
        } else {
            ""
        };
        ImportError::line(e.line(), "JSON", format!("{e}{hint}"))
    })?;
    let apps = match &doc {
        Value::Array(apps) => apps,
        Value::Object(top) => {
            for key in top.keys().filter(|k| *k != "apps") {
                w.add(
                    input.file_name,
                    key,
                    "only `apps` is imported (deploy and the rest are PM2's own)",
                );
            }
            top.get("apps")
                .and_then(Value::as_array)
                .ok_or_else(|| ImportError::at("apps", "expected a list of apps"))?
        }
        _ => return Err(ImportError::at("the file", "expected {\"apps\": [...]}")),
    };
    let mut out = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let place = format!("apps[{i}]");
        app_drafts(&place, object(app, &place)?, input, w, &mut out)?;
    }
    Ok(out)
}

fn app_drafts(
    place: &str,
    app: &Map<String, Value>,
    input: &Input<'_>,
    w: &mut Warnings,
    out: &mut Vec<Draft>,
) -> Result<(), ImportError> {
    let script = str_of(
        app.get("script")
            .ok_or_else(|| ImportError::at(place, "no `script`"))?,
        &format!("{place}.script"),
    )?;
    let name = match app.get("name") {
        Some(v) => str_of(v, &format!("{place}.name"))?,
        None => script
            .rsplit('/')
            .next()
            .unwrap_or(&script)
            .split('.')
            .next()
            .unwrap_or("app")
            .to_string(),
    };
    let obj = format!("{place} ({name})");
    let mut s = spec(&name, CommandLine::Argv(Vec::new()), input.base_dir);
    let mut interpreter: Option<String> = None;
    let mut interpreter_args = Vec::new();
    let mut args = Vec::new();
    let mut instances = 1u64;
    let mut cluster = false;
    let mut env_extra: Option<&Map<String, Value>> = None;
    for (key, v) in app {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "name" | "script" => {}
            "args" => args = words(v, &at)?,
            "interpreter" | "exec_interpreter" => interpreter = Some(str_of(v, &at)?),
            "interpreter_args" | "node_args" => interpreter_args.extend(words(v, &at)?),
            "cwd" => s.working_dir = Some(resolve(input.base_dir, &str_of(v, &at)?)),
            "env" => {
                for (k, val) in object(v, &at)? {
                    s.env
                        .insert(k.clone(), env_value(val, &format!("{at}.{k}"))?);
                }
            }
            k if k.starts_with("env_") => {
                let env = &k["env_".len()..];
                if input.env_name == Some(env) {
                    env_extra = Some(object(v, &at)?);
                } else {
                    w.add(
                        &obj,
                        k,
                        format!(
                            "the environment of `pm2 start --env {env}`: imported with \
                             `tend import --env {env}`; not imported"
                        ),
                    );
                }
            }
            "instances" => match v {
                // 0 and -1 mean one per CPU, as "max" does.
                Value::Number(_) | Value::String(_) if u64_of(v, &at).is_ok_and(|n| n > 0) => {
                    instances = u64_of(v, &at)?;
                }
                _ => {
                    w.add(
                        &obj,
                        key,
                        format!(
                            "{} (one per CPU) has no equivalent: imported as one service; \
                             give the number of instances",
                            text(v).unwrap_or_default()
                        ),
                    );
                }
            },
            "exec_mode" => {
                let mode = str_of(v, &at)?;
                cluster = mode.starts_with("cluster");
            }
            "autorestart" => {
                s.restart = if bool_of(v, &at)? {
                    RestartPolicy::Always
                } else {
                    RestartPolicy::Never
                }
            }
            "max_restarts" => s.max_restarts = u64_of(v, &at)?.min(u32::MAX as u64) as u32,
            "restart_delay" => {
                let ms = u64_of(v, &at)?;
                s.backoff = Backoff {
                    initial_delay_ms: ms,
                    max_delay_ms: ms,
                    multiplier: 1.0,
                    ..Backoff::default()
                };
            }
            "exp_backoff_restart_delay" => {
                let ms = u64_of(v, &at)?;
                s.backoff = Backoff {
                    initial_delay_ms: ms,
                    max_delay_ms: ms.max(15_000),
                    multiplier: 1.5,
                    ..Backoff::default()
                };
            }
            "kill_timeout" => s.stop_timeout_s = whole_s(u64_of(v, &at)? as f64 / 1000.0),
            "max_memory_restart" => {
                s.max_memory_mb = Some(memory_mb(v).ok_or_else(|| {
                    ImportError::at(&at, "expected a size such as 300M, 1G or 512K")
                })?)
            }
            "watch" => match v {
                Value::Bool(true) => s.watch_dirs = vec![s.working_dir.clone().unwrap_or_default()],
                Value::Bool(false) => {}
                _ => {
                    let base = s.working_dir.clone().unwrap_or_default();
                    s.watch_dirs = words(v, &at)?.iter().map(|p| resolve(&base, p)).collect();
                }
            },
            "cron_restart" => w.add(
                &obj,
                key,
                format!(
                    "tend restarts on failure, not on a schedule: add a cron job, `tend cron add \
                     {name}-restart --schedule \"{}\" -- tend restart {name}`; not imported",
                    text(v).unwrap_or_default()
                ),
            ),
            "out_file" | "error_file" | "log_file" | "merge_logs" | "log_date_format"
            | "combine_logs" | "time" => w.add(
                &obj,
                key,
                "tend captures and rotates the output itself (`tend logs NAME`): not imported",
            ),
            "ignore_watch" | "watch_options" => w.add(
                &obj,
                key,
                "tend watches the whole of each watch_dirs entry: not imported",
            ),
            _ => w.unknown(&obj, key),
        }
    }
    if let Some(extra) = env_extra {
        for (k, val) in extra {
            s.env.insert(k.clone(), env_value(val, k)?);
        }
    }
    s.port = s.env.get("PORT").and_then(|p| p.parse().ok());
    let mut argv = match interpreter.as_deref() {
        Some("none") => vec![script.clone()],
        Some(i) => vec![i.to_string()],
        None => match by_extension(&script) {
            Some(i) => vec![i.to_string()],
            None => vec![script.clone()],
        },
    };
    if argv[0] != script {
        argv.extend(interpreter_args);
        argv.push(script.clone());
    } else if !interpreter_args.is_empty() {
        w.add(&obj, "interpreter_args", "no interpreter to give them to");
    }
    argv.extend(args);
    s.command = CommandLine::Argv(argv);
    if cluster {
        w.add(
            &obj,
            "exec_mode",
            format!(
                "cluster mode (workers sharing one port through node's cluster module) has no \
                 equivalent: imported as one service{}",
                if instances > 1 {
                    format!(" instead of {instances}")
                } else {
                    String::new()
                }
            ),
        );
        instances = 1;
    }
    if instances == 1 {
        out.push(Draft {
            object: obj,
            spec: s,
        });
        return Ok(());
    }
    if let Some(port) = s.port {
        w.add(
            &obj,
            "instances",
            format!(
                "every instance gets PORT={port} and port {port}: make each listen on a port of \
                 its own (NODE_APP_INSTANCE tells them apart)"
            ),
        );
    }
    for n in 0..instances {
        let mut one = s.clone();
        one.name = format!("{name}-{n}");
        one.env.insert("NODE_APP_INSTANCE".into(), n.to_string());
        out.push(Draft {
            object: obj.clone(),
            spec: one,
        });
    }
    Ok(())
}

/// PM2's interpreter for a script, by its extension.
fn by_extension(script: &str) -> Option<&'static str> {
    let ext = script.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "js" | "cjs" | "mjs" => "node",
        "ts" => "ts-node",
        "py" => "python3",
        "sh" => "bash",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        _ => return None,
    })
}

fn env_value(v: &Value, place: &str) -> Result<String, ImportError> {
    match v {
        Value::Null => Ok(String::new()),
        v => str_of(v, place),
    }
}

/// `300M`, `1G`, `512K` or a number of bytes, in MiB (rounded up).
fn memory_mb(v: &Value) -> Option<u64> {
    let s = text(v)?;
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], s[i..].to_ascii_uppercase()),
        None => (s, String::new()),
    };
    let n: f64 = num.trim().parse().ok()?;
    let mib = match unit.trim_end_matches('B') {
        "" => n / 1_048_576.0,
        "K" => n / 1024.0,
        "M" => n,
        "G" => n * 1024.0,
        _ => return None,
    };
    (mib > 0.0).then(|| mib.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(memory_mb(&Value::from("300M")), Some(300));
        assert_eq!(memory_mb(&Value::from("1G")), Some(1024));
        assert_eq!(memory_mb(&Value::from("512K")), Some(1));
        assert_eq!(memory_mb(&Value::from(1_048_576 * 3)), Some(3));
        assert_eq!(memory_mb(&Value::from("lots")), None);
    }
}
