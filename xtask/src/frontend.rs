//! The dashboard (`frontend/`) for the other commands: the tools it needs (Node.js 18+ and npm,
//! with a message saying how to get them), `npm ci` when `node_modules` is missing or older than
//! `package-lock.json`, `npm run build` (into `frontend/dist`, which `tend` embeds), the steps of
//! `cargo xtask test`, and `cargo xtask gen-types`, which rewrites `frontend/src/gen/api.ts` from the
//! `wire` types (the test in `host/src/wire/typescript.rs` with `TEND_WRITE_TYPES=1`). The npm
//! scripts themselves (`build`, `check`, `test`, `e2e`) are defined in `frontend/package.json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::{cargo, root, run_checked};

/// The oldest Node.js the dashboard's tools run on.
const NODE_MAJOR: u32 = 18;

fn dir() -> PathBuf {
    root().join("frontend")
}

/// `npm ARGS` in `frontend/`.
pub fn npm(args: &[&str]) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir()).args(args);
    cmd
}

/// `cargo xtask frontend [install]`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    match args {
        [] => build(),
        [a] if a == "install" => {
            check_tools()?;
            run_checked(&mut ci())
        }
        _ => bail!("usage: cargo xtask frontend [install], got {args:?}"),
    }
}

/// What `cargo xtask run` does first: the tools, `npm ci` if needed, `npm run build`.
pub fn build() -> anyhow::Result<()> {
    check_tools()?;
    if install_needed(&dir()) {
        run_checked(&mut ci())?;
    }
    run_checked(&mut npm(&["run", "build"]))
}

/// `npm ci`, quietly about audits and funding.
pub fn ci() -> Command {
    npm(&["ci", "--no-audit", "--no-fund"])
}

/// Node.js `NODE_MAJOR`+ and npm are on PATH, or an error naming what is missing and how to get it.
pub fn check_tools() -> anyhow::Result<()> {
    const HOW: &str = "the dashboard (frontend/) is built with Node.js 18 or newer and npm: install \
                       them (Debian/Ubuntu: `apt-get install nodejs npm`; others: https://nodejs.org) \
                       and run this again";
    let node = version("node").with_context(|| format!("`node` was not found: {HOW}"))?;
    match major(&node) {
        Some(m) if m >= NODE_MAJOR => {}
        _ => bail!("`node --version` says {node:?}, older than {NODE_MAJOR}: {HOW}"),
    }
    version("npm").with_context(|| format!("`npm` was not found: {HOW}"))?;
    Ok(())
}

fn version(program: &str) -> anyhow::Result<String> {
    let out = Command::new(program).arg("--version").output()?;
    if !out.status.success() {
        bail!("`{program} --version` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The major version of `v20.11.1` (or `20.11.1`).
fn major(version: &str) -> Option<u32> {
    version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// `node_modules` is missing, or npm's record of it (`node_modules/.package-lock.json`, written by
/// every install) is older than `package-lock.json`.
fn install_needed(frontend: &Path) -> bool {
    let mtime = |p: PathBuf| -> Option<SystemTime> { p.metadata().ok()?.modified().ok() };
    match (
        mtime(frontend.join("node_modules/.package-lock.json")),
        mtime(frontend.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    }
}

/// `cargo xtask gen-types`.
pub fn gen_types(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`gen-types` takes no arguments, got {arg:?}");
    }
    run_checked(
        cargo()
            .args([
                "test",
                "--package",
                "tend",
                "--lib",
                "--",
                "--exact",
                "wire::typescript::frontend_types_are_up_to_date",
            ])
            .env("TEND_WRITE_TYPES", "1"),
    )?;
    println!("wrote frontend/src/gen/api.ts");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions() {
        assert_eq!(major("v20.11.1"), Some(20));
        assert_eq!(major("18.0.0\n"), Some(18));
        assert_eq!(major("garbage"), None);
    }

    #[test]
    fn install_when_node_modules_is_missing_or_older_than_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("package-lock.json"), "{}").unwrap();
        assert!(install_needed(d));
        std::fs::create_dir(d.join("node_modules")).unwrap();
        let record = d.join("node_modules/.package-lock.json");
        std::fs::write(&record, "{}").unwrap();
        let set = |p: &Path, secs: u64| {
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        set(&d.join("package-lock.json"), 2_000_000_000);
        set(&record, 1_000_000_000);
        assert!(install_needed(d));
        set(&record, 2_000_000_001);
        assert!(!install_needed(d));
    }
}
