//! `cargo xtask build-plugins`: builds the WebAssembly plugins in `plugins/` (their own cargo
//! workspace) from source and lays them out the way the daemon reads a plugin directory:
//! `target/plugins/<name>.wasm` + `<name>.toml` for the built-ins that `tend` embeds, and the same
//! under `target/plugins/fixtures/` for the test fixtures. Each component is checked against the
//! world it implements before it is written; files are rewritten only when their bytes change, so
//! an unchanged build does not make cargo rebuild `tend`.
//!
//! Wasm builds use their own target directory (`target/wasm`): `-Zbuild-std` and the wasm targets
//! never touch (or wait on) the host build. The plugins written in Python (`python.rs`) are built
//! by componentize-py into `target/wasm/python` and land among the fixtures, checked the same way
//! (`cargo xtask run`, which needs only the built-ins, skips them).

mod component;
mod python;
mod toolchain;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::{root, target_dir};
use component::{Worlds, componentize};
use toolchain::{Artifact, Toolchain};

/// Every plugin the workspace builds. A crate directory under `plugins/` missing here is an error.
const PLUGINS: &[Plugin] = &[
    Plugin::builtin("http", "probe-http"),
    Plugin::builtin("tcp", "probe-tcp"),
    Plugin {
        world: "proxy-config",
        ..Plugin::builtin("caddy", "caddy")
    },
    Plugin {
        world: "command-policy",
        ..Plugin::builtin("policy", "policy")
    },
    Plugin {
        world: "fixer",
        ..Plugin::builtin("fixer", "fixer")
    },
    Plugin {
        world: "onboarder",
        ..Plugin::builtin("onboarder", "onboarder")
    },
    Plugin {
        world: "deploy-export",
        ..Plugin::builtin("k8s", "k8s")
    },
    Plugin {
        world: "deploy-export",
        ..Plugin::builtin("nomad", "nomad")
    },
    Plugin::fixture("spin"),
    Plugin::fixture("hog"),
    Plugin::fixture("sneaky"),
    Plugin {
        wasi: true,
        ..Plugin::fixture("reader")
    },
    Plugin {
        wasi: true,
        ..Plugin::fixture("chatty")
    },
    Plugin::fixture("trivial"),
    Plugin::fixture("trapper"),
    // Its manifest claims `probe` on purpose: the daemon must notice the component is not one.
    Plugin {
        world: "command-policy",
        ..Plugin::fixture("notworld")
    },
    Plugin {
        world: "proxy-config",
        ..Plugin::fixture("proxy-alt")
    },
    Plugin {
        world: "command-policy",
        ..Plugin::fixture("policy-trap")
    },
    Plugin {
        world: "command-policy",
        ..Plugin::fixture("policy-spin")
    },
    Plugin {
        world: "command-policy",
        ..Plugin::fixture("policy-strict")
    },
    // A fixer scripted by the broken service's own log (the auto-fix tests' deterministic "model").
    Plugin {
        world: "fixer",
        ..Plugin::fixture("fixer-script")
    },
    Plugin {
        world: "fixer",
        ..Plugin::fixture("fixer-echo")
    },
    Plugin {
        world: "fixer",
        ..Plugin::fixture("fixer-jail")
    },
    Plugin {
        world: "fixer",
        ..Plugin::fixture("fixer-llm")
    },
    // Echoes its input as documents: the export plumbing's tests (`tests/tests/export.rs`).
    Plugin {
        world: "deploy-export",
        ..Plugin::fixture("export-echo")
    },
    // Built against the frozen previous major version of the WIT, as a user's plugin of release 0.1:
    // the daemon must keep loading them (wit/README.md, "Versioning").
    Plugin {
        world: "command-policy",
        wit: WIT_V0_1,
        ..Plugin::fixture("policy-v01")
    },
    Plugin {
        wit: WIT_V0_1,
        ..Plugin::fixture("probe-v01")
    },
    Plugin {
        world: "proxy-config",
        wit: WIT_V0_1,
        ..Plugin::fixture("proxy-v01")
    },
];

/// The current `tend:plugin` package, and the frozen previous major version the host still loads
/// (directories relative to the repository root).
const WIT: &str = "wit";
const WIT_V0_1: &str = "wit/v0.1";

