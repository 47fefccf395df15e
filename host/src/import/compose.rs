//! A docker-compose file, for the services that run from a host command: `entrypoint` + `command`
//! as the argv, the first of `ports` (the host port) as `port`, `environment` (list or map),
//! `env_file`, `healthcheck` (`CMD`/`CMD-SHELL` fetching a URL with curl or wget -> the `http`
//! probe; other checks warned), `depends_on` (short and long form, with `condition` and `restart`),
//! `restart`, `stop_signal`, `stop_grace_period`. A service with only an `image` has no host command:
//! warned and skipped, named. Everything about containers (image, volumes, networks, ...) is warned.

use serde_json::{Map, Value};

use super::common::{
    Warnings, bool_of, duration_s, fetched_url, http_health, key_value, object, resolve,
    signal_name, str_of, text, u64_of, whole_s, words, yaml,
};
use super::{Draft, ImportError, Input};
use crate::wire::{CommandLine, Dependency, DependencyCondition, HealthSpec, RestartPolicy};

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let doc = yaml(input.content)?;
    let top = object(&doc, "the file")?;
    let mut services = None;
    for (key, v) in top {
        match key.as_str() {
            "services" => services = Some(object(v, "services")?),
            // Obsolete in the compose specification: nothing to carry. `x-` extension fields
            // only hold what anchors merge into services (read there).
            "version" => {}
            k if k.starts_with("x-") => {}
            _ => w.add(
                input.file_name,
                key,
                "containers' settings (networks, volumes, ...) have no equivalent: not imported",
            ),
        }
    }
    let services = services.ok_or_else(|| ImportError::at("services", "no `services:`"))?;
    let mut out: Vec<Draft> = Vec::new();
    let mut skipped = Vec::new();
    for (name, v) in services {
        match service(name, v, input, w)? {
            Some(d) => out.push(d),
            None => skipped.push(name.as_str()),
        }
    }
    // A dependency on a skipped container cannot be waited for: said, and left out.
    for d in &mut out {
        for dep in &skipped {
            if d.spec.depends_on.0.remove(*dep).is_some() {
                w.add(
                    &d.object,
                    &format!("depends_on.{dep}"),
                    format!("{dep} is not imported (no host command): start it before this one"),
                );
            }
        }
    }
    Ok(out)
}

