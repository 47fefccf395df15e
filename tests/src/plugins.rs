//! Plugin fixtures: the components `cargo xtask build-plugins` writes to
//! `<target>/plugins/fixtures/<name>.wasm` + `.toml`, and installing them (or any bytes) as user
//! plugins in a daemon's `<data_dir>/plugins`. Files are written under a temporary name and renamed
//! into place, so the daemon's file watcher never sees half a file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::daemon::Daemon;
use crate::procs::run_with_deadline;

/// `<target>/plugins`: the test executable lives in `<target>/<profile>/deps/`.
pub fn plugins_build_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("TEND_PLUGINS_DIR") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a parent dir");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps has a parent");
    }
    dir.parent()
        .expect("the profile dir has a parent (the target dir)")
        .join("plugins")
}

/// A built fixture plugin.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub name: String,
    pub wasm: PathBuf,
    pub toml: PathBuf,
}

impl Fixture {
    pub fn wasm_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.wasm).unwrap_or_else(|e| panic!("{}: {e}", self.wasm.display()))
    }

    pub fn manifest(&self) -> String {
        std::fs::read_to_string(&self.toml)
            .unwrap_or_else(|e| panic!("{}: {e}", self.toml.display()))
    }

    /// Hex sha256 of the `.wasm`, as the daemon reports it.
    pub fn sha256(&self) -> String {
        sha256_file(&self.wasm)
    }
}

fn built(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let wasm = dir.join(format!("{name}.wasm"));
    let toml = dir.join(format!("{name}.toml"));
    for f in [&wasm, &toml] {
        assert!(
            f.is_file(),
            "{} is missing: run `cargo xtask build-plugins` first (or set TEND_PLUGINS_DIR)",
            f.display()
        );
    }
    (wasm, toml)
}

/// The fixture `name` (`spin`, `hog`, `trivial`, ...); panics with what to run when it is not built.
pub fn fixture(name: &str) -> Fixture {
    let (wasm, toml) = built(&plugins_build_dir().join("fixtures"), name);
    Fixture {
        name: name.into(),
        wasm,
        toml,
    }
}

/// A built-in plugin's build output (`http`, `tcp`): what the `tend` binary embeds.
pub fn builtin(name: &str) -> Fixture {
    let (wasm, toml) = built(&plugins_build_dir(), name);
    Fixture {
        name: name.into(),
        wasm,
        toml,
    }
}

/// Hex sha256 of a file (through coreutils' `sha256sum`, to keep this crate free of hashing code).
pub fn sha256_file(path: &Path) -> String {
    let mut cmd = Command::new("sha256sum");
    cmd.arg(path);
    let out = run_with_deadline(cmd, Duration::from_secs(10));
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum prints the digest first")
        .to_string()
}

/// Hex sha256 of some bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("blob");
    std::fs::write(&f, bytes).expect("write blob");
    sha256_file(&f)
}

/// Writes `bytes` to `path` through a temporary file beside it (a name the daemon ignores) and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("path has a parent");
    std::fs::create_dir_all(dir).expect("create plugin dir");
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

/// `<data_dir>/plugins`.
pub fn user_plugin_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("plugins")
}

/// Installs user plugin `as_name` from the given component bytes and manifest text (manifest first).
pub fn install_raw(data_dir: &Path, as_name: &str, wasm: &[u8], manifest: &str) {
    let dir = user_plugin_dir(data_dir);
    write_atomically(&dir.join(format!("{as_name}.toml")), manifest.as_bytes());
    write_atomically(&dir.join(format!("{as_name}.wasm")), wasm);
}

/// Installs fixture `fixture` as user plugin `as_name`.
pub fn install(data_dir: &Path, fixture_name: &str, as_name: &str) {
    let f = fixture(fixture_name);
    install_raw(data_dir, as_name, &f.wasm_bytes(), &f.manifest());
}

/// Deterministic junk (an LCG), for "corrupt plugin" files.
pub fn junk_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as u8
        })
        .collect()
}

impl Daemon {
    /// Installs fixture `fixture_name` as user plugin `as_name` in this daemon's plugin dir.
    pub fn install_plugin(&self, fixture_name: &str, as_name: &str) {
        install(self.data_dir(), fixture_name, as_name);
    }

    /// Replaces (or creates) user plugin `name`'s `.wasm` with `bytes`.
    pub fn write_plugin_wasm(&self, name: &str, bytes: &[u8]) {
        write_atomically(
            &user_plugin_dir(self.data_dir()).join(format!("{name}.wasm")),
            bytes,
        );
    }

    /// `GET /api/plugins/{name}`, asserting 200.
    pub fn plugin(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("/api/plugins/{name}"));
        assert_eq!(status, 200, "GET /api/plugins/{name}: {body}");
        body
    }

    /// `POST /api/plugins/reload`, asserting 200; returns the report.
    pub fn reload_plugins(&self) -> Value {
        let (status, body) = self.post_empty("/api/plugins/reload");
        assert_eq!(status, 200, "POST /api/plugins/reload: {body}");
        body
    }

    /// The health report of a service (`GET /api/services/{name}/health`), asserting 200.
    pub fn health(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("/api/services/{name}/health"));
        assert_eq!(status, 200, "GET /api/services/{name}/health: {body}");
        body
    }
}

/// The entry for `name` in a reload report.
pub fn reload_entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no entry for {name} in the reload report {report}"))
}
