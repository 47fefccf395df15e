//! The on-disk cache of compiled components, so a restart does not recompile:
//! `<data_dir>/plugin-cache/<sha256 of the wasm>-<engine compatibility hash>.cwasm`, and where a
//! component's code comes from when it is not cached: a built-in's from the executable's payload
//! (`payload`), anything else compiled in a `tend __compile-plugin` child (`Compiler::Child`), so
//! Cranelift's memory never stays in the daemon. Either way the result is written to the cache as
//! if compiled here, and every component is loaded by mapping its cache file (file-backed pages:
//! only touched ones count in the daemon's memory), never by reading it into the heap.
//!
//! Deserializing is loading native code, so only files the daemon wrote itself are used: the cache
//! dir is created 0700 and must be ours; a file is written to a temp name and renamed into place,
//! and the sha256 of its content is recorded in the SQLite store (`plugin_cache`). Before use, the
//! file must hash to the recorded value; anything else (a foreign file, a truncated or tampered
//! one) is ignored and recompiled over.

use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::payload;
use crate::store::Store;
use crate::wire::PluginCode;

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

/// Where components that are neither cached nor precompiled are compiled.
pub enum Compiler {
    /// In this process (the host's unit tests, whose executable is not `tend`).
    InProcess,
    /// In a short-lived `tend __compile-plugin` child, so Cranelift's memory never stays in the
    /// daemon; `max_memory_mb` is the daemon's setting, which the child's engine must share.
    Child { max_memory_mb: u64 },
}

pub struct Cache {
    /// `None` when the cache dir is unusable (then every load compiles).
    dir: Option<PathBuf>,
    engine_key: String,
    store: Store,
    compiles: AtomicU64,
    compiler: Compiler,
    /// The precompiled built-ins appended to our executable, when it carries them for this engine.
    payload: Option<(File, Vec<payload::Entry>)>,
}

/// The first 8 bytes of sha256 over `Engine::precompile_compatibility_hash`, in hex: a key for
/// "compiled by a compatible engine" that is stable across processes.
pub fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize()[..8])
}