fn service(
    name: &str,
    v: &Value,
    input: &Input<'_>,
    w: &mut Warnings,
) -> Result<Option<Draft>, ImportError> {
    let place = format!("services.{name}");
    let fields = object(v, &place)?;
    let mut argv = match fields.get("entrypoint") {
        Some(e) => words(e, &format!("{place}.entrypoint"))?,
        None => Vec::new(),
    };
    if let Some(c) = fields.get("command") {
        argv.extend(words(c, &format!("{place}.command"))?);
    }
    if argv.is_empty() {
        let image = fields.get("image").and_then(text).unwrap_or_default();
        w.add(
            &place,
            "image",
            format!(
                "{name} runs the image {image:?} with no command: a container, not a host \
                 command; skipped (run it with docker, or give it a command)"
            ),
        );
        return Ok(None);
    }
    let mut s = super::common::spec(name, CommandLine::Argv(argv), input.base_dir);
    // compose's default: never restart.
    s.restart = RestartPolicy::Never;
    let mut env_files: Vec<String> = Vec::new();
    for (key, v) in fields {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "command" | "entrypoint" => {}
            "image" => w.add(
                &place,
                key,
                "the command runs on the host, not in the image: make sure it is installed there",
            ),
            "ports" => ports(v, &at, &place, &mut s, w)?,
            "environment" => match v {
                Value::Array(items) => {
                    for item in items {
                        match key_value(&str_of(item, &at)?) {
                            (k, Some(val)) => {
                                s.env.insert(k, val);
                            }
                            (k, None) => unset(&place, &k, w),
                        }
                    }
                }
                _ => {
                    for (k, val) in object(v, &at)? {
                        match val {
                            Value::Null => unset(&place, k, w),
                            val => {
                                s.env.insert(k.clone(), str_of(val, &format!("{at}.{k}"))?);
                            }
                        }
                    }
                }
            },
            "env_file" => {
                let items = match v {
                    Value::Array(items) => items.clone(),
                    v => vec![v.clone()],
                };
                for item in items {
                    let path = match &item {
                        Value::Object(m) => str_of(
                            m.get("path")
                                .ok_or_else(|| ImportError::at(&at, "no `path`"))?,
                            &at,
                        )?,
                        item => str_of(item, &at)?,
                    };
                    env_files.push(path);
                }
            }
            "healthcheck" => s.health = healthcheck(v, &at, &place, w)?,
            "depends_on" => depends_on(v, &at, &place, &mut s, w)?,
            "restart" => {
                let r = str_of(v, &at)?;
                let (policy, max) = r.split_once(':').unwrap_or((&r, ""));
                s.restart = match policy {
                    "no" => RestartPolicy::Never,
                    "always" | "unless-stopped" => RestartPolicy::Always,
                    "on-failure" => RestartPolicy::OnFailure,
                    other => {
                        return Err(ImportError::at(
                            at,
                            format!(
                                "{other:?}: expected no, always, on-failure[:N] or unless-stopped"
                            ),
                        ));
                    }
                };
                if !max.is_empty() {
                    s.max_restarts = max
                        .parse()
                        .map_err(|_| ImportError::at(&at, "on-failure:N takes a whole number"))?;
                }
            }
            "stop_signal" => {
                s.stop_signal =
                    signal_name(v).ok_or_else(|| ImportError::at(&at, "not a signal"))?
            }
            "stop_grace_period" => {
                s.stop_timeout_s = whole_s(
                    duration_s(&str_of(v, &at)?)
                        .ok_or_else(|| ImportError::at(&at, "expected a duration such as 30s"))?,
                )
            }
            "working_dir" => w.add(
                &place,
                key,
                "a directory inside the container: the service runs in the file's directory; \
                 not imported",
            ),
            "build" | "volumes" | "networks" | "container_name" | "labels" | "deploy" | "user"
            | "expose" | "network_mode" | "hostname" | "logging" | "profiles" | "platform"
            | "pull_policy" | "secrets" | "configs" | "extra_hosts" | "cap_add" | "cap_drop"
            | "privileged" | "tty" | "stdin_open" | "init" | "ulimits" => w.add(
                &place,
                key,
                "about containers: no equivalent for a host command; not imported",
            ),
            _ => w.unknown(&place, key),
        }
    }
    interpolation(&mut s, &place, w);
    if let Some(first) = env_files.first() {
        s.env_file = Some(resolve(input.base_dir, first));
    }
    if env_files.len() > 1 {
        w.add(
            &place,
            "env_file",
            format!(
                "tend reads one env_file: {} imported, {} not (merge them, or move their \
                 variables to environment)",
                env_files[0],
                env_files[1..].join(", ")
            ),
        );
    }
    Ok(Some(Draft {
        object: place,
        spec: s,
    }))
}

/// compose interpolates `${X}` and `$X` from the shell and `.env` when it reads the file, and `$$`
/// is a literal `$`; tend passes text as it is: `$$` is unescaped, anything else is said.
fn interpolation(s: &mut crate::wire::ServiceSpec, place: &str, w: &mut Warnings) {
    fn uses_variables(t: &str) -> bool {
        t.replace("$$", "").contains('$')
    }
    let mut fields = Vec::new();
    if let CommandLine::Argv(argv) = &mut s.command {
        if argv.iter().any(|a| uses_variables(a)) {
            fields.push("command".to_string());
        }
        for a in argv.iter_mut() {
            *a = a.replace("$$", "$");
        }
    }
    for (k, v) in s.env.iter_mut() {
        if uses_variables(v) {
            fields.push(format!("environment.{k}"));
        }
        *v = v.replace("$$", "$");
    }
    for field in fields {
        w.add(
            place,
            &field,
            "compose fills in $VARIABLES from the shell and .env when it reads the file; tend \
             passes the text as it is (put the values in, or in the env_file): imported as written",
        );
    }
}

fn unset(place: &str, key: &str, w: &mut Warnings) {
    w.add(
        place,
        "environment",
        format!("{key} has no value (compose takes it from the shell): not imported"),
    );
}

