//! Which compiler builds the plugins, and how. Two paths, chosen per machine:
//! - rustup has the `wasm32-wasip2` target (an ordinary developer machine): plain `cargo build`, whose
//!   linker already emits components.
//! - otherwise (these machines, CI): Debian's `rustc-web` 1.96 builds std from source (`-Zbuild-std`),
//!   rustup's `rust-lld` links, and the caller componentizes the core modules: plugins without WASI
//!   for `wasm32-unknown-unknown` (no WASI imports at all), the others for `wasm32-wasip1` (WASI
//!   through the preview1 reactor adapter).
//!
//! Installs the Debian packages when they are missing. Never asks rustup to download a target: that
//! hangs on machines without internet access beyond the package registries.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::Plugin;
use crate::{run_checked, show};

const WASIP2: &str = "wasm32-wasip2";
const BARE: &str = "wasm32-unknown-unknown";
const WASIP1: &str = "wasm32-wasip1";
const DEBIAN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "wasi-libc"];
/// Where Debian's `wasi-libc` puts the libraries std links against for `wasm32-wasip1`.
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

pub enum Toolchain {
    Rustup,
    Debian { lld: PathBuf },
}

/// What the build produced for one plugin.
pub struct Artifact {
    pub path: PathBuf,
    /// A core module importing `wasi_snapshot_preview1`, to componentize with the adapter.
    pub adapter: bool,
    /// The component may import `wasi:*` interfaces.
    pub wasi: bool,
}

impl Toolchain {
    /// Picks the path for this machine, installing the Debian packages if that path needs them.
    pub fn detect() -> anyhow::Result<Self> {
        if rustup_has_target(WASIP2) {
            return Ok(Toolchain::Rustup);
        }
        install_missing_debian_packages()?;
        Ok(Toolchain::Debian { lld: rust_lld()? })
    }

    pub fn describe(&self) -> String {
        match self {
            Toolchain::Rustup => format!("rustup's {WASIP2} target"),
            Toolchain::Debian { lld } => format!(
                "Debian rustc-web with -Zbuild-std, linked by {} (rustup has no {WASIP2} target)",
                lld.display()
            ),
        }
    }

    /// Builds every plugin in release mode with `target_dir` as cargo's target directory; returns
    /// their artifacts in the same order.
    pub fn build(
        &self,
        workspace: &Path,
        target_dir: &Path,
        plugins: &[Plugin],
    ) -> anyhow::Result<Vec<Artifact>> {
        let groups: Vec<(&str, bool)> = match self {
            Toolchain::Rustup => vec![(WASIP2, true)],
            Toolchain::Debian { .. } => vec![(BARE, false), (WASIP1, true)],
        };
        for &(triple, wasi) in &groups {
            let members: Vec<&Plugin> = plugins
                .iter()
                .filter(|p| matches!(self, Toolchain::Rustup) || p.wasi == wasi)
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut cmd = self.cargo_build(triple);
            cmd.current_dir(workspace)
                .env("CARGO_TARGET_DIR", target_dir);
            for plugin in members {
                cmd.args(["--package", &plugin.package()]);
            }
            println!("==> plugins: {}", show(&cmd));
            run_checked(&mut cmd)?;
        }
        Ok(plugins
            .iter()
            .map(|plugin| {
                let (triple, wasi) = match self {
                    Toolchain::Rustup => (WASIP2, true),
                    Toolchain::Debian { .. } if plugin.wasi => (WASIP1, true),
                    Toolchain::Debian { .. } => (BARE, false),
                };
                Artifact {
                    path: target_dir
                        .join(triple)
                        .join("release")
                        .join(plugin.lib_file()),
                    adapter: triple == WASIP1,
                    wasi,
                }
            })
            .collect())
    }

    fn cargo_build(&self, triple: &str) -> Command {
        let mut cmd = match self {
            Toolchain::Rustup => {
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            }
            Toolchain::Debian { lld } => {
                let mut cmd = Command::new("/usr/bin/cargo");
                let var = triple.to_uppercase().replace('-', "_");
                cmd.env("RUSTC", "/usr/bin/rustc")
                    // -Zbuild-std is unstable; Debian's compiler is the one with a matching std source.
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env(format!("CARGO_TARGET_{var}_LINKER"), lld);
                if triple == WASIP1 {
                    cmd.env(
                        format!("CARGO_TARGET_{var}_RUSTFLAGS"),
                        format!("-C link-self-contained=no -L {WASI_LIBC}"),
                    );
                }
                cmd
            }
        };
        cmd.args(["build", "--release", "--target", triple]);
        if let Toolchain::Debian { .. } = self {
            cmd.arg("-Zbuild-std=std,panic_abort");
        }
        cmd
    }
}

/// Whether rustup has `target` installed; false when there is no rustup.
fn rustup_has_target(target: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|l| l.trim() == target)
        })
}

fn install_missing_debian_packages() -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for &package in DEBIAN_PACKAGES {
        let out = Command::new("dpkg-query")
            .args(["--show", "--showformat=${db:Status-Status}", package])
            .output()
            .with_context(|| {
                format!(
                    "rustup has no {WASIP2} target and this is not a Debian system (no dpkg-query): \
                     run `rustup target add {WASIP2}`"
                )
            })?;
        if String::from_utf8_lossy(&out.stdout).trim() != "installed" {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    println!("==> plugins: installing {}", missing.join(" "));
    run_checked(Command::new("apt-get").arg("update"))?;
    run_checked(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y"])
            .args(&missing),
    )
}

/// rustup's own `rust-lld`, which links wasm (Debian's compiler ships no wasm linker).
fn rust_lld() -> anyhow::Result<PathBuf> {
    let sysroot = rustc_says(&["--print", "sysroot"])?;
    let version = rustc_says(&["-vV"])?;
    let Some(host) = version.lines().find_map(|l| l.strip_prefix("host: ")) else {
        bail!("`rustc -vV` names no host triple");
    };
    let lld = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin/rust-lld");
    if !lld.is_file() {
        bail!(
            "no rust-lld at {} (it comes with rustup's toolchains); install rustup's Rust or the {WASIP2} target",
            lld.display()
        );
    }
    Ok(lld)
}

fn rustc_says(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("rustc")
        .args(args)
        .output()
        .context("cannot run rustc")?;
    if !out.status.success() {
        bail!("`rustc {}` failed ({})", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
