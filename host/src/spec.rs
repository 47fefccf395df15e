//! Semantic validation of service specs (every number under a named bound, `MAX_*`), resolution of their environment, and the argv of a run with
//! extra args (`argv_with_args`, used by the supervisor's actor and by custom-restart jobs). Pure
//! functions apart from looking at the file system for `working_dir` and `env_file`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::wire::{CommandLine, ServiceSpec};

/// Upper bounds of a service spec's numbers (README, "Bounds"): past them a value is a mistake, and
/// time arithmetic on it could overflow. A value outside is `invalid` naming the field.
pub const MAX_DURATION_S: u64 = 30 * 86_400;
/// `stop_timeout_s`.
pub const MAX_STOP_TIMEOUT_S: u64 = 3_600;
/// `backoff.initial_delay_ms` and `backoff.max_delay_ms`: one day.
pub const MAX_BACKOFF_DELAY_MS: u64 = 86_400_000;
/// `max_restarts`.
pub const MAX_RESTARTS: u32 = 1_000_000;
/// `health.retries`.
pub const MAX_HEALTH_RETRIES: u32 = 1_000;
/// `health.interval_s`: one day.
pub const MAX_HEALTH_INTERVAL_S: u64 = 86_400;
/// `health.timeout_s`.
pub const MAX_HEALTH_TIMEOUT_S: u64 = 600;
/// `max_memory_mb`: 16 TiB.
pub const MAX_MEMORY_MB: u64 = 16 << 20;

/// A validation failure naming the offending field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Service and job names end up in file paths, so they are restricted to `^[a-z0-9][a-z0-9_-]{0,62}$`.
pub fn validate_name(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'_' || b == b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(err(
            "name",
            format!(
                "{name:?} is not a valid name: use 1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
            ),
        ))
    }
}

/// Parses `SIGTERM`, `TERM` or `term` into a signal.
pub fn parse_signal(s: &str) -> Option<Signal> {
    let upper = s.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().ok()
}

/// The command of a service or cron job: not empty, no NUL bytes.
pub fn validate_command(command: &CommandLine) -> Result<(), FieldError> {
    match command {
        CommandLine::Shell(s) if s.trim().is_empty() => Err(err("command", "must not be empty")),
        CommandLine::Argv(v) if v.is_empty() || v[0].is_empty() => {
            Err(err("command", "must not be empty (argv[0] is the program)"))
        }
        CommandLine::Argv(v) if v.iter().any(|a| a.contains('\0')) => {
            Err(err("command", "arguments must not contain NUL bytes"))
        }
        _ => Ok(()),
    }
}

/// Where a service or cron job runs and its environment: an existing absolute `working_dir`, valid
/// variable names in the map called `env_field`, a readable `env_file` (relative to `working_dir`).
pub fn validate_environment<'a>(
    working_dir: Option<&Path>,
    env_keys: impl IntoIterator<Item = &'a String>,
    env_field: &str,
    env_file: Option<&Path>,
) -> Result<(), FieldError> {
    if let Some(dir) = working_dir {
        if !dir.is_absolute() {
            return Err(err(
                "working_dir",
                format!("{} is not an absolute path", dir.display()),
            ));
        }
        if !dir.is_dir() {
            return Err(err(
                "working_dir",
                format!("{} does not exist or is not a directory", dir.display()),
            ));
        }
    }
    for key in env_keys {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(err(
                env_field,
                format!("{key:?} is not a valid variable name"),
            ));
        }
    }
    if let Some(file) = env_file {
        let path = env_file_path(working_dir, file);
        if !path.is_file() {
            return Err(err(
                "env_file",
                format!("{} does not exist", path.display()),
            ));
        }
        read_env_file(&path).map_err(|m| err("env_file", m))?;
    }
    Ok(())
}

