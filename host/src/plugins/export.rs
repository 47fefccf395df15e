//! Calling `deploy-export` plugins: `PluginHost::render` (as `generate` is for proxy generators) and
//! the plain data its callers see (`ExportInput`, `Exported`), so that nothing outside `plugins`
//! names a WIT type. The input is JSON text the caller built; the answer is passed on unchecked
//! (`ops/export.rs` checks the documents' paths). A call runs in the shared pool (an export is pure
//! computation, no model behind it) under the plugin's `limits.timeout_ms`.

use std::time::Duration;

use wasmtime::Store;

use super::PluginHost;
use super::bindings::{World, deploy_export as wit};
use super::loader::Exports;
use super::outcome::Outcome;
use super::sandbox::CallState;

/// What a `deploy-export` plugin is given: four JSON texts (wit/worlds.wit, `export-input`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportInput {
    /// A JSON array of `ServiceSpec`, sorted by name.
    pub services_json: String,
    /// A JSON array of `CronJobSpec`, sorted by name.
    pub cron_json: String,
    /// `{"settings": {...}, "services": [CaddyService...]}`.
    pub routes_json: String,
    /// `{"image", "gateway", "namespace", "kube_version", "datacenters", "agent": {...}}`.
    pub options_json: String,
}

/// One document a plugin rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedDocument {
    pub path: String,
    pub media_type: String,
    pub body: String,
}

/// A field the plugin could not carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedWarning {
    pub object: String,
    pub field: String,
    pub reason: String,
}

/// A plugin's whole answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub documents: Vec<ExportedDocument>,
    pub warnings: Vec<ExportedWarning>,
}

impl PluginHost {
    /// Calls `render` of a `deploy-export` plugin. Its `err` is `Outcome::PluginError` with the
    /// plugin's sentence. Never blocks the async runtime; never panics.
    pub async fn render(&self, plugin: &str, input: ExportInput) -> Outcome<Exported> {
        let input = wit::ExportInput {
            services_json: input.services_json,
            cron_json: input.cron_json,
            routes_json: input.routes_json,
            options_json: input.options_json,
        };
        let (outcome, _) = self
            .call_export(
                plugin,
                World::DeployExport,
                Duration::MAX,
                None,
                None,
                |p, _| {
                    let Exports::DeployExport(pre) = &p.exports else {
                        return None;
                    };
                    let pre = pre.clone();
                    Some(move |mut store: Store<CallState>| async move {
                        let exporter = pre.instantiate_async(&mut store).await?;
                        let rendered = exporter.call_render(&mut store, &input).await?;
                        Ok(match rendered {
                            Ok(e) => Outcome::Ok(Exported {
                                documents: e
                                    .documents
                                    .into_iter()
                                    .map(|d| ExportedDocument {
                                        path: d.path,
                                        media_type: d.media_type,
                                        body: d.body,
                                    })
                                    .collect(),
                                warnings: e
                                    .warnings
                                    .into_iter()
                                    .map(|w| ExportedWarning {
                                        object: w.object,
                                        field: w.field,
                                        reason: w.reason,
                                    })
                                    .collect(),
                            }),
                            Err(message) => Outcome::PluginError(message),
                        })
                    })
                },
            )
            .await;
        outcome
    }

    /// The names of the loaded plugins of world `deploy-export`, sorted.
    pub fn export_plugins(&self) -> Vec<String> {
        self.inner
            .registry
            .snapshot()
            .plugins
            .values()
            .filter(|p| p.world == World::DeployExport)
            .map(|p| p.name.to_string())
            .collect()
    }
}
