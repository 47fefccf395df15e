//! What services and cron jobs share: the warnings of one tend object (which also make its
//! `tend.dev/unmapped` annotation), Kubernetes names, labels and metadata, the env ConfigMaps, the
//! target version, and the YAML rendering.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::Warning;
use crate::model::Command;

/// The annotation naming every field of the tend object that did not carry over, comma-separated
/// in the order of the warnings (their reasons are in the export's warnings).
pub const UNMAPPED: &str = "tend.dev/unmapped";

/// Kubernetes versions as `(1, minor)`.
pub type Version = (u32, u32);
/// The oldest version tend claims: everything emitted is GA there without a feature gate
/// (`CronJob.spec.timeZone` went GA in 1.27).
pub const OLDEST: Version = (1, 27);
/// The newest version this plugin knows (and `kubernetes-validate` ships schemas for); the default.
pub const NEWEST: Version = (1, 37);
/// `lifecycle.stopSignal` (with `spec.os.name`) exists from here on.
pub const STOP_SIGNAL_SINCE: Version = (1, 33);

/// The image the init containers that wait for a dependency's port run (`nc` and `timeout`).
pub const WAIT_IMAGE: &str = "busybox:1.37";

/// `"1.33"`, `"v1.33"`, `"1.33.2"`; none: `NEWEST`.
pub fn parse_version(v: Option<&str>) -> Result<Version, String> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(NEWEST);
    };
    let bad = || format!("kube_version {v:?} is not a version like 1.33");
    let mut parts = v.trim_start_matches('v').split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let version = (major, minor);
    if version < OLDEST {
        return Err(format!(
            "kube_version {v} is older than the oldest Kubernetes tend exports to, {}.{}",
            OLDEST.0, OLDEST.1
        ));
    }
    Ok(version)
}

/// The warnings of one tend object (`service/web`, `cron/report`).
pub struct Lost {
    pub object: String,
    pub warnings: Vec<Warning>,
}

impl Lost {
    pub fn new(kind: &str, name: &str) -> Self {
        Lost {
            object: format!("{kind}/{name}"),
            warnings: Vec::new(),
        }
    }

    pub fn warn(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.warnings.push(Warning {
            object: self.object.clone(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// The fields warned about, for the annotation; none: no annotation.
    pub fn annotation(&self) -> Option<String> {
        let mut fields: Vec<&str> = Vec::new();
        for w in &self.warnings {
            if !fields.contains(&w.field.as_str()) {
                fields.push(&w.field);
            }
        }
        (!fields.is_empty()).then(|| fields.join(","))
    }
}

/// A tend name as a Kubernetes name (an RFC 1035 label: lowercase letters, digits and `-`, starting
/// with a letter, ending with a letter or digit); tend also allows `_` and a leading digit.
pub fn k8s_name(name: &str) -> String {
    let mut n: String = name
        .chars()
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        n.insert_str(0, "t-");
    }
    if n.ends_with('-') {
        n.push('0');
    }
    n
}

/// The name the objects of a tend object get; a changed name is a warning.
pub fn object_name(name: &str, lost: &mut Lost) -> String {
    let n = k8s_name(name);
    if n != name {
        lost.warn(
            "name",
            format!("Kubernetes names allow no `_` and must start with a letter: named {n}"),
        );
    }
    n
}

pub fn labels(name: &str) -> Value {
    json!({"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "tend"})
}

/// `metadata` of an object: name, namespace, labels.
pub fn metadata(name: &str, label: &str, namespace: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert("labels".into(), labels(label));
    m
}

/// Puts the `tend.dev/unmapped` annotation on a workload (once all its warnings are known).
pub fn annotate(object: &mut Value, lost: &Lost) {
    if let Some(fields) = lost.annotation() {
        object["metadata"]["annotations"] = json!({ UNMAPPED: fields });
    }
}

/// The env ConfigMaps (`<base>-env` from the variables, and a reference to `<base>-env-file` for an
/// `env_file` the user creates from the file) and the container's `envFrom`, later sources winning
/// as in tend (the variables over the file).
pub struct Env {
    pub config_maps: Vec<Value>,
    pub env_from: Vec<Value>,
}

pub fn env(
    base: &str,
    label: &str,
    namespace: Option<&str>,
    vars: &BTreeMap<String, String>,
    env_file: Option<&str>,
    lost: &mut Lost,
) -> Env {
    let mut out = Env {
        config_maps: Vec::new(),
        env_from: Vec::new(),
    };
    if let Some(file) = env_file {
        let name = format!("{base}-env-file");
        lost.warn(
            "env_file",
            format!(
                "the file's content is not part of the definition: create the ConfigMap {name} \
                 from it (kubectl create configmap {name} --from-env-file={file}); the pod \
                 does not start until it exists"
            ),
        );
        out.env_from.push(json!({"configMapRef": {"name": name}}));
    }
    if !vars.is_empty() {
        let name = format!("{base}-env");
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        cm["metadata"] = Value::Object(metadata(&name, label, namespace));
        cm["data"] = json!(vars);
        out.config_maps.push(cm);
        out.env_from.push(json!({"configMapRef": {"name": name}}));
    }
    out
}

/// The container's program, working dir and environment.
pub fn container(
    name: &str,
    image: &str,
    command: &Command,
    working_dir: Option<&str>,
    env_from: &[Value],
) -> Value {
    let mut c = json!({"name": name, "image": image, "command": command.argv()});
    if let Some(dir) = working_dir {
        c["workingDir"] = json!(dir);
    }
    if !env_from.is_empty() {
        c["envFrom"] = json!(env_from);
    }
    c
}

/// One YAML file of several documents.
pub fn yaml(objects: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_norway::to_string(o).map_err(|e| format!("YAML: {e}"))?);
    }
    Ok(out)
}