struct Plugin {
    /// The name the daemon knows: the file stem of `<name>.wasm` and `<name>.toml`.
    name: &'static str,
    /// The crate of a built-in; fixtures live in `fixtures/<name>` as crate `fixture-<name>`.
    builtin: Option<&'static str>,
    /// Uses WASI (std I/O, clocks, env, files); everything else imports tend's interfaces only.
    wasi: bool,
    /// The world the component implements.
    world: &'static str,
    /// The WIT package it is built against: `WIT`, or `WIT_V0_1` for compatibility fixtures.
    wit: &'static str,
}

impl Plugin {
    const fn builtin(name: &'static str, krate: &'static str) -> Self {
        Plugin {
            name,
            builtin: Some(krate),
            wasi: false,
            world: "probe",
            wit: WIT,
        }
    }

    const fn fixture(name: &'static str) -> Self {
        Plugin {
            name,
            builtin: None,
            wasi: false,
            world: "probe",
            wit: WIT,
        }
    }

    fn package(&self) -> String {
        match self.builtin {
            Some(krate) => krate.to_string(),
            None => format!("fixture-{}", self.name),
        }
    }

    /// The crate directory, relative to `plugins/`.
    fn dir(&self) -> PathBuf {
        match self.builtin {
            Some(krate) => PathBuf::from(krate),
            None => Path::new("fixtures").join(self.name),
        }
    }

    /// The file cargo writes for the cdylib.
    fn lib_file(&self) -> String {
        format!("{}.wasm", self.package().replace('-', "_"))
    }

    /// Where the output goes inside `target/plugins/`, without extension.
    fn output(&self, out: &Path) -> PathBuf {
        match self.builtin {
            Some(_) => out.join(self.name),
            None => out.join("fixtures").join(self.name),
        }
    }
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`build-plugins` takes no arguments, got {arg:?}");
    }
    build()
}

/// `cargo xtask build-plugins` as a command (this very binary), for a step of `cargo xtask test`.
pub fn command() -> Command {
    let xtask = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("xtask"));
    let mut cmd = Command::new(xtask);
    cmd.arg("build-plugins");
    cmd
}

/// Builds all plugins into `target/plugins/`.
pub fn build() -> anyhow::Result<()> {
    build_some(true)
}

/// What `cargo xtask run` needs: the Rust plugins (the built-ins `tend` embeds are among them). The
/// Python ones are examples and test fixtures, and building them needs Python and PyPI, which
/// running tend from source does not.
pub fn build_for_run() -> anyhow::Result<()> {
    build_some(false)
}

