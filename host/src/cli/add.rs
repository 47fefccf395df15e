//! `tend add`: turns flags (or a spec file plus flags) into the JSON body of `POST /api/services`.
//! Only the fields the user gave are sent, so the daemon's defaults apply to the rest.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::client::CliError;

#[derive(Clone, Debug, Default, clap::Args)]
#[command(
    group(clap::ArgGroup::new("program").required(true).args(["argv", "shell", "file"])),
    override_usage = "tend add NAME [OPTIONS] -- PROGRAM [ARGS]...\n       \
                      tend add NAME [OPTIONS] --shell CMD\n       \
                      tend add [NAME] [OPTIONS] --file FILE"
)]
pub struct AddArgs {
    /// Service name (1-63 of a-z, 0-9, '_', '-'); may be left out with --file when the file has one.
    #[arg(required_unless_present = "file")]
    pub name: Option<String>,
    /// Working directory (relative paths are taken from the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Environment variable for the service (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,
    /// dotenv file read by the daemon at each start.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// The port the service listens on.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// When to restart the process after it exits.
    #[arg(long, value_name = "POLICY", value_parser = ["always", "on-failure", "never"])]
    pub restart: Option<String>,
    /// Give up (status fatal) after this many consecutive restarts.
    #[arg(long, value_name = "N")]
    pub max_restarts: Option<u32>,
    /// Register the service without starting it.
    #[arg(long)]
    pub disabled: bool,
    /// Signal sent to stop the service (e.g. SIGTERM, INT).
    #[arg(long, value_name = "SIG")]
    pub stop_signal: Option<String>,
    /// Seconds to wait after the stop signal before SIGKILL.
    #[arg(long, value_name = "SECS")]
    pub stop_timeout: Option<u64>,
    /// Run this command line through /bin/sh -c instead of an argv.
    #[arg(long, value_name = "CMD", conflicts_with = "argv")]
    pub shell: Option<String>,
    /// Read the spec from a JSON or TOML file (by extension); flags given as well override its fields.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["argv", "shell"])]
    pub file: Option<PathBuf>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, value_name = "PROGRAM")]
    pub argv: Vec<String>,
}

/// clap value parser for `--env K=V`.
pub fn parse_env_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not K=V")),
    }
}

/// Reads `--file`: JSON for `.json`, TOML for `.toml`, otherwise whichever parses.
pub fn read_spec_file(path: &Path) -> Result<Map<String, Value>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let from_json = || serde_json::from_str::<Value>(&text).map_err(|e| e.to_string());
    let from_toml = || {
        toml::from_str::<toml::Table>(&text)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))
    };
    let parsed = match ext.as_deref() {
        Some("json") => from_json(),
        Some("toml") => from_toml(),
        _ => from_json().or_else(|_| from_toml()),
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::Usage(format!(
            "{}: a spec must be an object",
            path.display()
        ))),
        Err(e) => Err(CliError::Usage(format!("{}: {e}", path.display()))),
    }
}

