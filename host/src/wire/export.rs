//! Exporting tend's definitions to other engines (`GET /api/export/{target}`, `tend export`): the
//! per-service and per-job settings only an export reads (`[services.<name>.k8s]`), the query, and the
//! answer (documents and a warning for every field the target cannot carry).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

/// `[services.<name>.k8s]` / `[cron.<name>.k8s]`: what a Kubernetes export needs that tend itself
/// does not. Read by exports only; the daemon ignores it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct K8sSettings {
    /// The container image the command runs in (over `--image`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `GET /api/export/{target}` query (and `tend export` flags). Absent lists select everything:
/// every service and every cron job. Naming services or jobs selects only those.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[ts(optional_fields)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// Services to export (repeat the parameter); none named and no `cron` named: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<String>,
    /// Cron jobs to export (repeat the parameter); none named and no `service` named: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron: Vec<String>,
    /// The default container image (Kubernetes); a service's own `k8s.image` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Kubernetes: Gateway API `HTTPRoute`s instead of `Ingress`.
    #[serde(default)]
    pub gateway: bool,
    /// Kubernetes namespace / Nomad namespace of every object; none: the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One file of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ExportDocument {
    /// Relative, `/`-separated path (where `tend export --out DIR` writes it).
    pub path: String,
    /// `application/yaml`, `application/json`, ...
    pub media_type: String,
    pub body: String,
}

/// A field the target cannot carry over (also named in the object's `tend.dev/unmapped` annotation
/// where the format has annotations).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ExportWarning {
    /// `service/<name>` or `cron/<name>`.
    pub object: String,
    /// The field as the spec names it (`backoff.jitter`, `schedule`, `health.probe`).
    pub field: String,
    pub reason: String,
}

/// `GET /api/export/{target}`: the documents, in the order the plugin gave them, and the warnings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ExportResult {
    /// `k8s`, `nomad`, or another `deploy-export` plugin's name.
    pub target: String,
    /// The plugin that rendered it.
    pub plugin: String,
    pub documents: Vec<ExportDocument>,
    pub warnings: Vec<ExportWarning>,
}
