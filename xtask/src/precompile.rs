//! `cargo xtask precompile [PATH]`: appends the built-in plugins' compiled code to a `tend`
//! executable (default `target/debug/tend`), so a daemon started from it never compiles them.
//! Run after every build of `tend` that xtask does (`test`, `run`, the benches' release build). A
//! running executable cannot be written, so a copy in a temp dir runs
//! `tend __precompile-builtins --into PATH`, which writes PATH in place (cargo hard-links
//! `target/*/tend` to its `deps/` copy; a new file would be lost at cargo's next uplift).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::run_checked;

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let path = match args {
        [] => crate::target_dir().join("debug").join("tend"),
        [p] => PathBuf::from(p),
        _ => anyhow::bail!("usage: cargo xtask precompile [PATH of a tend executable]"),
    };
    precompile(&path)
}

pub fn precompile(tend: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot make a temp dir")?;
    let copy = dir.path().join("tend");
    std::fs::copy(tend, &copy)
        .with_context(|| format!("cannot copy {} to {}", tend.display(), copy.display()))?;
    run_checked(
        Command::new(&copy)
            .arg("__precompile-builtins")
            .arg("--into")
            .arg(tend),
    )
}
