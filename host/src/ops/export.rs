//! `export`: tend's definitions rendered for another engine (`GET /api/export/{target}`, `tend
//! export`). Resolves the target to a `deploy-export` plugin (`[export]`: `k8s` and `nomad` name
//! the plugins of the two built-in targets; any other loaded plugin of that world is a target under
//! its own name), selects the services and cron jobs, hands the plugin their specs as the API shows
//! them, their routes as `GET /api/caddy/config` shows them (`Caddy::routes_of`) and the options,
//! and checks the answer: every document path must stay inside the directory `--out` writes to. The
//! `[export]` table (`ExportSettings`) lives here too. Writes nothing (the CLI writes the files).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

use super::{Error, Ops, Result};
use crate::plugins::{ExportInput, Exported, Outcome};
use crate::wire::{Code, ExportDocument, ExportParams, ExportResult, ExportWarning};

/// The `[export]` table of `tend.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSettings {
    /// The plugin that renders target `k8s` (a user plugin of world `deploy-export` replaces the
    /// built-in one).
    pub k8s: String,
    /// The plugin that renders target `nomad`.
    pub nomad: String,
    /// Where the exported `tend agent` command reads its tend.toml inside the container / task.
    pub agent_config_path: String,
    /// The port the exported `tend agent` listens on (`/healthz/NAME`).
    pub agent_port: u16,
    /// Nomad: the job's `datacenters`.
    pub datacenters: Vec<String>,
    /// Kubernetes: the version the manifests target (`MAJOR.MINOR`); none: the plugin's newest.
    pub kube_version: Option<String>,
}

impl Default for ExportSettings {
    fn default() -> ExportSettings {
        ExportSettings {
            k8s: "k8s".into(),
            nomad: "nomad".into(),
            agent_config_path: "/etc/tend/tend.toml".into(),
            agent_port: 9902,
            datacenters: vec!["dc1".into()],
            kube_version: None,
        }
    }
}

impl ExportSettings {
    /// Errors name the setting.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (key, plugin) in [("export.k8s", &self.k8s), ("export.nomad", &self.nomad)] {
            crate::spec::validate_name(plugin).map_err(|e| format!("{key}: {}", e.message))?;
        }
        if !self.agent_config_path.starts_with('/') || self.agent_config_path.contains('\0') {
            return Err(format!(
                "export.agent_config_path: {:?} is not an absolute path",
                self.agent_config_path
            ));
        }
        if self.agent_port == 0 {
            return Err("export.agent_port: must be between 1 and 65535".into());
        }
        if self.datacenters.is_empty() {
            return Err("export.datacenters: name at least one datacenter".into());
        }
        if let Some(dc) = self.datacenters.iter().find(|d| !plain_text(d, 128)) {
            return Err(format!(
                "export.datacenters: {dc:?} is not a datacenter name (1-128 characters, no spaces)"
            ));
        }
        if let Some(v) = &self.kube_version
            && !is_minor_version(v)
        {
            return Err(format!(
                "export.kube_version: {v:?} is not a Kubernetes minor version such as \"1.34\""
            ));
        }
        Ok(())
    }
}

/// `1.34`: digits, a dot, digits.
fn is_minor_version(v: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    v.split_once('.')
        .is_some_and(|(major, minor)| digits(major) && digits(minor))
}

/// Non-empty, at most `max` bytes, no whitespace or control characters.
fn plain_text(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A Kubernetes namespace (RFC 1123 label), also a valid Nomad namespace.
fn is_namespace(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Why a document path the plugin answered cannot be written under `--out DIR`, if it cannot.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is absolute");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Some("holds a backslash or a control character");
    }
    if path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Some("has an empty, `.` or `..` segment");
    }
    None
}

