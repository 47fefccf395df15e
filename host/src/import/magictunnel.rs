//! MagicTunnel's `config.yaml`, its `supervisor:` section: `services` (command + args as the argv,
//! `working_dir`, `health_check_url` with `health_check_interval`, `restart_policy`, `max_restarts`,
//! `env`), the `health_check` defaults (interval, timeout, retries of every URL check) and the
//! `restart` defaults (delay, max_delay in ms and the backoff multiplier of every service). The
//! supervisor's own settings (port, host, security) are tend's daemon settings: warned. The rest of
//! the file is MagicTunnel's own configuration, left alone (one warning lists its sections).

use serde_json::{Map, Value};

use super::common::{
    Warnings, bool_of, f64_of, http_health, object, resolve, spec, str_of, u64_of, whole_s, words,
    yaml,
};
use super::{Draft, ImportError, Input};
use crate::wire::{Backoff, CommandLine, RestartPolicy};

/// The `health_check` section.
struct Checks {
    interval_s: u64,
    timeout_s: u64,
    retries: u32,
}

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let doc = yaml(input.content)?;
    let top = object(&doc, "the file")?;
    let other: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "supervisor")
        .collect();
    if !other.is_empty() {
        w.add(
            input.file_name,
            &other.join(", "),
            "MagicTunnel's own settings, not the supervisor's: not imported",
        );
    }
    let sup = object(
        top.get("supervisor")
            .ok_or_else(|| ImportError::at("supervisor", "no `supervisor:` section"))?,
        "supervisor",
    )?;
    let mut checks = Checks {
        interval_s: 30,
        timeout_s: 10,
        retries: 3,
    };
    let mut backoff = Backoff::default();
    let mut services = None;
    for (key, v) in sup {
        let place = format!("supervisor.{key}");
        match key.as_str() {
            "services" => services = Some(object(v, &place)?),
            "health_check" => health_defaults(v, &place, &mut checks, w)?,
            "restart" => restart_defaults(v, &place, &mut backoff, w)?,
            "enabled" => {
                if !bool_of(v, &place)? {
                    w.add(
                        "supervisor",
                        key,
                        "the supervisor was disabled: the services are imported all the same",
                    );
                }
            }
            "port" | "host" => w.add(
                "supervisor",
                key,
                "tend's own listen address: `tend daemon --port/--host` (SUPERVISOR_PORT and \
                 SUPERVISOR_HOST are read too); not imported",
            ),
            _ => w.unknown("supervisor", key),
        }
    }
    let services = services.ok_or_else(|| {
        ImportError::at("supervisor.services", "no `services:` under `supervisor:`")
    })?;
    services
        .iter()
        .map(|(name, v)| service(name, v, input, &checks, &backoff, w))
        .collect()
}

fn health_defaults(
    v: &Value,
    place: &str,
    checks: &mut Checks,
    w: &mut Warnings,
) -> Result<(), ImportError> {
    for (key, v) in object(v, place)? {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "interval" => checks.interval_s = u64_of(v, &at)?.max(1),
            "timeout" => checks.timeout_s = u64_of(v, &at)?.max(1),
            "retries" => checks.retries = u64_of(v, &at)?.clamp(1, 1000) as u32,
            _ => w.unknown("supervisor.health_check", key),
        }
    }
    Ok(())
}

fn restart_defaults(
    v: &Value,
    place: &str,
    backoff: &mut Backoff,
    w: &mut Warnings,
) -> Result<(), ImportError> {
    for (key, v) in object(v, place)? {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "delay" => backoff.initial_delay_ms = u64_of(v, &at)?,
            "max_delay" => backoff.max_delay_ms = u64_of(v, &at)?,
            "backoff" => backoff.multiplier = f64_of(v, &at)?,
            _ => w.unknown("supervisor.restart", key),
        }
    }
    Ok(())
}

fn service(
    name: &str,
    v: &Value,
    input: &Input<'_>,
    checks: &Checks,
    backoff: &Backoff,
    w: &mut Warnings,
) -> Result<Draft, ImportError> {
    let place = format!("supervisor.services.{name}");
    let fields: &Map<String, Value> = object(v, &place)?;
    let command = fields
        .get("command")
        .ok_or_else(|| ImportError::at(&place, "no `command`"))?;
    let mut argv = vec![str_of(command, &format!("{place}.command"))?];
    let mut s = spec(name, CommandLine::Argv(Vec::new()), input.base_dir);
    s.backoff = backoff.clone();
    let mut interval = None;
    for (key, v) in fields {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "command" => {}
            "args" => argv.extend(words(v, &at)?),
            "working_dir" => s.working_dir = Some(resolve(input.base_dir, &str_of(v, &at)?)),
            "health_check_url" => s.health_check_url = Some(str_of(v, &at)?),
            "health_check_interval" => interval = Some(u64_of(v, &at)?.max(1)),
            "restart_policy" => {
                s.restart = match str_of(v, &at)?.as_str() {
                    "always" => RestartPolicy::Always,
                    "on_failure" | "on-failure" => RestartPolicy::OnFailure,
                    "never" | "no" => RestartPolicy::Never,
                    other => {
                        return Err(ImportError::at(
                            at,
                            format!(
                                "unknown policy {other:?}: expected always, on_failure or never"
                            ),
                        ));
                    }
                }
            }
            "max_restarts" => s.max_restarts = u64_of(v, &at)?.min(u32::MAX as u64) as u32,
            "env" | "environment" => {
                for (k, val) in object(v, &at)? {
                    s.env.insert(k.clone(), str_of(val, &format!("{at}.{k}"))?);
                }
            }
            _ => w.unknown(&place, key),
        }
    }
    s.command = CommandLine::Argv(argv);
    match (s.health_check_url.take(), interval) {
        (Some(url), interval) => {
            s.health = Some(http_health(
                &url,
                interval.unwrap_or(checks.interval_s),
                whole_s(checks.timeout_s as f64),
                checks.retries,
            ))
        }
        (None, Some(_)) => w.add(
            &place,
            "health_check_interval",
            "no health_check_url to check: tend supervises the process itself; add a `health` \
             check (http or tcp probe) to check more",
        ),
        (None, None) => {}
    }
    Ok(Draft {
        object: place,
        spec: s,
    })
}
