//! Turning a candidate's files into a `LoadedPlugin`, or into a reason to refuse them: manifest,
//! component (precompiled, from the cache, or compiled), effective grants, imports within those grants, exports
//! of the manifest's world (checked once, into an `InstancePre`), and a self-test instantiation in
//! the sandbox. Also which `tend:plugin` package version the component was built against (0.2, or
//! the previous major 0.1 that the host still adapts): told by the versions in its import names,
//! else, for a world whose exports changed (`command-policy`), by which version's exports
//! type-check. Every refusal is a sentence a user can act on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Handle;
use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre};

use super::bindings::{
    WitVersion, World, command_policy, deploy_export, fixer, onboarder, probe, proxy_config, v0_1,
};
use super::cache::Cache;
use super::call;
use super::discover::Candidate;
use super::engine::Ticker;
use super::grants::{EffectiveGrants, effective_limits};
use super::imports::Linkers;
use super::manifest::Manifest;
use super::outcome::classify;
use super::sandbox::{CallCtx, CallState, Shared};
use super::settings::PluginSettings;
use super::stats::Stats;
use crate::wire::{PluginCode, PluginLimits, PluginSource};

/// The world-specific entry points, type-checked at load.
pub enum Exports {
    Probe(probe::ProbePre<CallState>),
    ProxyConfig(proxy_config::ProxyConfigPre<CallState>),
    CommandPolicy(PolicyPre),
    Fixer(fixer::FixerPre<CallState>),
    Onboarder(onboarder::OnboarderPre<CallState>),
    DeployExport(deploy_export::DeployExportPre<CallState>),
    /// 0.1's sketches of `fixer` and `onboarder`, which 0.2 replaced; their exports are checked all
    /// the same, but they are never called.
    Other,
}

/// A `command-policy` component's entry point, per package version: the request record and the
/// decision variant differ between them (`policy_call` adapts 0.1's).
#[derive(Clone)]
pub enum PolicyPre {
    V0_2(command_policy::CommandPolicyPre<CallState>),
    V0_1(v0_1::command_policy::CommandPolicyPre<CallState>),
}

pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub manifest: Manifest,
    pub world: World,
    /// The `tend:plugin` version the component was built against.
    pub wit: WitVersion,
    pub source: PluginSource,
    pub path: Option<PathBuf>,
    pub sha256: String,
    pub fingerprint: String,
    pub grants: Arc<EffectiveGrants>,
    pub limits: PluginLimits,
    pub code: PluginCode,
    pub loaded_at: SystemTime,
    pub exports: Exports,
    /// Shared by every version of the plugin with this name (carried over on reload).
    pub stats: Arc<Mutex<Stats>>,
}

/// What loading needs from the host.
pub struct LoadEnv<'a> {
    pub engine: &'a Engine,
    pub ticker: &'a Ticker,
    pub linkers: &'a Linkers,
    pub cache: &'a Cache,
    pub settings: &'a PluginSettings,
    pub shared: &'a Arc<Shared>,
    pub runtime: &'a Handle,
}

pub async fn load(env: &LoadEnv<'_>, c: &Candidate) -> Result<LoadedPlugin, String> {
    let manifest = Manifest::parse(&c.manifest)?;
    check_magic(&c.wasm)?;
    let builtin = c.source == PluginSource::Builtin;
    let (component, code) = env
        .cache
        .component(env.engine, &c.wasm_sha256, c.wasm.clone(), builtin)
        .await?;
    let grants = EffectiveGrants::new(&manifest.grants, env.settings);
    if !grants.narrowed.is_empty() {
        tracing::info!(plugin = %c.name, narrowed = ?grants.narrowed, "grants narrowed to what the daemon allows");
    }
    let limits = effective_limits(&manifest.limits, env.settings, manifest.world());
    check_imports(env, &component, &grants, &manifest)?;
    let imported = imported_version(env, &component)?;
    let linker = if grants.any_host() {
        &env.linkers.full
    } else {
        &env.linkers.offline
    };
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("imports something tend does not offer: {}", flat(&e)))?;
    let world = manifest.world();
    let (exports, wit) = check_exports(world, imported, pre.clone())?;
    if wit == WitVersion::V0_1 {
        tracing::warn!(
            plugin = %c.name,
            "built against tend:plugin@0.1.0, the previous major version, which this release still \
             loads and adapts; rebuild it against tend:plugin@0.2.3{}",
            if world == World::CommandPolicy {
                " (as a 0.1 command policy it is not told tend's protected paths, the daemon's pid, \
                 names and working dir, nor [policy] interpreters and programs)"
            } else {
                ""
            }
        );
    }
    let grants = Arc::new(grants);
    self_test(env, &c.name, &pre, &grants, &limits).await?;
    Ok(LoadedPlugin {
        name: c.name.as_str().into(),
        manifest,
        world,
        wit,
        source: c.source,
        path: c.path.clone(),
        sha256: c.wasm_sha256.clone(),
        fingerprint: c.fingerprint.clone(),
        grants,
        limits,
        code,
        loaded_at: SystemTime::now(),
        exports,
        stats: Arc::default(),
    })
}

