//! The on-disk cache of compiled components, so a restart does not recompile:
//! `<data_dir>/plugin-cache/<sha256 of the wasm>-<engine compatibility hash>.cwasm`.
//!
//! Deserializing is loading native code, so only files the daemon wrote itself are used: the cache
//! dir is created 0700 and must be ours; a file is written to a temp name and renamed into place,
//! and the sha256 of its content is recorded in the SQLite store (`plugin_cache`). Before use, the
//! file is read into memory and must hash to the recorded value; anything else (a foreign file, a
//! truncated or tampered one) is ignored and recompiled over.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::store::Store;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds `Engine::precompile_compatibility_hash` into sha256, for a key stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        0
    }
}

pub struct Cache {
    /// `None` when the cache dir is unusable (then every load compiles).
    dir: Option<PathBuf>,
    engine_key: String,
    store: Store,
    compiles: AtomicU64,
}

impl Cache {
    pub fn open(engine: &Engine, data_dir: &Path, store: Store) -> Cache {
        let mut h = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = hex(&h.0.finalize()[..8]);
        let dir = data_dir.join("plugin-cache");
        let dir = match prepare_dir(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "plugin cache disabled: plugins compile at every start");
                None
            }
        };
        Cache {
            dir,
            engine_key,
            store,
            compiles: AtomicU64::new(0),
        }
    }

    /// Components compiled (not taken from the cache) since this cache was opened.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    pub fn file_name(&self, wasm_sha256: &str) -> String {
        format!("{wasm_sha256}-{}.cwasm", self.engine_key)
    }

    /// The compiled component for `wasm`, and whether it came from the cache. Blocking work runs on
    /// the blocking pool. The error is a reason for people ("not a component: ...").
    pub async fn component(
        &self,
        engine: &Engine,
        wasm_sha256: &str,
        wasm: Arc<[u8]>,
    ) -> Result<(Component, bool), String> {
        let file = self.file_name(wasm_sha256);
        if let Some(dir) = &self.dir {
            match self.store.plugin_cache_sha256(&file).await {
                Ok(Some(expected)) => {
                    let (engine, path) = (engine.clone(), dir.join(&file));
                    let loaded = tokio::task::spawn_blocking(move || {
                        load_verified(&engine, &path, &expected)
                    })
                    .await;
                    match loaded {
                        Ok(Ok(c)) => return Ok((c, true)),
                        Ok(Err(e)) => {
                            tracing::warn!(file, error = %e, "ignoring plugin cache file; recompiling")
                        }
                        Err(e) => {
                            tracing::warn!(file, error = %e, "plugin cache load failed; recompiling")
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the plugin cache ledger; recompiling")
                }
            }
        }
        let engine2 = engine.clone();
        let compiled = tokio::task::spawn_blocking(move || Component::from_binary(&engine2, &wasm))
            .await
            .map_err(|e| format!("compilation crashed: {e}"))?
            .map_err(|e| {
                format!(
                    "not a valid WebAssembly component: {}",
                    first_line(&format!("{e:#}"))
                )
            })?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        if let Some(dir) = &self.dir {
            let (c, path) = (compiled.clone(), dir.join(&file));
            match tokio::task::spawn_blocking(move || write_atomically(&c, &path)).await {
                Ok(Ok(sha)) => {
                    if let Err(e) = self.store.plugin_cache_record(&file, &sha).await {
                        tracing::warn!(file, error = %e, "cannot record plugin cache file");
                    }
                }
                Ok(Err(e)) => tracing::warn!(file, error = %e, "cannot write plugin cache file"),
                Err(e) => tracing::warn!(file, error = %e, "plugin cache write failed"),
            }
        }
        Ok((compiled, false))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Creates the cache dir (0700) or checks that an existing one is a real directory of ours, and
/// removes temp files a crash left behind.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    anyhow::ensure!(meta.is_dir(), "{} is not a directory", dir.display());
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    let me = unsafe { libc::geteuid() };
    anyhow::ensure!(
        meta.uid() == me,
        "{} is owned by another user",
        dir.display()
    );
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

fn load_verified(engine: &Engine, path: &Path, expected_sha256: &str) -> anyhow::Result<Component> {
    let bytes = fs::read(path)?;
    let actual = sha256_hex(&bytes);
    anyhow::ensure!(
        actual == expected_sha256,
        "content hash {actual} differs from the recorded {expected_sha256}"
    );
    // SAFETY: `deserialize` loads native code and trusts its input to be `Component::serialize`
    // output of a compatible engine. These bytes are exactly what this daemon serialized: they hash
    // to the sha256 recorded in our own SQLite ledger when we wrote the file (a file we did not
    // write has no record, a changed one a different hash), and they were read into memory before
    // the check, so nothing can swap them between check and use. Compatibility: the file name
    // carries the engine's precompile-compatibility hash, and wasmtime also verifies its header
    // (version, target, tunables) and returns an error rather than loading a mismatched artifact.
    let component = unsafe { Component::deserialize(engine, &bytes) }?;
    Ok(component)
}

/// Serializes `component` to `path` through a temp file and rename; returns the content's sha256.
fn write_atomically(component: &Component, path: &Path) -> anyhow::Result<String> {
    let bytes = component.serialize()?;
    let tmp = path.with_extension(format!(
        "{}-{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f.write_all(&bytes).and_then(|()| f.sync_all());
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(sha256_hex(&bytes))
}