fn build_some(with_python: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let source = root().join("plugins");
    check_table(&source)?;
    let toolchain = Toolchain::detect()?;
    println!("==> plugins: toolchain: {}", toolchain.describe());
    let artifacts = toolchain.build(&source, &target_dir().join("wasm"), PLUGINS)?;

    let worlds = [WIT, WIT_V0_1]
        .into_iter()
        .map(|dir| Ok((dir, Worlds::load(&root().join(dir))?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let out = target_dir().join("plugins");
    let fixtures = out.join("fixtures");
    fs::create_dir_all(&fixtures)
        .with_context(|| format!("cannot create {}", fixtures.display()))?;
    let python_started = Instant::now();
    let python = if with_python {
        python::build(&source, &target_dir().join("wasm").join("python"))?
    } else {
        println!("==> plugins: the Python ones skipped (examples and test fixtures)");
        Vec::new()
    };
    let mut python_time = python_started.elapsed();
    println!("==> plugins: into {}", out.display());
    let rust = PLUGINS.iter().zip(artifacts).map(|(plugin, artifact)| {
        let placing = Placing {
            name: plugin.name,
            world: plugin.world,
            wit: plugin.wit,
            dir: plugin.dir(),
            target: plugin.output(&out),
            tolerated: &[],
        };
        (placing, artifact, false)
    });
    let python_count = python.len();
    let python = python::PY_PLUGINS.iter().zip(python).map(|(plugin, path)| {
        let placing = Placing {
            name: plugin.name,
            world: plugin.world,
            wit: WIT,
            dir: PathBuf::from(plugin.dir),
            target: fixtures.join(plugin.name),
            tolerated: python::EXTRA_EXPORTS,
        };
        // componentize-py writes a component whose CPython imports WASI (see python.rs).
        let artifact = Artifact {
            path,
            adapter: false,
            wasi: true,
        };
        (placing, artifact, true)
    });
    for (placing, artifact, in_python) in rust.chain(python) {
        let placed = Instant::now();
        let line = place(&placing, &artifact, &worlds, &source).with_context(|| {
            format!(
                "plugin `{}` (plugins/{})",
                placing.name,
                placing.dir.display()
            )
        })?;
        if in_python {
            python_time += placed.elapsed();
        }
        println!("    {line}");
    }
    remove_stale(&out)?;
    let placed = PLUGINS.len() + python_count;
    println!(
        "==> plugins: {placed} components in {:.1} s (of which the {python_count} in Python: {:.1} s)",
        started.elapsed().as_secs_f64(),
        python_time.as_secs_f64()
    );
    Ok(())
}

/// Where one built plugin goes, whatever language it was written in.
struct Placing {
    name: &'static str,
    world: &'static str,
    /// The WIT package it is checked against.
    wit: &'static str,
    /// Its source directory, relative to `plugins/` (holds `plugin.toml`).
    dir: PathBuf,
    /// The output path without extension.
    target: PathBuf,
    /// Exports beyond the world's that its toolchain adds and the host never calls.
    tolerated: &'static [&'static str],
}

/// Componentizes (if need be) and checks one build artifact, then writes it with its manifest to
/// `plugin.target`. Returns a line for the build report.
fn place(
    plugin: &Placing,
    artifact: &Artifact,
    worlds: &[(&str, Worlds)],
    source: &Path,
) -> anyhow::Result<String> {
    let built = fs::read(&artifact.path)
        .with_context(|| format!("cannot read {}", artifact.path.display()))?;
    let component = if wasmparser::Parser::is_component(&built) {
        built
    } else {
        componentize(&built, artifact.adapter)
            .context("cannot make a component of the core module")?
    };
    let Some((_, worlds)) = worlds.iter().find(|(dir, _)| *dir == plugin.wit) else {
        bail!("no WIT package at {} is loaded", plugin.wit);
    };
    let shape = worlds
        .check(&component, plugin.world, artifact.wasi, plugin.tolerated)
        .with_context(|| format!("not a component of world `{}`", plugin.world))?;
    let manifest = source.join(&plugin.dir).join("plugin.toml");
    let manifest =
        fs::read(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let target = &plugin.target;
    let wrote_wasm = write_if_changed(&target.with_extension("wasm"), &component)?;
    let wrote_toml = write_if_changed(&target.with_extension("toml"), &manifest)?;
    let out = target_dir().join("plugins");
    let shown = target.strip_prefix(&out).unwrap_or(target).display();
    let imports = if shape.imports.is_empty() {
        "(none)".to_string()
    } else {
        shape.imports.join(" ")
    };
    Ok(format!(
        "{:<18} {:>7.1} KiB  {:<9}  imports: {imports}",
        shown.to_string(),
        component.len() as f64 / 1024.0,
        if wrote_wasm || wrote_toml {
            "written"
        } else {
            "unchanged"
        },
    ))
}

/// Every crate directory under `plugins/` (but the libraries plugins link: `LIBRARIES`) must be in
/// `PLUGINS`, or it would silently never be built.
fn check_table(source: &Path) -> anyhow::Result<()> {
    /// The probe SDK and the agent plugins' shared guest side: built as dependencies, never alone.
    const LIBRARIES: &[&str] = &["sdk", "agent-kit"];
    let known: BTreeSet<PathBuf> = PLUGINS.iter().map(Plugin::dir).collect();
    for dir in [source.to_path_buf(), source.join("fixtures")] {
        let entries =
            fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let Ok(relative) = path.strip_prefix(source) else {
                continue;
            };
            if path.join("Cargo.toml").is_file()
                && !LIBRARIES.iter().any(|l| relative == Path::new(l))
                && !known.contains(relative)
            {
                bail!(
                    "plugins/{} is not in the plugin table (PLUGINS in xtask/src/plugins.rs)",
                    relative.display()
                );
            }
        }
    }
    Ok(())
}

/// Writes `bytes` unless the file already holds exactly them; says whether it wrote.
fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Deletes `.wasm`/`.toml` files of plugins no longer in the table, so `tend` cannot embed them.
fn remove_stale(out: &Path) -> anyhow::Result<()> {
    let python = python::PY_PLUGINS
        .iter()
        .map(|p| out.join("fixtures").join(p.name));
    let current: BTreeSet<PathBuf> = PLUGINS
        .iter()
        .map(|p| p.output(out))
        .chain(python)
        .flat_map(|p| ["wasm", "toml"].map(|ext| p.with_extension(ext)))
        .collect();
    for dir in [out.to_path_buf(), out.join("fixtures")] {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            let ours = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("wasm" | "toml")
            );
            if ours && !current.contains(&path) {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                println!("    removed stale {}", path.display());
            }
        }
    }
    Ok(())
}
