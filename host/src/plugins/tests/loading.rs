//! Loading and reloading: refusals with their reasons, the previous version kept, calls in flight
//! finishing on the version they started with, the watcher, built-ins and their user overrides.

use std::time::Duration;

use serde_json::json;

use super::{Harness, fixture, set_key, target, wait_until};
use crate::plugins::builtin::BUILTINS;
use crate::plugins::outcome::HealthStatus;
use crate::plugins::{Outcome, PluginSettings};
use crate::wire::{PluginSource, PluginState, ReloadAction};

fn action_of(
    report: &crate::wire::ReloadReport,
    name: &str,
) -> (ReloadAction, Option<String>, bool) {
    let e = report
        .plugins
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{name} not in {report:?}"));
    (e.action, e.reason.clone(), e.previous_kept)
}

#[tokio::test]
async fn broken_plugins_are_rejected_with_a_reason() {
    let h = Harness::new().await;
    let (trivial, manifest) = fixture("trivial");
    h.install_raw("junk", b"#!/bin/sh\necho hi\n", &manifest);
    h.install_raw("core", b"\0asm\x01\0\0\0", &manifest);
    h.install_raw("badmanifest", &trivial, "world = \"probe\"\n");
    h.install("notworld", "notworld");
    h.install_with("sneaky", "greedy", |m| set_key(m, "hosts", "[]"));
    h.install_with("trivial", "tiny", |m| set_key(m, "memory_mb", "1"));
    std::fs::write(h.plugins_dir().join("lonely.wasm"), &trivial).unwrap();
    let host = h.start().await;
    for (name, needle) in [
        ("junk", "not a WebAssembly file"),
        ("core", "core WebAssembly module, not a component"),
        ("badmanifest", "bad manifest"),
        (
            "notworld",
            "wrong world: the component does not implement world `probe`",
        ),
        ("greedy", "imports tend:plugin/http@0.2.3 beyond its grants"),
        (
            "tiny",
            "self-test failed (instantiation): plugin ran out of memory",
        ),
        ("lonely", "has no manifest"),
    ] {
        let info = host
            .info(name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(info.state, PluginState::Rejected, "{name}");
        let reason = info.rejected.expect("a rejection").reason;
        assert!(reason.contains(needle), "{name}: {reason}");
        assert_eq!(
            host.check(name, target(json!({}))).await,
            Outcome::NotFound,
            "{name}"
        );
    }
    let report = host.reload().await;
    assert_eq!(
        action_of(&report, "junk").0,
        ReloadAction::Rejected,
        "still rejected while the files stay"
    );
}

#[tokio::test]
async fn a_bad_update_keeps_the_previous_version_until_fixed() {
    let h = Harness::new().await;
    h.install("trivial", "p");
    let host = h.start().await;
    let first = host.info("p").unwrap();
    assert_eq!(
        action_of(&host.reload().await, "p").0,
        ReloadAction::Unchanged
    );

    let (_, manifest) = fixture("trivial");
    h.install_raw("p", b"garbage", &manifest);
    let (action, reason, kept) = action_of(&host.reload().await, "p");
    assert_eq!((action, kept), (ReloadAction::Rejected, true));
    assert!(reason.unwrap().contains("not a WebAssembly file"));
    let info = host.info("p").unwrap();
    assert_eq!(
        (info.state, &info.sha256),
        (PluginState::Loaded, &first.sha256),
        "previous version still loaded"
    );
    assert!(
        info.rejected
            .unwrap()
            .reason
            .contains("not a WebAssembly file")
    );
    assert!(matches!(
        host.check("p", target(json!({}))).await,
        Outcome::Ok(_)
    ));

    h.install("chatty", "p");
    assert_eq!(action_of(&host.reload().await, "p").0, ReloadAction::Loaded);
    let info = host.info("p").unwrap();
    assert_ne!(info.sha256, first.sha256);
    assert_eq!(
        info.rejected, None,
        "the rejection is forgotten once the files load"
    );
    assert_eq!(
        info.stats.calls, 1,
        "statistics carry over to the new version"
    );

    std::fs::remove_file(h.plugins_dir().join("p.wasm")).unwrap();
    std::fs::remove_file(h.plugins_dir().join("p.toml")).unwrap();
    assert_eq!(
        action_of(&host.reload().await, "p").0,
        ReloadAction::Removed
    );
    assert!(host.info("p").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_flight_finish_on_the_old_version() {
    let h = Harness::new().await;
    h.install_with("spin", "p", |m| set_key(m, "timeout_ms", "1500"));
    let host = h.start().await;
    let in_flight = tokio::spawn({
        let host = host.clone();
        async move { host.check("p", target(json!({}))).await }
    });
    h.install("trivial", "p");
    assert_eq!(action_of(&host.reload().await, "p").0, ReloadAction::Loaded);
    assert!(
        matches!(host.check("p", target(json!({}))).await, Outcome::Ok(_)),
        "new calls use the new version"
    );
    assert_eq!(
        in_flight.await.unwrap(),
        Outcome::Timeout,
        "the old version kept spinning to its deadline"
    );
}

#[tokio::test]
async fn the_watcher_loads_new_plugins() {
    let h = Harness::new().await;
    let host = h.start().await;
    assert!(host.info("late").is_none());
    h.install("trivial", "late");
    assert!(
        wait_until(Duration::from_secs(10), || host.info("late").is_some()).await,
        "watcher did not load it"
    );
    assert!(matches!(
        host.check("late", target(json!({}))).await,
        Outcome::Ok(_)
    ));
}

#[tokio::test]
async fn a_user_plugin_overrides_a_builtin_visibly() {
    let builtin = BUILTINS
        .first()
        .expect("built-in plugins are embedded")
        .name;
    let h = Harness::new().await;
    let host = h.start().await;
    assert_eq!(host.info(builtin).unwrap().source, PluginSource::Builtin);
    assert!(host.info(builtin).unwrap().path.is_none());

    h.install("trivial", builtin);
    host.reload().await;
    let info = host.info(builtin).unwrap();
    assert_eq!(info.source, PluginSource::UserOverridesBuiltin);
    assert_eq!(
        info.path,
        Some(h.plugins_dir().join(format!("{builtin}.wasm")))
    );
    let Outcome::Ok(health) = host.check(builtin, target(json!({}))).await else {
        panic!("override not callable")
    };
    assert_eq!(health.status, HealthStatus::Healthy);

    std::fs::remove_file(h.plugins_dir().join(format!("{builtin}.wasm"))).unwrap();
    std::fs::remove_file(h.plugins_dir().join(format!("{builtin}.toml"))).unwrap();
    assert_eq!(
        action_of(&host.reload().await, builtin).0,
        ReloadAction::Loaded
    );
    assert_eq!(host.info(builtin).unwrap().source, PluginSource::Builtin);
}

#[tokio::test]
async fn a_broken_override_falls_back_to_the_builtin_at_start() {
    let builtin = BUILTINS
        .first()
        .expect("built-in plugins are embedded")
        .name;
    let h = Harness::new().await;
    let (_, manifest) = fixture("trivial");
    h.install_raw(builtin, b"garbage", &manifest);
    let host = h.start().await;
    let info = host.info(builtin).unwrap();
    assert_eq!(
        (info.state, info.source),
        (PluginState::Loaded, PluginSource::Builtin)
    );
    assert!(
        info.rejected
            .unwrap()
            .reason
            .contains("not a WebAssembly file")
    );
}

#[tokio::test]
async fn effective_grants_and_limits_are_shown() {
    let h = Harness::new().await;
    h.install("sneaky", "sneaky");
    let settings = PluginSettings {
        max_timeout_ms: 100,
        max_memory_mb: 8,
        allow_hosts: vec!["127.0.0.1".into()],
        ..Default::default()
    };
    let host = h.start_with(settings).await;
    let info = host.info("sneaky").unwrap();
    assert_eq!(info.grants.hosts, ["127.0.0.1:1"]);
    assert_eq!((info.limits.timeout_ms, info.limits.memory_mb), (100, 8));
    assert!(host.list().iter().any(|p| p.name == "sneaky"));
}