fn flat(e: &wasmtime::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn check_magic(wasm: &[u8]) -> Result<(), String> {
    match wasm.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
            Err("a core WebAssembly module, not a component (build it with `cargo xtask build-plugins`)".into())
        }
        Some([0, b'a', b's', b'm', ..]) => Ok(()),
        _ => Err("not a WebAssembly file".into()),
    }
}

/// Imports beyond the grants are refused up front with the reason, rather than as a link error
/// about a missing instance (`http`/`net`) or not at all (`llm`/`project`, which every linker
/// offers): `http`/`net` need some host to be reachable, `llm` and `project` their own grant.
fn check_imports(
    env: &LoadEnv<'_>,
    component: &Component,
    grants: &EffectiveGrants,
    manifest: &Manifest,
) -> Result<(), String> {
    let ty = component.component_type();
    for (name, _) in ty.imports(env.engine) {
        let network = name.starts_with("tend:plugin/http@") || name.starts_with("tend:plugin/net@");
        if network && !grants.any_host() {
            return Err(format!(
                "imports {name} beyond its grants: no host is allowed (manifest grants.hosts = {:?}, daemon allow_hosts = {:?})",
                manifest.grants.hosts, env.settings.allow_hosts
            ));
        }
        for (interface, granted) in [("llm", grants.llm), ("project", grants.project)] {
            if !granted && name.starts_with(&format!("tend:plugin/{interface}@")) {
                return Err(format!(
                    "imports {name} beyond its grants: the manifest does not grant it \
                     ([grants] {interface} = true, for fixer and onboarder plugins)"
                ));
            }
        }
    }
    Ok(())
}

/// The package version named by the component's `tend:plugin/*` imports, if it imports any (a
/// component that uses no host interface imports none; a probe always imports `types`).
fn imported_version(
    env: &LoadEnv<'_>,
    component: &Component,
) -> Result<Option<WitVersion>, String> {
    let mut found = None;
    for (name, _) in component.component_type().imports(env.engine) {
        let Some(v) = WitVersion::of_import(name) else {
            continue;
        };
        match found {
            Some(f) if f != v => {
                return Err(format!(
                    "imports interfaces of both tend:plugin@{} and tend:plugin@{}: build it against one version",
                    WitVersion::V0_1.as_str(),
                    WitVersion::V0_2.as_str()
                ));
            }
            _ => found = Some(v),
        }
    }
    Ok(found)
}