impl Cache {
    pub fn open(engine: &Engine, data_dir: &Path, store: Store, compiler: Compiler) -> Cache {
        let engine_key = engine_key(engine);
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
            payload: open_payload(&engine_key),
            engine_key,
            store,
            compiles: AtomicU64::new(0),
            compiler,
        }
    }

    /// Components compiled (not taken from the cache nor the executable) since this cache was opened.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    pub fn file_name(&self, wasm_sha256: &str) -> String {
        format!("{wasm_sha256}-{}.cwasm", self.engine_key)
    }

    /// The compiled component for `wasm`, and where its code came from. `builtin` names an embedded
    /// plugin, whose code the executable may carry precompiled. Blocking work runs on the blocking
    /// pool. The error is a reason for people ("not a component: ...").
    pub async fn component(
        &self,
        engine: &Engine,
        wasm_sha256: &str,
        wasm: Arc<[u8]>,
        builtin: bool,
    ) -> Result<(Component, PluginCode), String> {
        let file = self.file_name(wasm_sha256);
        if let Some(dir) = &self.dir {
            match self.store.plugin_cache_sha256(&file).await {
                Ok(Some(expected)) => match self.load(engine, dir.join(&file), expected).await {
                    Ok(c) => return Ok((c, PluginCode::Cache)),
                    Err(e) => {
                        tracing::warn!(file, error = %e, "ignoring plugin cache file; recompiling")
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the plugin cache ledger; recompiling")
                }
            }
        }
        if builtin && let Some(c) = self.precompiled(engine, wasm_sha256, &file).await {
            return Ok((c, PluginCode::Precompiled));
        }
        let compiled = match (&self.compiler, &self.dir) {
            (Compiler::Child { max_memory_mb }, Some(dir)) => {
                let sha = self
                    .compile_in_child(dir, &file, &wasm, *max_memory_mb)
                    .await?;
                self.compiles.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.store.plugin_cache_record(&file, &sha).await {
                    tracing::warn!(file, error = %e, "cannot record plugin cache file");
                }
                self.load(engine, dir.join(&file), sha)
                    .await
                    .map_err(|e| format!("cannot load the code compiled for it: {e}"))?
            }
            _ => {
                let compiled = self.compile_here(engine, wasm).await?;
                if let Some(dir) = &self.dir {
                    let c = compiled.clone();
                    let bytes = tokio::task::spawn_blocking(move || c.serialize()).await;
                    match bytes {
                        Ok(Ok(bytes)) => self.seed(dir, &file, bytes).await.map(drop),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                    .unwrap_or_else(
                        |e| tracing::warn!(file, error = %e, "cannot write plugin cache file"),
                    );
                }
                compiled
            }
        };
        Ok((compiled, PluginCode::Compiled))
    }

    async fn compile_here(&self, engine: &Engine, wasm: Arc<[u8]>) -> Result<Component, String> {
        let engine = engine.clone();
        let compiled = tokio::task::spawn_blocking(move || Component::from_binary(&engine, &wasm))
            .await
            .map_err(|e| format!("compilation crashed: {e}"))?
            .map_err(|e| {
                format!(
                    "not a valid WebAssembly component: {}",
                    first_line(&format!("{e:#}"))
                )
            })?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        Ok(compiled)
    }

    /// Runs `tend __compile-plugin` on `wasm`; the child writes the serialized code to a temp file
    /// in the cache dir, renamed into place here. Returns the file's sha256.
    async fn compile_in_child(
        &self,
        dir: &Path,
        file: &str,
        wasm: &[u8],
        max_memory_mb: u64,
    ) -> Result<String, String> {
        let final_path = dir.join(file);
        let input = temp_path(&final_path, "wasm");
        let output = temp_path(&final_path, "cwasm");
        let cleanup = |paths: &[&Path]| {
            for p in paths {
                let _ = fs::remove_file(p);
            }
        };
        write_new(&input, wasm).map_err(|e| format!("cannot write its wasm for compiling: {e}"))?;
        let argv = vec![
            "/proc/self/exe".to_string(),
            "__compile-plugin".to_string(),
            "--max-memory-mb".to_string(),
            max_memory_mb.to_string(),
            input.display().to_string(),
            output.display().to_string(),
        ];
        let ran = crate::process::run_helper(argv, "plugin-compile").await;
        cleanup(&[&input]);
        let (exit, stderr) = match ran {
            Ok(r) => r,
            Err(e) => {
                cleanup(&[&output]);
                return Err(format!("cannot start the compiler process: {e}"));
            }
        };
        if !exit.success() {
            cleanup(&[&output]);
            let why = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message")
                .trim()
                .to_string();
            return Err(if exit.code() == Some(COMPILE_REFUSED) {
                format!("not a valid WebAssembly component: {why}")
            } else {
                format!("the compiler process {exit}: {why}")
            });
        }
        let hashed = hash_file(&output).and_then(|sha| {
            fs::rename(&output, &final_path)?;
            Ok(sha)
        });
        hashed.map_err(|e| {
            cleanup(&[&output]);
            format!("cannot keep the code compiled for it: {e}")
        })
    }

    /// A built-in's code from the executable's payload, written to the cache as if compiled here.
    async fn precompiled(
        &self,
        engine: &Engine,
        wasm_sha256: &str,
        file: &str,
    ) -> Option<Component> {
        let (exe, entries) = self.payload.as_ref()?;
        let entry = entries.iter().find(|e| e.wasm_sha256 == wasm_sha256)?;
        let bytes = match payload::read_entry(exe, entry) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(plugin = entry.name, error = %e, "cannot read precompiled code from the executable; compiling");
                return None;
            }
        };
        if let Some(dir) = &self.dir {
            match self.seed(dir, file, bytes).await {
                Ok(sha) => match self.load(engine, dir.join(file), sha).await {
                    Ok(c) => return Some(c),
                    Err(e) => {
                        tracing::warn!(plugin = entry.name, error = %e, "precompiled code does not load; compiling")
                    }
                },
                Err(e) => {
                    tracing::warn!(plugin = entry.name, error = %e, "cannot write precompiled code to the cache; compiling")
                }
            }
            return None;
        }
        // SAFETY: `deserialize` trusts its input to be `Component::serialize` output of a
        // compatible engine: these bytes are from our own executable's payload, written by
        // `tend __precompile-builtins` with the engine key checked above (and wasmtime checks
        // the header again). Without a cache dir they are loaded from memory, as before mmap.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(plugin = entry.name, error = %e, "precompiled code does not load; compiling");
                None
            }
        }
    }

    /// Writes `bytes` as cache file `file` and records it in the ledger; returns its sha256.
    async fn seed(&self, dir: &Path, file: &str, bytes: Vec<u8>) -> Result<String, String> {
        let path = dir.join(file);
        let sha = tokio::task::spawn_blocking(move || write_atomically(&bytes, &path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        self.store
            .plugin_cache_record(file, &sha)
            .await
            .map_err(|e| format!("cannot record it: {e}"))?;
        Ok(sha)
    }

    async fn load(
        &self,
        engine: &Engine,
        path: PathBuf,
        expected: String,
    ) -> anyhow::Result<Component> {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || load_verified(&engine, &path, &expected)).await?
    }
}