/// The first port's host side (the command runs on the host, where it listens on that port).
fn ports(
    v: &Value,
    at: &str,
    place: &str,
    s: &mut crate::wire::ServiceSpec,
    w: &mut Warnings,
) -> Result<(), ImportError> {
    let items = v
        .as_array()
        .ok_or_else(|| super::common::wrong(at, "a list"))?;
    for (i, item) in items.iter().enumerate() {
        let (host, container) = match item {
            Value::Object(m) => {
                let target = m.get("target").and_then(text);
                (m.get("published").and_then(text).or(target.clone()), target)
            }
            item => {
                let spec = str_of(item, at)?;
                let spec = spec.split('/').next().unwrap_or_default().to_string();
                let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
                match parts.as_slice() {
                    [c] => (Some(c.to_string()), Some(c.to_string())),
                    [c, h, ..] => (Some(h.to_string()), Some(c.to_string())),
                    [] => (None, None),
                }
            }
        };
        let Some(port) = host.as_deref().and_then(|h| h.parse::<u16>().ok()) else {
            w.add(
                place,
                "ports",
                format!("{item}: not one host port (a range or none): not imported"),
            );
            continue;
        };
        if i > 0 {
            w.add(
                place,
                "ports",
                format!("tend knows one port per service: {port} not imported"),
            );
            continue;
        }
        s.port = Some(port);
        if container.as_deref().is_some_and(|c| c != port.to_string()) {
            w.add(
                place,
                "ports",
                format!(
                    "the command runs on the host, where it must listen on {port} itself (the \
                     container's {} is not mapped)",
                    container.unwrap_or_default()
                ),
            );
        }
    }
    Ok(())
}

fn healthcheck(
    v: &Value,
    at: &str,
    place: &str,
    w: &mut Warnings,
) -> Result<Option<HealthSpec>, ImportError> {
    let fields: &Map<String, Value> = object(v, at)?;
    let mut h = http_health("", 30, 30, 3);
    let mut url = None;
    for (k, val) in fields {
        let at = format!("{at}.{k}");
        let secs = |val: &Value| {
            str_of(val, &at).and_then(|t| {
                duration_s(&t)
                    .ok_or_else(|| ImportError::at(&at, "expected a duration such as 30s"))
            })
        };
        match k.as_str() {
            "test" => {
                let argv = match val {
                    // A string is CMD-SHELL.
                    Value::String(s) => shlex::split(s).unwrap_or_default(),
                    _ => {
                        let list = words(val, &at)?;
                        match list.first().map(String::as_str) {
                            Some("CMD") => list[1..].to_vec(),
                            Some("CMD-SHELL") => list
                                .get(1)
                                .and_then(|c| shlex::split(c))
                                .unwrap_or_default(),
                            Some("NONE") => return Ok(None),
                            _ => {
                                return Err(ImportError::at(
                                    at,
                                    "expected [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or [\"NONE\"]",
                                ));
                            }
                        }
                    }
                };
                match fetched_url(&argv) {
                    Some(u) => url = Some(u),
                    None => w.add(
                        place,
                        "healthcheck.test",
                        format!(
                            "`{}`: tend's health checks are probe plugins (http, tcp), not \
                             commands; not imported",
                            argv.join(" ")
                        ),
                    ),
                }
            }
            "interval" => h.interval_s = whole_s(secs(val)?),
            "timeout" => h.timeout_s = whole_s(secs(val)?),
            "retries" => h.retries = u64_of(val, &at)?.clamp(1, 1000) as u32,
            "start_period" => h.start_period_s = secs(val)?.ceil() as u64,
            "disable" => {
                if bool_of(val, &at)? {
                    return Ok(None);
                }
            }
            _ => w.unknown(place, &format!("healthcheck.{k}")),
        }
    }
    Ok(url.map(|url| {
        h.config = serde_json::json!({ "url": url });
        h
    }))
}

fn depends_on(
    v: &Value,
    at: &str,
    place: &str,
    s: &mut crate::wire::ServiceSpec,
    w: &mut Warnings,
) -> Result<(), ImportError> {
    match v {
        Value::Array(names) => {
            for n in names {
                s.depends_on.0.insert(str_of(n, at)?, Dependency::default());
            }
        }
        _ => {
            for (dep, d) in object(v, at)? {
                let at = format!("{at}.{dep}");
                let mut edge = Dependency::default();
                for (k, val) in object(d, &at)? {
                    let at = format!("{at}.{k}");
                    match k.as_str() {
                        "condition" => {
                            let c = str_of(val, &at)?;
                            edge.condition = DependencyCondition::parse(&c).ok_or_else(|| {
                                ImportError::at(
                                    &at,
                                    format!(
                                        "{c:?}: expected service_started, service_healthy or \
                                         service_completed_successfully"
                                    ),
                                )
                            })?;
                        }
                        "restart" => edge.restart = bool_of(val, &at)?,
                        "required" => {
                            if !bool_of(val, &at)? {
                                w.add(
                                    place,
                                    &format!("depends_on.{dep}.required"),
                                    "an optional dependency has no equivalent: imported as \
                                     required",
                                );
                            }
                        }
                        _ => w.unknown(place, &format!("depends_on.{dep}.{k}")),
                    }
                }
                s.depends_on.0.insert(dep.clone(), edge);
            }
        }
    }
    Ok(())
}
