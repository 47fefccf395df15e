//! What every job needs: the export's options, the warnings collector (which also names the lost
//! fields in the job's `Meta["tend.dev/unmapped"]`), durations in Nomad's unit, and the raw_exec
//! command line.

use serde_json::{Map, Value, json};

/// Nomad's API format counts every duration in nanoseconds (`KillTimeout`, `Interval`, `Delay`,
/// `Grace`, ...), not seconds: api-docs/json-jobs.
pub const NS_PER_S: u64 = 1_000_000_000;
pub const NS_PER_MS: u64 = 1_000_000;

/// Where `tend agent` reads its config and listens when the options leave them out (the contract
/// in wit/worlds.wit names both).
const DEFAULT_AGENT_CONFIG: &str = "/etc/tend/tend.toml";
const DEFAULT_AGENT_PORT: u16 = 9902;

/// The keys of `options-json` this plugin reads; the others (`image`, `gateway`, `kube_version`)
/// are Kubernetes'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub namespace: Option<String>,
    pub datacenters: Vec<String>,
    pub agent_config: String,
    pub agent_port: u16,
}

impl Options {
    pub fn parse(json: &str) -> Result<Options, String> {
        let v: Value = if json.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(json).map_err(|e| format!("options-json: {e}"))?
        };
        let str_at = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let datacenters = match v.get("datacenters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|d| {
                    d.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| "options-json: datacenters must be strings".to_string())
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("options-json: datacenters must be a list".into()),
        };
        let agent = v.get("agent");
        let agent_config = agent
            .and_then(|a| a.get("config_path"))
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_AGENT_CONFIG)
            .to_string();
        let agent_port = match agent.and_then(|a| a.get("listen_port")) {
            None | Some(Value::Null) => DEFAULT_AGENT_PORT,
            Some(p) => p
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| "options-json: agent.listen_port must be 1 to 65535".to_string())?,
        };
        Ok(Options {
            namespace: str_at("namespace").filter(|n| !n.is_empty()),
            datacenters,
            agent_config,
            agent_port,
        })
    }

    /// `Datacenters`: the ones asked for, else `["*"]` (every datacenter; Nomad 1.5 and later
    /// accept the glob and use it as their own default).
    pub fn datacenters(&self) -> Value {
        if self.datacenters.is_empty() {
            json!(["*"])
        } else {
            json!(self.datacenters)
        }
    }
}

/// One field that does not carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub object: String,
    pub field: String,
    pub reason: String,
}

/// The warnings of one tend object (`service/web`, `cron/report`), and the spec keys the mapping
/// carried over (the "every field" test checks each key lands in one of the two).
#[derive(Debug, Default)]
pub struct Report {
    pub object: String,
    pub warnings: Vec<Warning>,
    pub mapped: Vec<String>,
}

impl Report {
    pub fn new(object: String) -> Report {
        Report {
            object,
            ..Report::default()
        }
    }

    pub fn warn(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.warnings.push(Warning {
            object: self.object.clone(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub fn mapped(&mut self, field: &str) {
        self.mapped.push(field.to_string());
    }

    /// A warning for each key of `spec` outside `known` (a field added to tend after this plugin), so
    /// that nothing is dropped silently.
    pub fn warn_unknown_keys(&mut self, spec: &Value, known: &[&str]) {
        if let Some(obj) = spec.as_object() {
            for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
                self.warn(
                    key.clone(),
                    "not known to this version of the nomad plugin, so not carried over",
                );
            }
        }
    }

    /// `Meta["tend.dev/unmapped"]`: the lost fields, comma-separated, in warning order.
    pub fn unmapped_meta(&self) -> Option<String> {
        let mut fields: Vec<&str> = Vec::new();
        for w in &self.warnings {
            if !fields.contains(&w.field.as_str()) {
                fields.push(&w.field);
            }
        }
        (!fields.is_empty()).then(|| fields.join(","))
    }
}

/// raw_exec's `command` and `args` for a tend command line. raw_exec wants an absolute path for a
/// binary on the host (drivers/raw_exec: "the path must be absolute"), while tend looks bare names
/// up in PATH: those run through `/usr/bin/env`, which does the same lookup, so the host command
/// runs unchanged. A shell string runs through `/bin/sh -c`, as tend runs it.
pub fn command_line(command: &Value) -> Result<(String, Vec<String>), String> {
    match command {
        Value::String(s) => Ok(("/bin/sh".into(), vec!["-c".into(), s.clone()])),
        Value::Array(items) => {
            let argv: Vec<String> = items
                .iter()
                .map(|a| a.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or("command: every argument must be a string")?;
            let Some(first) = argv.first() else {
                return Err("command is empty".into());
            };
            if first.starts_with('/') {
                Ok((first.clone(), argv[1..].to_vec()))
            } else {
                Ok(("/usr/bin/env".into(), argv))
            }
        }
        _ => Err("command must be a string or a list of strings".into()),
    }
}

/// raw_exec's `Config`: `command`, `args` and, when given, `work_dir` (an absolute path; the
/// driver's own option, drivers/raw_exec).
pub fn raw_exec_config(program: String, args: Vec<String>, work_dir: Option<&str>) -> Value {
    let mut config = Map::new();
    config.insert("command".into(), json!(program));
    config.insert("args".into(), json!(args));
    if let Some(dir) = work_dir {
        config.insert("work_dir".into(), json!(dir));
    }
    Value::Object(config)
}

/// Nomad interpolates `${...}` in raw_exec `args` before the program sees them (drivers/raw_exec:
/// "References to environment variables ... will be interpreted"), with the task's environment;
/// tend passes them through (a shell then expands them). Same value for the task's own variables,
/// but a warning says so.
pub fn warn_interpolation(report: &mut Report, field: &str, args: &[String]) {
    if args.iter().any(|a| a.contains("${")) {
        report.warn(
            field,
            "contains `${...}`, which Nomad interpolates itself before the command runs",
        );
    }
}

pub fn u64_at(spec: &Value, key: &str) -> Option<u64> {
    spec.get(key).and_then(Value::as_u64)
}

pub fn str_at<'a>(spec: &'a Value, key: &str) -> Option<&'a str> {
    spec.get(key).and_then(Value::as_str)
}

/// The spec as pretty JSON, the way `nomad job run -json` reads it: `{"Job": {...}}`.
pub fn document(job: Value) -> String {
    let mut body =
        serde_json::to_string_pretty(&json!({ "Job": job })).unwrap_or_else(|_| String::from("{}"));
    body.push('\n');
    body
}