/// Type-checks the world's exports; returns them with the package version the component was built
/// against. Only `command-policy`'s exports differ between 0.1 and 0.2; the other worlds export the
/// same functions over the same types in both, so 0.2's typed entry points serve 0.1 components
/// too (wasmtime type-checks by structure) and only their imports say which version they are of.
fn check_exports(
    world: World,
    imported: Option<WitVersion>,
    pre: InstancePre<CallState>,
) -> Result<(Exports, WitVersion), String> {
    let wrong = |e: wasmtime::Error| {
        format!(
            "wrong world: the component does not implement world `{}`: {}",
            world.name(),
            flat(&e)
        )
    };
    let version = imported.unwrap_or(WitVersion::V0_2);
    let exports = match world {
        World::Probe => Exports::Probe(probe::ProbePre::new(pre).map_err(wrong)?),
        World::CommandPolicy => {
            let v0_2 = || command_policy::CommandPolicyPre::new(pre.clone()).map(PolicyPre::V0_2);
            let v0_1 =
                || v0_1::command_policy::CommandPolicyPre::new(pre.clone()).map(PolicyPre::V0_1);
            let policy = match imported {
                Some(WitVersion::V0_2) => v0_2().map_err(wrong)?,
                Some(WitVersion::V0_1) => v0_1().map_err(wrong)?,
                // Nothing imported (it does not log): the exports tell, newest first.
                None => match v0_2() {
                    Ok(p) => p,
                    Err(e) => v0_1().map_err(|_| wrong(e))?,
                },
            };
            let version = match policy {
                PolicyPre::V0_2(_) => WitVersion::V0_2,
                PolicyPre::V0_1(_) => WitVersion::V0_1,
            };
            return Ok((Exports::CommandPolicy(policy), version));
        }
        World::ProxyConfig => {
            Exports::ProxyConfig(proxy_config::ProxyConfigPre::new(pre).map_err(wrong)?)
        }
        World::Fixer => match version {
            WitVersion::V0_2 => Exports::Fixer(fixer::FixerPre::new(pre).map_err(wrong)?),
            WitVersion::V0_1 => {
                v0_1::fixer::FixerPre::new(pre).map_err(wrong)?;
                Exports::Other
            }
        },
        World::Onboarder => match version {
            WitVersion::V0_2 => {
                Exports::Onboarder(onboarder::OnboarderPre::new(pre).map_err(wrong)?)
            }
            WitVersion::V0_1 => {
                v0_1::onboarder::OnboarderPre::new(pre).map_err(wrong)?;
                Exports::Other
            }
        },
        // New in 0.2.3: 0.1 has no such world, so a component importing 0.1's interfaces was not
        // built for it.
        World::DeployExport => match version {
            WitVersion::V0_2 => {
                Exports::DeployExport(deploy_export::DeployExportPre::new(pre).map_err(wrong)?)
            }
            WitVersion::V0_1 => {
                return Err(format!(
                    "world `deploy-export` is new in tend:plugin@0.2.3, but the component imports                      tend:plugin@{} interfaces: rebuild it against {}",
                    WitVersion::V0_1.as_str(),
                    WitVersion::V0_2.as_str()
                ));
            }
        },
    };
    Ok((exports, version))
}

/// Instantiates once in a sandbox like a call's: start functions run, memory and table limits apply.
async fn self_test(
    env: &LoadEnv<'_>,
    name: &str,
    pre: &InstancePre<CallState>,
    grants: &Arc<EffectiveGrants>,
    limits: &PluginLimits,
) -> Result<(), String> {
    let ctx = CallCtx {
        plugin: name.into(),
        grants: grants.clone(),
        target: None,
        deadline: Instant::now() + Duration::from_millis(limits.timeout_ms),
        memory_mb: limits.memory_mb,
        max_response_bytes: limits.max_response_bytes,
        shared: env.shared.clone(),
        agent: None,
    };
    let pre = pre.clone();
    let (result, trace) = call::guarded(
        env.runtime,
        env.engine,
        env.ticker,
        ctx,
        move |mut store| async move { pre.instantiate_async(&mut store).await.map(drop) },
    )
    .await;
    trace.emit_output(name);
    result.map_err(|f| format!("self-test failed (instantiation): {}", classify::<()>(f)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::outcome::Outcome;

    #[test]
    fn magic_tells_modules_components_and_junk_apart() {
        assert!(check_magic(b"\0asm\x0d\0\x01\0rest").is_ok());
        assert!(
            check_magic(b"\0asm\x01\0\0\0rest")
                .unwrap_err()
                .contains("core WebAssembly module")
        );
        assert_eq!(
            check_magic(b"#!/bin/sh\n").unwrap_err(),
            "not a WebAssembly file"
        );
        assert_eq!(check_magic(b"").unwrap_err(), "not a WebAssembly file");
    }

    #[test]
    fn outcome_display_reads_well_in_a_self_test_reason() {
        let o: Outcome<()> = Outcome::Trap("wasm trap: unreachable".into());
        assert_eq!(
            format!("self-test failed (instantiation): {o}"),
            "self-test failed (instantiation): plugin trapped: wasm trap: unreachable"
        );
    }
}