/// The plugin's answer as the API's, or why it cannot be used (a `..` path, a path twice).
fn checked(plugin: &str, exported: Exported) -> Result<(Vec<ExportDocument>, Vec<ExportWarning>)> {
    let mut seen = BTreeSet::new();
    for d in &exported.documents {
        let problem = path_problem(&d.path)
            .or_else(|| (!seen.insert(d.path.as_str())).then_some("is given twice"));
        if let Some(problem) = problem {
            return Err(Error::new(
                Code::Unavailable,
                format!(
                    "export plugin {plugin:?} answered the document path {:?}, which {problem}: \
                     a path must be relative, `/`-separated, without `.`, `..` or empty segments, \
                     and unique (nothing was written)",
                    d.path
                ),
            ));
        }
    }
    let documents = exported
        .documents
        .into_iter()
        .map(|d| ExportDocument {
            path: d.path,
            media_type: d.media_type,
            body: d.body,
        })
        .collect();
    let warnings = exported
        .warnings
        .into_iter()
        .map(|w| ExportWarning {
            object: w.object,
            field: w.field,
            reason: w.reason,
        })
        .collect();
    Ok((documents, warnings))
}

/// The named items of `known` (every one of them when `wanted` is empty and `all` is set), or 404
/// naming the first unknown one.
fn select<'a>(
    field: &str,
    what: &str,
    known: &'a [String],
    wanted: &[String],
    all: bool,
) -> Result<BTreeSet<&'a str>> {
    if wanted.is_empty() {
        return Ok(if all {
            known.iter().map(String::as_str).collect()
        } else {
            BTreeSet::new()
        });
    }
    wanted
        .iter()
        .map(|name| {
            known
                .iter()
                .find(|k| *k == name)
                .map(String::as_str)
                .ok_or_else(|| {
                    Error::not_found(format!("no {what} named {name:?} (nothing was exported)"))
                        .with_field(field)
                })
        })
        .collect()
}

impl Ops {
    /// The export targets: `k8s`, `nomad`, then every other loaded `deploy-export` plugin.
    pub fn export_targets(&self) -> Vec<String> {
        let mut targets = vec!["k8s".to_string(), "nomad".to_string()];
        targets.extend(
            self.plugins
                .export_plugins()
                .into_iter()
                .filter(|p| p != "k8s" && p != "nomad"),
        );
        targets
    }