/// The Caddy fields: an exposed service needs a `port` (the upstream) and a routable name; a
/// `caddy_path` is a prefix like `/app`; `caddy_headers` are header names and single-line values.
fn validate_caddy(spec: &ServiceSpec) -> Result<(), FieldError> {
    if let Some(p) = &spec.caddy_path {
        let ok = p.len() > 1
            && p.len() <= 200
            && p.starts_with('/')
            && !p.ends_with('/')
            && !p.contains("//")
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
        if !ok {
            return Err(err(
                "caddy_path",
                format!(
                    "{p:?} is not a path prefix: use /segment[/segment...] of a-z, A-Z, 0-9, '-', '.', '_', '~', without a trailing '/'"
                ),
            ));
        }
    }
    for (name, value) in &spec.caddy_headers {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(err(
                "caddy_headers",
                format!("{name:?} is not an HTTP header name"),
            ));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(err(
                "caddy_headers",
                format!("the value of {name} must be one line without control characters"),
            ));
        }
    }
    if !spec.expose_caddy {
        return Ok(());
    }
    if spec.port.is_none() {
        return Err(err(
            "port",
            "expose_caddy needs the port the service listens on (Caddy proxies to 127.0.0.1:<port>)",
        ));
    }
    if spec.caddy_subdomain.is_none() && spec.caddy_path.is_none() && spec.name.contains('_') {
        return Err(err(
            "caddy_subdomain",
            format!(
                "the service name {:?} is not a DNS label and no caddy_subdomain or caddy_path is set",
                spec.name
            ),
        ));
    }
    Ok(())
}

