//! The set of loaded plugins and the reload that replaces it. Readers take an `Arc` of the current
//! snapshot (a short lock), so calls in flight finish on the version they started with; a reload
//! builds a complete new snapshot and swaps it in at once. Reloads are serialized.
//!
//! Per name: the user's files win over a built-in. New or changed files are loaded; if they are
//! refused, the previous version stays (or, when there is none, the built-in of that name loads).
//! A refusal is remembered by fingerprint, so unchanged broken files are not retried at every reload.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::discover::{Candidate, Found, Offer};
use super::loader::{LoadEnv, LoadedPlugin, load};
use super::manifest::Manifest;
use crate::store::fmt_time;
use crate::wire::{PluginRejection, PluginSource, ReloadAction, ReloadEntry, ReloadReport};

/// A name whose current files were refused.
#[derive(Clone)]
pub struct Rejected {
    /// `None` when the files could not even be read as a candidate (always retried).
    pub fingerprint: Option<String>,
    pub rejection: PluginRejection,
    pub source: PluginSource,
    pub path: Option<PathBuf>,
    pub manifest: Option<Manifest>,
}

#[derive(Default)]
pub struct Snapshot {
    pub plugins: BTreeMap<String, Arc<LoadedPlugin>>,
    pub rejected: BTreeMap<String, Rejected>,
}

#[derive(Default)]
pub struct Registry {
    current: RwLock<Arc<Snapshot>>,
    reloading: tokio::sync::Mutex<()>,
}

impl Registry {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.snapshot().plugins.get(name).cloned()
    }

    pub fn clear(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::default();
    }

    /// Loads what `offers` holds (see the module doc) and swaps the result in.
    pub async fn reload(&self, env: &LoadEnv<'_>, offers: BTreeMap<String, Offer>) -> ReloadReport {
        let _one_at_a_time = self.reloading.lock().await;
        let old = self.snapshot();
        let mut next = Snapshot::default();
        let mut report = ReloadReport::default();
        for (name, offer) in offers {
            if let Some(entry) = reload_one(env, &old, &mut next, &name, offer).await {
                report.plugins.push(entry);
            }
        }
        for (name, gone) in &old.plugins {
            if !next.plugins.contains_key(name) && !report.plugins.iter().any(|e| &e.name == name) {
                tracing::info!(plugin = %name, "plugin files removed; unloaded");
                report.plugins.push(ReloadEntry {
                    name: name.clone(),
                    action: ReloadAction::Removed,
                    source: gone.source,
                    reason: None,
                    previous_kept: false,
                });
            }
        }
        report.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        report
    }
}

async fn reload_one(
    env: &LoadEnv<'_>,
    old: &Snapshot,
    next: &mut Snapshot,
    name: &str,
    offer: Offer,
) -> Option<ReloadEntry> {
    let current = old.plugins.get(name);
    let (primary, fallback) = match (offer.user, offer.builtin) {
        (Some(user), builtin) => (user, builtin),
        (None, Some(builtin)) => (Found::Ok(builtin), None),
        (None, None) => return None,
    };
    let entry = |action, source, reason: Option<String>, previous_kept| {
        Some(ReloadEntry {
            name: name.to_string(),
            action,
            source,
            reason,
            previous_kept,
        })
    };
    let (rejected, source) = match primary {
        Found::Ok(c) => {
            if let Some(cur) = current.filter(|cur| cur.fingerprint == c.fingerprint) {
                next.plugins.insert(name.to_string(), cur.clone());
                return entry(ReloadAction::Unchanged, c.source, None, false);
            }
            let known = old
                .rejected
                .get(name)
                .filter(|r| r.fingerprint.as_deref() == Some(c.fingerprint.as_str()));
            let rejected = match known {
                Some(r) => r.clone(),
                None => match load(env, &c).await {
                    Ok(loaded) => {
                        let loaded = adopt(loaded, current);
                        next.plugins.insert(name.to_string(), Arc::new(loaded));
                        return entry(ReloadAction::Loaded, c.source, None, false);
                    }
                    Err(reason) => rejection_of(&c, reason),
                },
            };
            (rejected, c.source)
        }
        Found::Broken(b) => {
            let r = Rejected {
                fingerprint: None,
                rejection: PluginRejection {
                    time: fmt_time(SystemTime::now().into()),
                    reason: b.reason,
                    sha256: b.sha256,
                },
                source: PluginSource::User,
                path: Some(b.path),
                manifest: None,
            };
            (r, PluginSource::User)
        }
    };
    let reason = rejected.rejection.reason.clone();
    let fresh = !old
        .rejected
        .get(name)
        .is_some_and(|r| r.fingerprint.is_some() && r.fingerprint == rejected.fingerprint);
    if fresh {
        tracing::warn!(plugin = %name, reason = %reason, "plugin rejected");
    }
    next.rejected.insert(name.to_string(), rejected);
    if let Some(cur) = current {
        next.plugins.insert(name.to_string(), cur.clone());
        return entry(ReloadAction::Rejected, source, Some(reason), true);
    }
    if let Some(builtin) = fallback {
        match load(env, &builtin).await {
            Ok(loaded) => {
                tracing::warn!(plugin = %name, "using the built-in plugin instead of the rejected user plugin");
                next.plugins
                    .insert(name.to_string(), Arc::new(adopt(loaded, None)));
                return entry(
                    ReloadAction::Rejected,
                    source,
                    Some(format!("{reason} (the built-in is used instead)")),
                    true,
                );
            }
            Err(e) => tracing::error!(plugin = %name, reason = %e, "built-in plugin rejected"),
        }
    }
    entry(ReloadAction::Rejected, source, Some(reason), false)
}

fn rejection_of(c: &Candidate, reason: String) -> Rejected {
    Rejected {
        fingerprint: Some(c.fingerprint.clone()),
        rejection: PluginRejection {
            time: fmt_time(SystemTime::now().into()),
            reason,
            sha256: Some(c.wasm_sha256.clone()),
        },
        source: c.source,
        path: c.path.clone(),
        manifest: Manifest::parse(&c.manifest).ok(),
    }
}

/// A newly loaded version takes over the statistics of the one it replaces, with a clean trap record.
fn adopt(mut loaded: LoadedPlugin, previous: Option<&Arc<LoadedPlugin>>) -> LoadedPlugin {
    if let Some(prev) = previous {
        loaded.stats = prev.stats.clone();
        loaded
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forgive();
    }
    if loaded.source == PluginSource::UserOverridesBuiltin {
        tracing::warn!(plugin = %loaded.name, "user plugin overrides the built-in plugin of the same name");
    }
    tracing::info!(
        plugin = %loaded.name,
        world = loaded.world.name(),
        version = %loaded.manifest.version,
        source = loaded.source.label(),
        code = ?loaded.code,
        "plugin loaded"
    );
    loaded
}