    /// `GET /api/export/{target}`: the documents the target's plugin rendered and its warnings.
    pub async fn export(&self, target: &str, p: &ExportParams) -> Result<ExportResult> {
        let settings = &self.export;
        let plugin = match target {
            "k8s" => settings.k8s.clone(),
            "nomad" => settings.nomad.clone(),
            other if self.export_targets().iter().any(|t| t == other) => other.to_string(),
            other => {
                return Err(Error::not_found(format!(
                    "no export target {other:?}: the targets are {}",
                    self.export_targets().join(", ")
                ))
                .with_field("target"));
            }
        };
        if let Some(image) = &p.image
            && !plain_text(image, 512)
        {
            return Err(Error::invalid(
                "image",
                format!("{image:?} is not a container image (1-512 characters, no spaces)"),
            ));
        }
        if let Some(ns) = &p.namespace
            && !is_namespace(ns)
        {
            return Err(Error::invalid(
                "namespace",
                format!(
                    "{ns:?} is not a namespace: 1-63 characters of a-z, 0-9 and '-', starting \
                     and ending with a letter or digit"
                ),
            ));
        }
        let mut services: Vec<_> = self.sup.list().into_iter().map(|v| v.spec).collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        let mut jobs: Vec<_> = self.cron.list().into_iter().map(|v| v.spec).collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        let everything = p.service.is_empty() && p.cron.is_empty();
        let service_names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        let job_names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
        let chosen = select("service", "service", &service_names, &p.service, everything)?;
        let chosen_jobs = select("cron", "cron job", &job_names, &p.cron, everything)?;
        services.retain(|s| chosen.contains(s.name.as_str()));
        jobs.retain(|j| chosen_jobs.contains(j.name.as_str()));
        let (caddy_settings, routes) = self.caddy.routes_of(&|name| chosen.contains(name));
        let input = ExportInput {
            services_json: serde_json::to_string(&services).map_err(Error::internal)?,
            cron_json: serde_json::to_string(&jobs).map_err(Error::internal)?,
            routes_json: json!({"settings": caddy_settings, "services": routes}).to_string(),
            options_json: json!({
                "image": p.image,
                "gateway": p.gateway,
                "namespace": p.namespace,
                "kube_version": settings.kube_version,
                "datacenters": settings.datacenters,
                "agent": {
                    "config_path": settings.agent_config_path,
                    "listen_port": settings.agent_port,
                },
            })
            .to_string(),
        };
        let (documents, warnings) = match self.plugins.render(&plugin, input).await {
            Outcome::Ok(exported) => checked(&plugin, exported)?,
            // The plugin's sentence says what the definitions lack ("Kubernetes needs an image:
            // web, worker"): the request can fix it, so it is the request's error.
            Outcome::PluginError(message) => {
                let field = if message.to_ascii_lowercase().contains("image") {
                    "image"
                } else {
                    "target"
                };
                return Err(Error::invalid(field, message));
            }
            Outcome::NotFound => {
                return Err(Error::new(
                    Code::Unavailable,
                    format!(
                        "export target {target}: no plugin {plugin:?} is loaded (see GET /api/plugins; \
                         [export] {target} names the plugin)"
                    ),
                ));
            }
            failed => {
                return Err(Error::new(
                    Code::Unavailable,
                    format!("export target {target}: plugin {plugin:?} failed: {failed}"),
                ));
            }
        };
        Ok(ExportResult {
            target: target.to_string(),
            plugin,
            documents,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_paths_stay_inside_the_output_dir() {
        for ok in [
            "web.yaml",
            "k8s/web.yaml",
            "a/b/c.json",
            "tend.nomad.json",
            "..a",
        ] {
            assert_eq!(path_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../escape",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\nb",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn a_path_twice_is_the_plugins_error() {
        let doc = |p: &str| crate::plugins::ExportedDocument {
            path: p.into(),
            media_type: "application/json".into(),
            body: "{}".into(),
        };
        let twice = Exported {
            documents: vec![doc("a.json"), doc("a.json")],
            warnings: vec![],
        };
        let e = checked("x", twice).unwrap_err();
        assert_eq!(e.code, Code::Unavailable);
        assert!(e.message.contains("given twice"), "{}", e.message);
    }

    #[test]
    fn settings_have_documented_defaults_and_name_the_bad_key() {
        let s = ExportSettings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!((s.k8s.as_str(), s.nomad.as_str()), ("k8s", "nomad"));
        assert_eq!(s.agent_port, 9902);
        let parsed: ExportSettings =
            toml::from_str("k8s = \"echo\"\nkube_version = \"1.30\"").unwrap();
        assert_eq!(parsed.k8s, "echo");
        assert_eq!(parsed.datacenters, ["dc1"]);
        assert_eq!(parsed.validate(), Ok(()));
        for (bad, key) in [
            (
                ExportSettings {
                    k8s: "../x".into(),
                    ..ExportSettings::default()
                },
                "export.k8s",
            ),
            (
                ExportSettings {
                    agent_config_path: "tend.toml".into(),
                    ..ExportSettings::default()
                },
                "export.agent_config_path",
            ),
            (
                ExportSettings {
                    agent_port: 0,
                    ..ExportSettings::default()
                },
                "export.agent_port",
            ),
            (
                ExportSettings {
                    datacenters: vec![],
                    ..ExportSettings::default()
                },
                "export.datacenters",
            ),
            (
                ExportSettings {
                    kube_version: Some("v1.30.2".into()),
                    ..ExportSettings::default()
                },
                "export.kube_version",
            ),
        ] {
            assert!(bad.validate().unwrap_err().starts_with(key), "{key}");
        }
        assert!(toml::from_str::<ExportSettings>("k9s = \"x\"").is_err());
    }

    #[test]
    fn namespaces_are_rfc_1123_labels() {
        assert!(is_namespace("prod-1"));
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!is_namespace(bad), "{bad}");
        }
    }
}