/// The request body: `base` (from `--file`, or empty) with every given flag laid over it. Relative
/// paths are resolved against `cwd` because the daemon runs elsewhere.
pub fn build_spec(args: &AddArgs, base: Map<String, Value>, cwd: &Path) -> Result<Value, CliError> {
    let mut spec = base;
    let abs = |p: &Path| std::path::absolute(cwd.join(p)).unwrap_or_else(|_| cwd.join(p));
    if let Some(name) = &args.name {
        spec.insert("name".into(), json!(name));
    }
    if !spec.contains_key("name") {
        return Err(CliError::Usage(
            "the spec has no name: give one, as in `tend add NAME --file FILE`".into(),
        ));
    }
    if let Some(shell) = &args.shell {
        spec.insert("command".into(), json!(shell));
    } else if !args.argv.is_empty() {
        spec.insert("command".into(), json!(args.argv));
    }
    if let Some(dir) = &args.cwd {
        spec.insert("working_dir".into(), json!(abs(dir)));
    }
    if !args.env.is_empty() {
        let env = spec.entry("env").or_insert_with(|| json!({}));
        let Some(env) = env.as_object_mut() else {
            return Err(CliError::Usage(
                "`env` in the spec file must be a table of strings".into(),
            ));
        };
        for (k, v) in &args.env {
            env.insert(k.clone(), json!(v));
        }
    }
    if let Some(f) = &args.env_file {
        spec.insert("env_file".into(), json!(abs(f)));
    }
    if let Some(port) = args.port {
        spec.insert("port".into(), json!(port));
    }
    if let Some(policy) = &args.restart {
        spec.insert("restart".into(), json!(policy));
    }
    if let Some(n) = args.max_restarts {
        spec.insert("max_restarts".into(), json!(n));
    }
    if args.disabled {
        spec.insert("enabled".into(), json!(false));
    }
    if let Some(sig) = &args.stop_signal {
        spec.insert("stop_signal".into(), json!(sig));
    }
    if let Some(secs) = args.stop_timeout {
        spec.insert("stop_timeout_s".into(), json!(secs));
    }
    Ok(Value::Object(spec))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        add: AddArgs,
    }

    fn parse(args: &[&str]) -> Result<AddArgs, clap::Error> {
        Wrap::try_parse_from(std::iter::once("add").chain(args.iter().copied())).map(|w| w.add)
    }

    fn build(args: &[&str]) -> Value {
        build_spec(&parse(args).unwrap(), Map::new(), Path::new("/home/me")).unwrap()
    }

    #[test]
    fn argv_form_sends_only_what_was_given() {
        assert_eq!(
            build(&["web", "--", "python", "-m", "http.server", "--bind", "::"]),
            json!({"name": "web", "command": ["python", "-m", "http.server", "--bind", "::"]})
        );
    }

    #[test]
    fn shell_form_and_every_flag() {
        let spec = build(&[
            "web",
            "--shell",
            "echo hi | cat",
            "--cwd",
            "./srv",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--env-file",
            "/etc/web.env",
            "--port",
            "8080",
            "--restart",
            "on-failure",
            "--max-restarts",
            "3",
            "--disabled",
            "--stop-signal",
            "INT",
            "--stop-timeout",
            "5",
        ]);
        assert_eq!(
            spec,
            json!({
                "name": "web", "command": "echo hi | cat", "working_dir": "/home/me/srv",
                "env": {"A": "1", "B": "x=y"}, "env_file": "/etc/web.env", "port": 8080,
                "restart": "on-failure", "max_restarts": 3, "enabled": false,
                "stop_signal": "INT", "stop_timeout_s": 5,
            })
        );
    }

    #[test]
    fn usage_errors_are_caught_by_clap() {
        use clap::error::ErrorKind;
        assert_eq!(
            parse(&["web"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["--", "x"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["web", "--shell", "x", "--", "y"])
                .unwrap_err()
                .kind(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            parse(&["web", "--env", "novalue", "--", "y"])
                .unwrap_err()
                .kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            parse(&["web", "--restart", "sometimes", "--", "y"])
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            parse(&["web", "--port", "0", "--", "y"])
                .unwrap_err()
                .kind(),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn file_specs_take_flags_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("web.toml");
        std::fs::write(
            &toml_path,
            "name = \"web\"\ncommand = [\"sleep\", \"9\"]\n[env]\nA = \"file\"\n",
        )
        .unwrap();
        let base = read_spec_file(&toml_path).unwrap();
        let args = parse(&["--file", toml_path.to_str().unwrap(), "--env", "B=flag"]).unwrap();
        assert_eq!(
            build_spec(&args, base, dir.path()).unwrap(),
            json!({"name": "web", "command": ["sleep", "9"], "env": {"A": "file", "B": "flag"}})
        );

        let json_path = dir.path().join("anon.json");
        std::fs::write(&json_path, r#"{"command": "true"}"#).unwrap();
        let base = read_spec_file(&json_path).unwrap();
        let args = parse(&["--file", json_path.to_str().unwrap()]).unwrap();
        assert_eq!(
            build_spec(&args, base.clone(), dir.path())
                .unwrap_err()
                .exit_code(),
            2
        );
        let args = parse(&["other", "--file", json_path.to_str().unwrap()]).unwrap();
        assert_eq!(
            build_spec(&args, base, dir.path()).unwrap()["name"],
            "other"
        );

        std::fs::write(&json_path, "[1]").unwrap();
        assert!(read_spec_file(&json_path).is_err());
    }
}
