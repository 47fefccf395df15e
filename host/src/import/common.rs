//! What the converters share: the warning list, a spec with tend's defaults, paths taken from the
//! file's directory, reading loosely typed values (YAML and JSON), durations, signals, and turning a
//! health-check command that fetches a URL (`curl`, `wget`) into tend's `http` probe.

use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::ImportError;
use crate::wire::{CommandLine, HealthSpec, ImportWarning, ServiceSpec};

/// The warnings of one conversion, in the order the fields were read.
#[derive(Debug, Default)]
pub struct Warnings(Vec<ImportWarning>);

impl Warnings {
    pub fn add(&mut self, object: &str, field: &str, reason: impl Into<String>) {
        self.0.push(ImportWarning {
            object: object.into(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// The usual reason: tend has nothing like it.
    pub fn unknown(&mut self, object: &str, field: &str) {
        self.add(object, field, "no equivalent in tend: not imported");
    }

    pub fn into_vec(self) -> Vec<ImportWarning> {
        self.0
    }
}

/// A spec with tend's defaults (as the API would fill them in), running in `base_dir`.
pub fn spec(name: &str, command: CommandLine, base_dir: &Path) -> ServiceSpec {
    let mut spec: ServiceSpec = serde_json::from_value(serde_json::json!({
        "name": name,
        "command": command,
    }))
    .unwrap_or_else(|e| unreachable!("a name and a command make a spec: {e}"));
    spec.working_dir = Some(base_dir.to_path_buf());
    spec
}

/// `path` taken from `base` when relative, `.` and `..` resolved lexically.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A string, number or boolean as text (YAML and JSON write environment values all three ways).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn wrong(place: &str, expected: &str) -> ImportError {
    ImportError::at(place, format!("expected {expected}"))
}

pub fn str_of(v: &Value, place: &str) -> Result<String, ImportError> {
    text(v).ok_or_else(|| wrong(place, "a string"))
}

pub fn u64_of(v: &Value, place: &str) -> Result<u64, ImportError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| wrong(place, "a whole number"))
}

pub fn f64_of(v: &Value, place: &str) -> Result<f64, ImportError> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| wrong(place, "a number"))
}

pub fn bool_of(v: &Value, place: &str) -> Result<bool, ImportError> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| wrong(place, "true or false"))
}

pub fn object<'a>(v: &'a Value, place: &str) -> Result<&'a Map<String, Value>, ImportError> {
    v.as_object().ok_or_else(|| wrong(place, "a mapping"))
}

/// A list of strings, or one string split like a shell would (no expansion).
pub fn words(v: &Value, place: &str) -> Result<Vec<String>, ImportError> {
    match v {
        Value::Array(items) => items.iter().map(|i| str_of(i, place)).collect(),
        Value::String(s) => {
            shlex::split(s).ok_or_else(|| ImportError::at(place, "unbalanced quotes"))
        }
        _ => Err(wrong(place, "a string or a list of strings")),
    }
}

/// `KEY=VALUE` items (a variable without `=` has no value to import: `None`).
pub fn key_value(item: &str) -> (String, Option<String>) {
    match item.split_once('=') {
        Some((k, v)) => (k.trim().to_string(), Some(v.to_string())),
        None => (item.trim().to_string(), None),
    }
}

/// A YAML document as JSON values, merge keys (`<<: *anchor`, as compose files share settings)
/// applied; the error names the line.
pub fn yaml(content: &str) -> Result<Value, ImportError> {
    let located = |e: yaml_serde::Error| {
        let msg = e.to_string();
        match e.location() {
            Some(l) => ImportError::line(l.line(), "YAML", msg),
            None => ImportError::at("YAML", msg),
        }
    };
    let mut doc: yaml_serde::Value = yaml_serde::from_str(content).map_err(located)?;
    doc.apply_merge().map_err(located)?;
    serde_json::to_value(doc).map_err(|e| ImportError::at("YAML", e.to_string()))
}

/// A duration as compose and process-compose write it: `90`, `1m30s`, `500ms`, `1h`, `2.5s`.
pub fn duration_s(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" => 0.000_001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Whole seconds, at least 1 (tend's intervals and timeouts are whole seconds).
pub fn whole_s(secs: f64) -> u64 {
    (secs.ceil() as u64).max(1)
}

/// `15` or `TERM` or `SIGTERM` as tend's `SIGTERM`.
pub fn signal_name(v: &Value) -> Option<String> {
    if let Some(n) = v.as_i64() {
        let sig = nix::sys::signal::Signal::try_from(i32::try_from(n).ok()?).ok()?;
        return Some(sig.as_str().to_string());
    }
    let s = v.as_str()?;
    if let Ok(n) = s.trim().parse::<i64>() {
        return signal_name(&Value::from(n));
    }
    crate::spec::parse_signal(s).map(|sig| sig.as_str().to_string())
}

/// The `http` probe at `url`.
pub fn http_health(url: &str, interval_s: u64, timeout_s: u64, retries: u32) -> HealthSpec {
    HealthSpec {
        probe: "http".into(),
        config: serde_json::json!({ "url": url }),
        interval_s,
        timeout_s,
        retries,
        start_period_s: 0,
    }
}

/// The URL a health-check command fetches, when it is a plain `curl` or `wget` of one URL (what
/// tend's `http` probe does: a status below 400, as `curl -f` and `wget` check).
pub fn fetched_url(argv: &[String]) -> Option<String> {
    // `CMD-SHELL` checks usually end in `|| exit 1`: what comes after the fetch does not matter.
    let first: Vec<&String> = argv
        .iter()
        .take_while(|a| !matches!(a.as_str(), "||" | "&&" | ";" | "|"))
        .collect();
    let program = first.first()?;
    let program = program.rsplit('/').next().unwrap_or(program);
    if program != "curl" && program != "wget" {
        return None;
    }
    let urls: Vec<&&String> = first
        .iter()
        .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
        .collect();
    match urls.as_slice() {
        [url] => Some(url.to_string()),
        _ => None,
    }
}
