//! The pinned Python venvs under the target dir: the LLM server's (`llm.rs`), the tests' tools
//! (`tools.rs`) and componentize-py's (`plugins/python.rs`). Each is created when missing and
//! recreated from scratch when its requirements file changed (a copy of the file it was installed
//! from, inside the venv, is the stamp); `pip install --no-deps --require-hashes`, so only the pinned
//! wheels with those hashes are ever installed.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{run_checked, show};

/// The venv at `dir` holds exactly what `requirements` pins. Returns whether it was (re)installed.
/// `purpose` (who needs it) goes into the error when Python's venv module is missing.
pub fn ensure(dir: &Path, requirements: &Path, purpose: &str) -> anyhow::Result<bool> {
    let wanted = std::fs::read(requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let python = dir.join("bin").join("python");
    let stamp = dir.join("requirements.txt");
    if python.is_file() && std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return Ok(false);
    }
    // From scratch: a venv left by other requirements may hold packages these no longer name.
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot remove the old {}", dir.display()))?;
    }
    create(dir, purpose)?;
    let mut pip = Command::new(&python);
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
    .arg(requirements);
    run_checked(&mut pip)?;
    // Written last: an interrupted install leaves no stamp, so the next run starts over.
    std::fs::write(&stamp, &wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(true)
}

/// `python3 -m venv <dir>`; on Debian without `python3-venv` (ensurepip missing), installs that
/// package when running as root, as the test command does for caddy and chromium.
fn create(dir: &Path, purpose: &str) -> anyhow::Result<()> {
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
