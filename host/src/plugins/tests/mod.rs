//! Tests of the plugin host with real components: the fixtures `cargo xtask build-plugins` writes to
//! `target/plugins/fixtures/` (or `$TEND_PLUGIN_FIXTURES`). A missing fixture fails the test with
//! instructions; nothing is skipped.

mod cache;
mod calls;
mod fix;
mod loading;
mod project;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{PluginHost, PluginSettings, ProbeTarget};
use crate::store::Store;

pub fn fixture_dir() -> PathBuf {
    match std::env::var_os("TEND_PLUGIN_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/fixtures"),
    }
}

/// The fixture's component and manifest text.
pub fn fixture(name: &str) -> (Vec<u8>, String) {
    let dir = fixture_dir();
    let read = |ext: &str| {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "test fixture {} is missing ({e}): run `cargo xtask build-plugins` first",
                path.display()
            )
        })
    };
    let manifest = String::from_utf8(read("toml")).expect("fixture manifest is UTF-8");
    (read("wasm"), manifest)
}

/// A data dir with a store; plugins are put into `<data_dir>/plugins` before `start`.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl Harness {
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tend.db")).await.unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        Harness { dir, store }
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Installs fixture `fixture` as user plugin `name`.
    pub fn install(&self, fixture_name: &str, name: &str) {
        let (wasm, manifest) = fixture(fixture_name);
        self.install_raw(name, &wasm, &manifest);
    }

    /// Installs fixture `fixture` as `name` with `edit` applied to its manifest.
    pub fn install_with(
        &self,
        fixture_name: &str,
        name: &str,
        edit: impl FnOnce(String) -> String,
    ) {
        let (wasm, manifest) = fixture(fixture_name);
        self.install_raw(name, &wasm, &edit(manifest));
    }

    pub fn install_raw(&self, name: &str, wasm: &[u8], manifest: &str) {
        // Manifest first, then the wasm through a rename: a watcher never sees half a component.
        std::fs::write(self.plugins_dir().join(format!("{name}.toml")), manifest).unwrap();
        let tmp = self.dir.path().join(format!("{name}.wasm.tmp"));
        std::fs::write(&tmp, wasm).unwrap();
        std::fs::rename(&tmp, self.plugins_dir().join(format!("{name}.wasm"))).unwrap();
    }

    pub async fn start(&self) -> PluginHost {
        self.start_with(PluginSettings::default()).await
    }

    pub async fn start_with(&self, settings: PluginSettings) -> PluginHost {
        let bus = crate::events::Bus::start(self.store.clone()).await.unwrap();
        PluginHost::start(self.store.clone(), bus, self.dir.path(), settings)
            .await
            .unwrap()
    }
}

/// Replaces the value of `key = ...` lines in a manifest (the fixtures write each on its own line).
pub fn set_key(manifest: String, key: &str, value: &str) -> String {
    let mut found = false;
    let out: Vec<String> = manifest
        .lines()
        .map(|l| {
            if l.split('=').next().is_some_and(|k| k.trim() == key) {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "manifest has no `{key}` line:\n{manifest}");
    out.join("\n") + "\n"
}

pub fn target(config: serde_json::Value) -> ProbeTarget {
    ProbeTarget {
        service: "web".into(),
        host: "127.0.0.1".into(),
        port: Some(1),
        config,
        timeout: Duration::from_secs(10),
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < end {
        if cond() {
            return true;
        }
        // tidy:allow-sleep: poll interval of the plugin tests' deadline-bounded wait_until
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
