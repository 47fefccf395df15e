//! `cargo xtask tools-venv`: the Python tools the black-box tests run against a live daemon
//! (tests/tools/requirements.txt: today `openapi-spec-validator`, `schemathesis` and
//! `kubernetes-validate`) installed into a venv under the target dir, created when missing and
//! recreated from scratch when the requirements changed (a copy of the file it was installed from is
//! the stamp), `pip install --no-deps --require-hashes` so only the pinned wheels are ever installed.
//! `cargo xtask test` runs it before the tests and hands them the venv's `bin` dir in
//! `TEND_TOOLS_BIN`.
//!
//! `cargo xtask schemathesis [--examples N]`: the full fuzzing profile, the black-box test
//! `openapi_fuzz::` with N examples per operation (default 100), printing operations, requests and
//! failures.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::{cargo, root, run_checked, target_dir};

/// Env var that tells the tests where the tools' executables are (the tests fall back to
/// `target/tools-venv/bin`).
pub const BIN_VAR: &str = "TEND_TOOLS_BIN";

/// Examples per operation of `cargo xtask schemathesis` without `--examples`.
const FULL_EXAMPLES: u32 = 100;

fn venv() -> PathBuf {
    target_dir().join("tools-venv")
}

/// The venv's `bin` dir: `openapi-spec-validator`, `schemathesis` once `main` succeeded.
pub fn bin() -> PathBuf {
    venv().join("bin")
}

fn requirements() -> PathBuf {
    root().join("tests").join("tools").join("requirements.txt")
}

/// `cargo xtask tools-venv`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`tools-venv` takes no arguments, got {arg:?}");
    }
    ensure()
}

fn ensure() -> anyhow::Result<()> {
    if crate::venv::ensure(&venv(), &requirements(), "the tests' Python tools")? {
        println!("tools venv installed: {}", venv().display());
    } else {
        println!("tools venv up to date: {}", venv().display());
    }
    Ok(())
}

/// `cargo xtask schemathesis [--examples N]`.
pub fn schemathesis(args: &[String]) -> anyhow::Result<()> {
    let examples = match args {
        [] => FULL_EXAMPLES,
        [flag, n] if flag == "--examples" => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("--examples takes a whole number above 0, got {n:?}"))?,
        _ => bail!("usage: cargo xtask schemathesis [--examples N], got {args:?}"),
    };
    ensure()?;
    run_checked(cargo().args(["build", "--package", "tend", "--bin", "tend"]))?;
    crate::precompile::precompile(&crate::target_dir().join("debug").join("tend"))?;
    let mut test = cargo();
    test.args([
        "test",
        "--package",
        "tend-tests",
        "--",
        "openapi_fuzz::",
        "--nocapture",
    ])
    .env(BIN_VAR, bin())
    .env("TEND_FUZZ_EXAMPLES", examples.to_string());
    run_checked(&mut test)
}