/// Exit code of `tend __compile-plugin` for input that is not a valid component (anything else is
/// a failure of the child itself).
pub const COMPILE_REFUSED: i32 = 3;

/// Our executable's payload entries for this engine; a payload for another engine is ignored with
/// a warning (the built-ins then compile as user plugins do).
fn open_payload(engine_key: &str) -> Option<(File, Vec<payload::Entry>)> {
    let exe = File::open("/proc/self/exe").ok()?;
    let index = match payload::read_index(&exe) {
        Ok(Some(index)) => index,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the precompiled built-ins of the executable: unreadable");
            return None;
        }
    };
    let (ours, others): (Vec<_>, Vec<_>) = index
        .entries
        .into_iter()
        .partition(|e| e.engine == engine_key);
    if let Some(other) = others.first() {
        tracing::warn!(
            payload_engine = other.engine,
            engine = engine_key,
            "ignoring precompiled built-ins made for another engine configuration; they compile instead"
        );
    }
    Some((exe, ours))
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

/// sha256 of a file's content, read in pieces (the file is not kept in memory).
fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

fn load_verified(engine: &Engine, path: &Path, expected_sha256: &str) -> anyhow::Result<Component> {
    let meta = fs::symlink_metadata(path)?;
    // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
    let me = unsafe { libc::geteuid() };
    anyhow::ensure!(
        meta.is_file() && meta.uid() == me && meta.mode() & 0o022 == 0,
        "not a regular file of ours, writable only by us"
    );
    let actual = hash_file(path)?;
    anyhow::ensure!(
        actual == expected_sha256,
        "content hash {actual} differs from the recorded {expected_sha256}"
    );
    // SAFETY: `deserialize_file` maps the file and runs its code; it trusts the file to be
    // `Component::serialize` output of a compatible engine. The file is what this daemon (or its
    // own compile child, or its executable's payload) wrote: it hashes to the sha256 recorded in
    // our SQLite ledger when we wrote it (a file we did not write has no record, a changed one a
    // different hash), and it is a regular file of ours, writable only by us, in a 0700 directory
    // of ours (`prepare_dir`). The check and the mapping are two reads of the file, not one: the
    // remaining assumption is that no other process running as our user rewrites the file in
    // place between the check and the use (or while mapped); such a process could as well change
    // our executable or our database. Compatibility: the file name carries the engine key, and
    // wasmtime verifies the header (version, target, tunables) and returns an error rather than
    // loading a mismatched artifact. Mapped, the code is file-backed: only pages touched count.
    let component = unsafe { Component::deserialize_file(engine, path) }?;
    Ok(component)
}

/// A temp name beside `path` (ending in `.tmp`, so `prepare_dir` removes what a crash left).
fn temp_path(path: &Path, what: &str) -> PathBuf {
    path.with_extension(format!(
        "{what}-{}-{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ))
}

/// Creates `path` (0600, failing if it exists) with `bytes`, synced.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes).and_then(|()| f.sync_all())
}

/// Writes `bytes` to `path` through a temp file and rename; returns the content's sha256.
fn write_atomically(bytes: &[u8], path: &Path) -> anyhow::Result<String> {
    let tmp = temp_path(path, "cwasm");
    if let Err(e) = write_new(&tmp, bytes).and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(sha256_hex(bytes))
}
