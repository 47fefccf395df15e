//! The plugins written in Python: each a directory under `plugins/` with `app.py` (the module
//! componentize-py packs, implementing a world of `wit/`) and `plugin.toml`, built into a component
//! by componentize-py (PyPI, pinned with its hash in `plugins/examples/requirements.txt`; it ships
//! its own CPython for wasm and the standard library, so nothing else is downloaded). They are test
//! fixtures and examples for users to copy, never built-ins: `tend` embeds only the Rust ones.
//!
//! componentize-py lives in a venv of its own, `target/componentize-venv`, created when missing and
//! recreated from scratch when the requirements file changed (a copy of it is the stamp), like
//! `cargo xtask llm-venv`. A component is rebuilt only when its inputs changed: the sha256 of the
//! requirements, the WIT package, the world and every file of the plugin's directory is kept next to
//! it (`target/wasm/python/<name>.stamp`), so an unchanged build neither needs the venv nor runs
//! componentize-py (it takes about 10 s per plugin).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::{root, run_checked, show, target_dir};

/// Every Python plugin. A directory under `PY_ROOTS` holding an `app.py` missing here is an error.
pub const PY_PLUGINS: &[PyPlugin] = &[
    // The walk-through's probe (plugins/README.md, "Write your own probe in Python").
    PyPlugin {
        name: "json-status",
        dir: "examples/json-status",
        world: "probe",
    },
    // Tries files, sockets and environment through WASI: the sandbox must refuse them all.
    PyPlugin {
        name: "sneaky-py",
        dir: "fixtures/sneaky-py",
        world: "probe",
    },
];

/// The directories (relative to `plugins/`) whose subdirectories may hold Python plugins.
/// (`fixtures/` also holds the Rust fixtures: those have a `Cargo.toml`, and plugins/Cargo.toml
/// excludes the Python ones from the cargo workspace.)
const PY_ROOTS: &[&str] = &["examples", "fixtures"];

/// What componentize-py exports beyond the world: the interface `exports` with `init`, which its
/// build-time pre-initialisation (component-init: CPython is started and `app` imported once, and
/// the resulting memory snapshotted into the component) calls. The daemon never calls it.
pub const EXTRA_EXPORTS: &[&str] = &["exports"];

/// The pinned componentize-py, relative to `plugins/`.
const REQUIREMENTS: &str = "examples/requirements.txt";

pub struct PyPlugin {
    /// The name the daemon knows: the file stem of `<name>.wasm` and `<name>.toml` under
    /// `target/plugins/fixtures/`.
    pub name: &'static str,
    /// Relative to `plugins/`: holds `app.py`, the modules it imports, and `plugin.toml`.
    pub dir: &'static str,
    /// The world of `wit/` it implements.
    pub world: &'static str,
}

fn venv() -> PathBuf {
    target_dir().join("componentize-venv")
}

fn componentize_py() -> PathBuf {
    venv().join("bin").join("componentize-py")
}

/// Builds (or keeps) every Python plugin's component under `build_dir`; returns their paths in
/// the order of `PY_PLUGINS`.
pub fn build(source: &Path, build_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    check_table(source)?;
    fs::create_dir_all(build_dir)
        .with_context(|| format!("cannot create {}", build_dir.display()))?;
    let requirements = source.join(REQUIREMENTS);
    let wanted = fs::read(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let wit = root().join(super::WIT);
    let mut venv_ready = false;
    let mut built = Vec::new();
    for plugin in PY_PLUGINS {
        let dir = source.join(plugin.dir);
        let component = build_dir.join(format!("{}.wasm", plugin.name));
        let stamp_file = component.with_extension("stamp");
        let stamp = inputs_digest(&wanted, &wit, plugin.world, &dir)?;
        let fresh = component.is_file()
            && fs::read_to_string(&stamp_file).is_ok_and(|old| old.trim() == stamp);
        if !fresh {
            if !venv_ready {
                ensure_venv(&requirements)?;
                venv_ready = true;
            }
            componentize(plugin, &dir, &wit, &component)?;
            fs::write(&stamp_file, format!("{stamp}\n"))
                .with_context(|| format!("cannot write {}", stamp_file.display()))?;
        }
        built.push(component);
    }
    Ok(built)
}

/// `componentize-py -d wit -w <world> componentize app -p <dir> -o <component>`, written under a
/// temporary name first so an interrupted build leaves no component behind that looks finished.
fn componentize(plugin: &PyPlugin, dir: &Path, wit: &Path, component: &Path) -> anyhow::Result<()> {
    let partial = component.with_extension("wasm.partial");
    let mut cmd = Command::new(componentize_py());
    cmd.arg("--wit-path")
        .arg(wit)
        .args(["--world", plugin.world, "--quiet", "componentize", "app"])
        .arg("--python-path")
        .arg(dir)
        .arg("--output")
        .arg(&partial)
        // Byte code it would write next to the sources is not part of the build.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    println!("==> plugins: {}", show(&cmd));
    run_checked(&mut cmd)?;
    fs::rename(&partial, component)
        .with_context(|| format!("cannot rename {} into place", partial.display()))
}

/// The venv with exactly the pinned componentize-py (`venv.rs`).
fn ensure_venv(requirements: &Path) -> anyhow::Result<()> {
    if crate::venv::ensure(
        &venv(),
        requirements,
        "the Python plugins (componentize-py)",
    )? {
        println!(
            "==> plugins: installed componentize-py into {}",
            venv().display()
        );
    }
    Ok(())
}

/// Hex sha256 over everything a component is built from: the pinned requirements, the world's
/// name, the WIT package's files and the plugin directory's files (byte code caches excepted),
/// each with its relative path, in sorted order.
fn inputs_digest(
    requirements: &[u8],
    wit: &Path,
    world: &str,
    dir: &Path,
) -> anyhow::Result<String> {
    let mut hash = Sha256::new();
    let mut feed = |label: &str, bytes: &[u8]| {
        hash.update((label.len() as u64).to_le_bytes());
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    feed("requirements", requirements);
    feed("world", world.as_bytes());
    for (prefix, base) in [("wit", wit), ("app", dir)] {
        for file in files_under(base)? {
            let relative = file.strip_prefix(base).unwrap_or(&file);
            let bytes =
                fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            feed(&format!("{prefix}/{}", relative.display()), &bytes);
        }
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Every file under `dir`, recursively and sorted, skipping `__pycache__`.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "__pycache__") {
                    pending.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Every directory with an `app.py` under `PY_ROOTS` must be in `PY_PLUGINS`, or it would silently
/// never be built.
fn check_table(source: &Path) -> anyhow::Result<()> {
    for root in PY_ROOTS {
        let entries = fs::read_dir(source.join(root))
            .with_context(|| format!("cannot list plugins/{root}"))?;
        for entry in entries {
            let path = entry?.path();
            let Ok(relative) = path.strip_prefix(source) else {
                continue;
            };
            if path.join("app.py").is_file()
                && !PY_PLUGINS.iter().any(|p| Path::new(p.dir) == relative)
            {
                bail!(
                    "plugins/{} is not in the Python plugin table (PY_PLUGINS in xtask/src/plugins/python.rs)",
                    relative.display()
                );
            }
        }
    }
    Ok(())
}
