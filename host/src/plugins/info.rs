//! `PluginInfo` (the wire view of a plugin) from a loaded plugin or a rejected-only name.

use std::time::SystemTime;

use super::grants::{EffectiveGrants, effective_limits};
use super::loader::LoadedPlugin;
use super::manifest::ManifestLimits;
use super::registry::{Rejected, Snapshot};
use super::settings::PluginSettings;
use super::stats::Stats;
use crate::store::fmt_time;
use crate::wire::{PluginCode, PluginInfo, PluginState};

pub fn all(snapshot: &Snapshot, settings: &PluginSettings) -> Vec<PluginInfo> {
    let now = SystemTime::now();
    let mut out: Vec<PluginInfo> = snapshot
        .plugins
        .values()
        .map(|p| loaded(p, snapshot.rejected.get(&*p.name), now))
        .collect();
    for (name, r) in &snapshot.rejected {
        if !snapshot.plugins.contains_key(name) {
            out.push(rejected_only(name, r, settings));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub fn one(snapshot: &Snapshot, name: &str, settings: &PluginSettings) -> Option<PluginInfo> {
    match (snapshot.plugins.get(name), snapshot.rejected.get(name)) {
        (Some(p), r) => Some(loaded(p, r, SystemTime::now())),
        (None, Some(r)) => Some(rejected_only(name, r, settings)),
        (None, None) => None,
    }
}

fn loaded(p: &LoadedPlugin, rejected: Option<&Rejected>, now: SystemTime) -> PluginInfo {
    let stats = p.stats.lock().unwrap_or_else(|e| e.into_inner());
    let suspended = stats.suspended(now);
    PluginInfo {
        name: p.name.to_string(),
        state: if suspended.is_some() {
            PluginState::Suspended
        } else {
            PluginState::Loaded
        },
        world: p.world.name().into(),
        wit: Some(p.wit.as_str().into()),
        version: p.manifest.version.clone(),
        description: p.manifest.description.clone(),
        source: p.source,
        path: p.path.clone(),
        sha256: p.sha256.clone(),
        grants: p.grants.to_wire(),
        limits: p.limits.clone(),
        config: p.manifest.config.clone(),
        from_cache: p.code != PluginCode::Compiled,
        code: Some(p.code),
        loaded_at: fmt_time(p.loaded_at.into()),
        stats: stats.to_wire(),
        suspended_until: suspended.map(|u| fmt_time(u.into())),
        rejected: rejected.map(|r| r.rejection.clone()),
    }
}

fn rejected_only(name: &str, r: &Rejected, settings: &PluginSettings) -> PluginInfo {
    let m = r.manifest.as_ref();
    let grants = m
        .map(|m| EffectiveGrants::new(&m.grants, settings))
        .unwrap_or_default();
    let limits = effective_limits(
        m.map(|m| &m.limits).unwrap_or(&ManifestLimits::default()),
        settings,
        m.map(|m| m.world())
            .unwrap_or(super::bindings::World::Probe),
    );
    PluginInfo {
        name: name.to_string(),
        state: PluginState::Rejected,
        world: m.map(|m| m.world.clone()).unwrap_or_default(),
        wit: None,
        version: m.map(|m| m.version.clone()).unwrap_or_default(),
        description: m.map(|m| m.description.clone()).unwrap_or_default(),
        source: r.source,
        path: r.path.clone(),
        sha256: r.rejection.sha256.clone().unwrap_or_default(),
        grants: grants.to_wire(),
        limits,
        config: m
            .map(|m| m.config.clone())
            .unwrap_or_else(|| serde_json::json!({})),
        from_cache: false,
        code: None,
        loaded_at: String::new(),
        stats: Stats::default().to_wire(),
        suspended_until: None,
        rejected: Some(r.rejection.clone()),
    }
}
