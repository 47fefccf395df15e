//! `tend edit`: the spec part of a service view, `--set FIELD=VALUE` assignments on it, and the
//! `$VISUAL`/`$EDITOR` round trip. Pure JSON manipulation except for `run_editor`.

use std::path::Path;

use serde_json::{Map, Value};

use super::client::CliError;

/// Fields of a `ServiceView` that describe the running state, not the spec.
const RUNTIME_FIELDS: &[&str] = crate::wire::VIEW_ONLY_FIELDS;

/// One `--set FIELD=VALUE`: a dotted path and the text after `=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub path: Vec<String>,
    pub value: String,
}

/// clap value parser for `--set`.
pub fn parse_set(s: &str) -> Result<Assignment, String> {
    let (field, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not FIELD=VALUE"))?;
    let mut path: Vec<String> = field.split('.').map(str::to_string).collect();
    // Variable names may contain dots; everything after `env.` is one key.
    if path.len() > 2 && path[0] == "env" {
        path = vec!["env".into(), path[1..].join(".")];
    }
    if path.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "{field:?} is not a field name (use names like port or backoff.initial_delay_ms)"
        ));
    }
    Ok(Assignment {
        path,
        value: value.to_string(),
    })
}

/// The spec fields of a `GET /api/services/{name}` answer.
pub fn spec_of_view(view: Value) -> Result<Map<String, Value>, CliError> {
    match view {
        Value::Object(mut map) => {
            for f in RUNTIME_FIELDS {
                map.remove(*f);
            }
            Ok(map)
        }
        other => Err(CliError::Other(anyhow::anyhow!(
            "unexpected answer from the daemon: {other}"
        ))),
    }
}

/// Applies one assignment. VALUE is JSON when it parses as JSON, else a string; where the field
/// already holds a string (or is an `env` entry), numbers and booleans stay strings, since that is
/// the only thing the daemon would accept there.
pub fn apply(spec: &mut Map<String, Value>, a: &Assignment) -> Result<(), CliError> {
    let (last, parents) = a
        .path
        .split_last()
        .expect("parse_set never yields an empty path");
    let mut obj = spec;
    for (i, key) in parents.iter().enumerate() {
        let slot = obj
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        obj = slot.as_object_mut().ok_or_else(|| {
            CliError::Usage(format!(
                "cannot set {}: {} is not an object",
                a.path.join("."),
                a.path[..=i].join(".")
            ))
        })?;
    }
    let parsed =
        serde_json::from_str::<Value>(&a.value).unwrap_or_else(|_| Value::String(a.value.clone()));
    let wants_string =
        obj.get(last).is_some_and(Value::is_string) || (a.path.len() == 2 && a.path[0] == "env");
    let value = match parsed {
        Value::Number(_) | Value::Bool(_) if wants_string => Value::String(a.value.clone()),
        v => v,
    };
    obj.insert(last.clone(), value);
    Ok(())
}

/// Opens `file` in `$VISUAL`, else `$EDITOR`, else `vi`, and waits for it.
pub fn run_editor(file: &Path) -> Result<(), CliError> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let status = editor_command(&editor, file)
        .status()
        .map_err(|e| CliError::Other(anyhow::anyhow!("cannot run the editor {editor:?}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::Other(anyhow::anyhow!(
            "the editor {editor:?} failed ({status}); nothing was changed"
        )))
    }
}

/// Runs the editor through the shell so settings such as `code --wait` work; the path is passed as
/// `$1` so it needs no quoting.
fn editor_command(editor: &str, file: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file);
    cmd
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(spec: &mut Map<String, Value>, s: &str) -> Result<(), CliError> {
        apply(spec, &parse_set(s).unwrap())
    }

    #[test]
    fn parse_set_splits_paths() {
        assert_eq!(
            parse_set("backoff.initial_delay_ms=500").unwrap(),
            Assignment {
                path: vec!["backoff".into(), "initial_delay_ms".into()],
                value: "500".into()
            }
        );
        assert_eq!(parse_set("cmd=a=b").unwrap().value, "a=b");
        assert_eq!(parse_set("env.A.B=1").unwrap().path, vec!["env", "A.B"]);
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("=x").is_err());
        assert!(parse_set("a..b=1").is_err());
    }

    #[test]
    fn values_are_json_else_strings() {
        let mut spec = Map::new();
        set(&mut spec, "port=8080").unwrap();
        set(&mut spec, "enabled=false").unwrap();
        set(&mut spec, r#"command=["sleep", "5"]"#).unwrap();
        set(&mut spec, "working_dir=/srv/app").unwrap();
        set(&mut spec, "health={\"url\": \"http://x\"}").unwrap();
        set(&mut spec, "caddy_path=").unwrap();
        assert_eq!(
            Value::Object(spec),
            json!({"port": 8080, "enabled": false, "command": ["sleep", "5"], "working_dir": "/srv/app",
                   "health": {"url": "http://x"}, "caddy_path": ""})
        );
    }

    #[test]
    fn dotted_paths_reach_into_objects() {
        let mut spec = spec_of_view(json!({
            "name": "web", "command": "x", "status": "running", "pid": 4, "uptime_s": 1.0,
            "restart_count": 0, "source": "api", "backoff": {"initial_delay_ms": 1000, "multiplier": 2.0},
            "env": {"A": "1"}, "port": null,
        }))
        .unwrap();
        set(&mut spec, "backoff.initial_delay_ms=250").unwrap();
        set(&mut spec, "env.B=2").unwrap();
        set(&mut spec, "env.A=true").unwrap();
        set(&mut spec, "health.path=/ok").unwrap();
        set(&mut spec, "port.x=1").unwrap();
        assert_eq!(
            Value::Object(spec.clone()),
            json!({"name": "web", "command": "x", "backoff": {"initial_delay_ms": 250, "multiplier": 2.0},
                   "env": {"A": "true", "B": "2"}, "health": {"path": "/ok"}, "port": {"x": 1}})
        );
        let err = set(&mut spec, "name.first=x").unwrap_err();
        assert!(err.to_string().contains("name is not an object"), "{err}");
    }

    #[test]
    fn strings_stay_strings() {
        let mut spec =
            spec_of_view(json!({"name": "web", "stop_signal": "TERM", "port": 80})).unwrap();
        set(&mut spec, "stop_signal=15").unwrap();
        set(&mut spec, "port=81").unwrap();
        set(&mut spec, "name=null").unwrap();
        assert_eq!(
            Value::Object(spec),
            json!({"name": null, "stop_signal": "15", "port": 81})
        );
    }

    #[test]
    fn editor_runs_through_the_shell_with_the_path_as_one_argument() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spec with 'quotes' and $pace.json");
        std::fs::write(&file, "{}").unwrap();
        let status = editor_command("printf '{\"a\":1}' >", &file)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\":1}");
        assert!(!editor_command("false", &file).status().unwrap().success());
    }
}