/// An `env_file` as read: a relative path is taken from `working_dir`.
pub fn env_file_path(working_dir: Option<&Path>, file: &Path) -> PathBuf {
    match working_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

pub fn validate(spec: &ServiceSpec) -> Result<(), FieldError> {
    validate_name(&spec.name)?;
    validate_command(&spec.command)?;
    validate_environment(
        spec.working_dir.as_deref(),
        spec.env.keys(),
        "env",
        spec.env_file.as_deref(),
    )?;
    if spec.port == Some(0) {
        return Err(err("port", "must be between 1 and 65535"));
    }
    if parse_signal(&spec.stop_signal).is_none() {
        return Err(err(
            "stop_signal",
            format!("{:?} is not a signal name", spec.stop_signal),
        ));
    }
    if !(1..=MAX_STOP_TIMEOUT_S).contains(&spec.stop_timeout_s) {
        return Err(err(
            "stop_timeout_s",
            format!("must be between 1 and {MAX_STOP_TIMEOUT_S} seconds"),
        ));
    }
    if spec.max_restarts > MAX_RESTARTS {
        return Err(err(
            "max_restarts",
            format!("must not exceed {MAX_RESTARTS}"),
        ));
    }
    if let Some(mb) = spec.max_memory_mb
        && !(1..=MAX_MEMORY_MB).contains(&mb)
    {
        return Err(err(
            "max_memory_mb",
            format!("must be between 1 and {MAX_MEMORY_MB} (16 TiB)"),
        ));
    }
    let b = &spec.backoff;
    if !(1.0..=100.0).contains(&b.multiplier) {
        return Err(err("backoff.multiplier", "must be between 1.0 and 100.0"));
    }
    if !(0.0..=1.0).contains(&b.jitter) {
        return Err(err(
            "backoff.jitter",
            "must be a fraction between 0.0 and 1.0",
        ));
    }
    if b.initial_delay_ms > b.max_delay_ms {
        return Err(err(
            "backoff.initial_delay_ms",
            "must not exceed backoff.max_delay_ms",
        ));
    }
    if b.max_delay_ms > MAX_BACKOFF_DELAY_MS {
        return Err(err(
            "backoff.max_delay_ms",
            format!("must not exceed {MAX_BACKOFF_DELAY_MS} (one day)"),
        ));
    }
    if b.reset_after_s > MAX_DURATION_S {
        return Err(err(
            "backoff.reset_after_s",
            format!("must not exceed {MAX_DURATION_S} seconds (30 days)"),
        ));
    }
    for dep in spec.depends_on.names() {
        validate_name(dep).map_err(|e| err("depends_on", e.message))?;
        if dep == spec.name {
            return Err(err("depends_on", "a service cannot depend on itself"));
        }
    }
    if let Some(sub) = &spec.caddy_subdomain {
        let label_ok = !sub.is_empty()
            && sub.len() <= 63
            && sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !sub.starts_with('-')
            && !sub.ends_with('-');
        if !label_ok {
            return Err(err(
                "caddy_subdomain",
                format!("{sub:?} is not a DNS label"),
            ));
        }
    }
    validate_caddy(spec)?;
    if let Some(h) = &spec.health {
        validate_name(&h.probe).map_err(|e| err("health.probe", e.message))?;
        if !h.config.is_object() {
            return Err(err("health.config", "must be an object"));
        }
        if !(1..=MAX_HEALTH_INTERVAL_S).contains(&h.interval_s) {
            return Err(err(
                "health.interval_s",
                format!("must be between 1 and {MAX_HEALTH_INTERVAL_S} seconds"),
            ));
        }
        if !(1..=MAX_HEALTH_TIMEOUT_S).contains(&h.timeout_s) {
            return Err(err(
                "health.timeout_s",
                format!("must be between 1 and {MAX_HEALTH_TIMEOUT_S} seconds"),
            ));
        }
        if !(1..=MAX_HEALTH_RETRIES).contains(&h.retries) {
            return Err(err(
                "health.retries",
                format!("must be between 1 and {MAX_HEALTH_RETRIES}"),
            ));
        }
        if h.start_period_s > MAX_DURATION_S {
            return Err(err(
                "health.start_period_s",
                format!("must not exceed {MAX_DURATION_S} seconds (30 days)"),
            ));
        }
    }
    if let Some(url) = &spec.health_check_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(err(
            "health_check_url",
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    Ok(())
}

/// Reads a dotenv file (comments, quotes, `export` prefix).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let iter = dotenvy::from_path_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    iter.map(|item| item.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// The environment a service's process gets on top of the daemon's own: `env_file`, then `env`.
pub fn service_env(spec: &ServiceSpec) -> Result<BTreeMap<String, String>, FieldError> {
    let mut env = BTreeMap::new();
    if let Some(file) = &spec.env_file {
        let path = env_file_path(spec.working_dir.as_deref(), file);
        for (k, v) in read_env_file(&path).map_err(|m| err("env_file", m))? {
            env.insert(k, v);
        }
    }
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(env)
}

/// The argv of a service's command with `args` appended (a custom restart's extra args for one run):
/// to the argv of an array command, or shell-quoted to the end of a string command (which runs through
/// `/bin/sh -c`), so they stay words and never become shell syntax.
pub fn argv_with_args(command: &CommandLine, args: &[String]) -> Vec<String> {
    match command {
        CommandLine::Argv(argv) => argv.iter().chain(args).cloned().collect(),
        CommandLine::Shell(s) => {
            let mut line = s.clone();
            for a in args {
                line.push(' ');
                line.push_str(&shell_quote(a));
            }
            vec!["/bin/sh".into(), "-c".into(), line]
        }
    }
}

/// `word` quoted for a POSIX shell, so it stays one word.
pub fn shell_quote(word: &str) -> String {
    match shlex::try_quote(word) {
        Ok(q) => q.into_owned(),
        // Only NUL makes shlex refuse; validation keeps it out, and no argv can carry one anyway.
        Err(_) => format!("'{}'", word.replace('\0', "").replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_appended_as_words() {
        let args: Vec<String> = vec![
            "--config".into(),
            "prod.yaml".into(),
            "a b; rm -rf /".into(),
        ];
        assert_eq!(
            argv_with_args(&CommandLine::Argv(vec!["app".into()]), &args),
            ["app", "--config", "prod.yaml", "a b; rm -rf /"]
        );
        let shell = argv_with_args(&CommandLine::Shell("exec app".into()), &args);
        assert_eq!(shell[..2], ["/bin/sh", "-c"]);
        // The shell sees three words, none of them syntax.
        assert_eq!(
            shlex::split(&shell[2]).unwrap(),
            ["exec", "app", "--config", "prod.yaml", "a b; rm -rf /"]
        );
        assert_eq!(shell_quote("it's"), shlex::try_quote("it's").unwrap());
    }

    fn spec(json: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn names() {
        for ok in ["a", "web", "my-app_2", "0abc", &"a".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "A",
            "a b",
            "../x",
            "a/b",
            "a.b",
            &"a".repeat(64),
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("int"), Some(Signal::SIGINT));
        assert_eq!(parse_signal("SIGNOPE"), None);
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        let cases = [
            (serde_json::json!({"name": "a", "command": ""}), "command"),
            (serde_json::json!({"name": "a", "command": []}), "command"),
            (
                serde_json::json!({"name": "a", "command": "x", "working_dir": "/no/such/dir"}),
                "working_dir",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "working_dir": "rel"}),
                "working_dir",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "port": 0}),
                "port",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "stop_signal": "SIGNOPE"}),
                "stop_signal",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "backoff": {"jitter": 2.0}}),
                "backoff.jitter",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "env": {"A=B": "c"}}),
                "env",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "depends_on": ["a"]}),
                "depends_on",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "health": {"probe": "http", "retries": 0}}),
                "health.retries",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "health": {"probe": "Bad"}}),
                "health.probe",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "health_check_url": "ftp://x"}),
                "health_check_url",
            ),
        ];
        for (json, field) in cases {
            let e = validate(&spec(json.clone())).unwrap_err();
            assert_eq!(e.field, field, "{json}");
        }
    }

    #[test]
    fn every_number_has_an_upper_bound() {
        let max = u64::MAX;
        let cases = [
            (
                serde_json::json!({"stop_timeout_s": 3601}),
                "stop_timeout_s",
            ),
            (
                serde_json::json!({"max_restarts": u32::MAX}),
                "max_restarts",
            ),
            (serde_json::json!({"max_memory_mb": max}), "max_memory_mb"),
            (serde_json::json!({"max_memory_mb": 0}), "max_memory_mb"),
            (
                serde_json::json!({"backoff": {"initial_delay_ms": max, "max_delay_ms": max}}),
                "backoff.max_delay_ms",
            ),
            (
                serde_json::json!({"backoff": {"reset_after_s": max}}),
                "backoff.reset_after_s",
            ),
            (
                serde_json::json!({"health": {"probe": "http", "start_period_s": max - 5}}),
                "health.start_period_s",
            ),
            (
                serde_json::json!({"health": {"probe": "http", "interval_s": max}}),
                "health.interval_s",
            ),
            (
                serde_json::json!({"health": {"probe": "http", "timeout_s": max}}),
                "health.timeout_s",
            ),
            (
                serde_json::json!({"health": {"probe": "http", "retries": u32::MAX}}),
                "health.retries",
            ),
        ];
        for (patch, field) in cases {
            let mut json = serde_json::json!({"name": "a", "command": "x"});
            json.as_object_mut()
                .unwrap()
                .extend(patch.as_object().unwrap().clone());
            let e = validate(&spec(json.clone())).unwrap_err();
            assert_eq!(e.field, field, "{json}");
        }
        // The bounds themselves are accepted.
        let json = serde_json::json!({
            "name": "a", "command": "x", "stop_timeout_s": MAX_STOP_TIMEOUT_S,
            "max_restarts": MAX_RESTARTS, "max_memory_mb": MAX_MEMORY_MB,
            "backoff": {"max_delay_ms": MAX_BACKOFF_DELAY_MS, "reset_after_s": MAX_DURATION_S},
            "health": {"probe": "http", "start_period_s": MAX_DURATION_S,
                       "interval_s": MAX_HEALTH_INTERVAL_S, "timeout_s": MAX_HEALTH_TIMEOUT_S,
                       "retries": MAX_HEALTH_RETRIES},
        });
        validate(&spec(json)).unwrap();
    }

    #[test]
    fn env_file_then_env_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "# comment\nexport A=1\nB=\"two words\"\nC='single $quoted'\nD=from_file\n",
        )
        .unwrap();
        let s = spec(serde_json::json!({
            "name": "a", "command": "x",
            "working_dir": dir.path(), "env_file": ".env", "env": {"D": "from_env"}
        }));
        validate(&s).unwrap();
        let env = service_env(&s).unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "single $quoted");
        assert_eq!(env["D"], "from_env");
    }
}
