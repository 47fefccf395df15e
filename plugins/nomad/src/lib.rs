//! tend's built-in `nomad` plugin (world `deploy-export`): turns services and cron jobs into Nomad
//! jobspecs in the JSON API format (`{"Job": {...}}`, PascalCase, durations in nanoseconds: what
//! `nomad job run -json` and `POST /v1/jobs` take), one document per job, and a warning for every
//! field Nomad cannot carry (also named in the job's `Meta["tend.dev/unmapped"]`). Pure: no host
//! imports used, equal inputs give byte-equal outputs.
//!
//! One job per tend object, because a job has one `Type` (`service` / `batch`) and one `Periodic`
//! schedule: `service` maps a service, `cron` a cron job, `health` the checks (and `tend agent` for
//! WebAssembly probes), `common` the shared pieces.

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    world: "deploy-export",
    path: "../../wit",
});

mod common;
mod cron;
mod health;
mod service;
#[cfg(test)]
mod tests;

use serde_json::Value;

use common::{Options, Report, Warning, document};

/// One rendered file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub path: String,
    pub body: String,
}

/// The whole export: documents (services by name, then cron jobs by name) and warnings, plus the
/// per-object reports (for the tests).
pub struct Rendered {
    pub documents: Vec<Document>,
    pub reports: Vec<Report>,
}

impl Rendered {
    pub fn warnings(&self) -> Vec<Warning> {
        self.reports
            .iter()
            .flat_map(|r| r.warnings.iter().cloned())
            .collect()
    }
}

fn parse_array(json: &str, what: &str) -> Result<Vec<Value>, String> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str(json).map_err(|e| format!("{what}: {e}"))? {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        _ => Err(format!("{what}: expected an array")),
    }
}

pub fn render_all(
    services_json: &str,
    cron_json: &str,
    routes_json: &str,
    options_json: &str,
) -> Result<Rendered, String> {
    let services = parse_array(services_json, "services-json")?;
    let jobs = parse_array(cron_json, "cron-json")?;
    let options = Options::parse(options_json)?;
    let routes: Value = if routes_json.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(routes_json).map_err(|e| format!("routes-json: {e}"))?
    };
    let route_of = |name: &str| {
        routes
            .get("services")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
            })
    };
    let ports: service::Ports = services
        .iter()
        .filter_map(|s| {
            let name = s.get("name")?.as_str()?.to_string();
            let port = s
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok());
            Some((name, port))
        })
        .collect();

    let mut documents = Vec::new();
    let mut reports = Vec::new();
    for spec in &services {
        let name = spec.get("name").and_then(Value::as_str).unwrap_or("");
        let (path, job, report) = service::render(spec, &options, &ports, route_of(name))
            .map_err(|e| format!("service {name}: {e}"))?;
        documents.push(Document {
            path,
            body: document(job),
        });
        reports.push(report);
    }
    for spec in &jobs {
        let name = spec.get("name").and_then(Value::as_str).unwrap_or("");
        let (path, job, report) =
            cron::render(spec, &options).map_err(|e| format!("cron job {name}: {e}"))?;
        documents.push(Document {
            path,
            body: document(job),
        });
        reports.push(report);
    }
    Ok(Rendered { documents, reports })
}

struct Nomad;

impl Guest for Nomad {
    fn render(input: ExportInput) -> Result<Exported, String> {
        let rendered = render_all(
            &input.services_json,
            &input.cron_json,
            &input.routes_json,
            &input.options_json,
        )?;
        let warnings = rendered
            .warnings()
            .into_iter()
            .map(|w| ExportWarning {
                object: w.object,
                field: w.field,
                reason: w.reason,
            })
            .collect();
        Ok(Exported {
            documents: rendered
                .documents
                .into_iter()
                .map(|d| ExportDocument {
                    path: d.path,
                    media_type: "application/json".into(),
                    body: d.body,
                })
                .collect(),
            warnings,
        })
    }
}

export!(Nomad);
