//! tend's built-in `k8s` plugin (world `deploy-export`): services and cron jobs as Kubernetes YAML,
//! one file per tend object (`service-web.yaml`: its ConfigMaps, Deployment or Job, Service and
//! Ingress/HTTPRoute; `cron-report.yaml`: its ConfigMap and CronJob), and a warning for every field
//! Kubernetes cannot carry, which also names it in the workload's `tend.dev/unmapped` annotation.
//! Pure: equal inputs give byte-equal outputs.
//!
//! The objects are built as JSON values (`serde_json::json!`) and rendered by `serde_norway`, not
//! typed with `k8s-openapi`: it builds fine for the guest, but types one Kubernetes version per build
//! (1.33 and newer only) while the output targets a chosen version down to 1.27 (the gating by
//! `kube_version` is ours either way), and it has no Gateway API types; the field names are checked
//! against the real schemas of the newest and oldest version by `kubernetes-validate --strict` in
//! the black-box tests. `model` reads the input, `service`, `probe`, `route` and `cron` map, `common`
//! holds what they share. `export` is the whole mapping as a plain function (native unit tests in
//! `tests`).

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    world: "deploy-export",
    path: "../../wit",
});

pub mod common;
pub mod cron;
pub mod model;
pub mod probe;
pub mod route;
pub mod service;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use model::{CRON_FIELDS, CronJob, Options, Routes, SERVICE_FIELDS, Service};

/// One file of the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub path: String,
    pub body: String,
}

/// A field that did not carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub object: String,
    pub field: String,
    pub reason: String,
}

/// The input's four JSON strings (see the WIT record `export-input`).
#[derive(Clone, Debug, Default)]
pub struct Input {
    pub services: String,
    pub cron: String,
    pub routes: String,
    pub options: String,
}

/// The whole export: documents in input order (services, then cron jobs) and the warnings; `Err`
/// when it cannot be done (no image for some service or job, an unreadable input, a too old
/// `kube_version`).
pub fn export(input: &Input) -> Result<(Vec<Document>, Vec<Warning>), String> {
    let services: Vec<(Service, Vec<String>)> = model::parse_list("services", &input.services)?;
    let jobs: Vec<(CronJob, Vec<String>)> = model::parse_list("cron jobs", &input.cron)?;
    let routes: Routes = model::parse_object("routes", &input.routes)?;
    let options: Options = model::parse_object("options", &input.options)?;
    let version = common::parse_version(options.kube_version.as_deref())?;
    let default_image = options.image.clone().filter(|i| !i.trim().is_empty());
    let image_of = |k8s: &Option<model::K8s>| {
        k8s.as_ref()
            .and_then(|k| k.image.clone())
            .filter(|i| !i.trim().is_empty())
            .or_else(|| default_image.clone())
    };
    let missing: Vec<String> = services
        .iter()
        .filter(|(s, _)| image_of(&s.k8s).is_none())
        .map(|(s, _)| format!("service {}", s.name))
        .chain(
            jobs.iter()
                .filter(|(j, _)| image_of(&j.k8s).is_none())
                .map(|(j, _)| format!("cron job {}", j.name)),
        )
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Kubernetes runs containers, and no image is set for {}: pass --image, or set \
             `[services.<name>.k8s] image` / `[cron.<name>.k8s] image`",
            missing.join(", ")
        ));
    }
    let ctx = service::Context {
        options: &options,
        version,
        ports: services
            .iter()
            .map(|(s, _)| (s.name.clone(), s.port))
            .collect::<BTreeMap<_, _>>(),
        routes: &routes,
    };
    let mut documents = Vec::new();
    let mut warnings = Vec::new();
    for (s, keys) in &services {
        let mut lost = common::Lost::new("service", &s.name);
        unknown_keys(keys, SERVICE_FIELDS, &mut lost);
        let image = image_of(&s.k8s).unwrap_or_default();
        let objects = service::render(s, &image, &ctx, &mut lost);
        documents.push(Document {
            path: format!("service-{}.yaml", s.name),
            body: common::yaml(&objects)?,
        });
        warnings.append(&mut lost.warnings);
    }
    for (j, keys) in &jobs {
        let mut lost = common::Lost::new("cron", &j.name);
        unknown_keys(keys, CRON_FIELDS, &mut lost);
        let image = image_of(&j.k8s).unwrap_or_default();
        let objects = cron::render(j, &image, &options, &mut lost);
        documents.push(Document {
            path: format!("cron-{}.yaml", j.name),
            body: common::yaml(&objects)?,
        });
        warnings.append(&mut lost.warnings);
    }
    Ok((documents, warnings))
}

/// A spec key this exporter does not know (a field added to tend after it) is not dropped silently.
fn unknown_keys(keys: &[String], known: &[&str], lost: &mut common::Lost) {
    for key in keys.iter().filter(|k| !known.contains(&k.as_str())) {
        lost.warn(
            key.clone(),
            "this version of the k8s exporter does not know the field: not carried over",
        );
    }
}

struct K8s;

impl Guest for K8s {
    fn render(input: ExportInput) -> Result<Exported, String> {
        let (documents, warnings) = export(&Input {
            services: input.services_json,
            cron: input.cron_json,
            routes: input.routes_json,
            options: input.options_json,
        })?;
        Ok(Exported {
            documents: documents
                .into_iter()
                .map(|d| ExportDocument {
                    path: d.path,
                    media_type: "application/yaml".into(),
                    body: d.body,
                })
                .collect(),
            warnings: warnings
                .into_iter()
                .map(|w| ExportWarning {
                    object: w.object,
                    field: w.field,
                    reason: w.reason,
                })
                .collect(),
        })
    }
}

export!(K8s);
