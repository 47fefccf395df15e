//! `cargo xtask test`: the whole suite, in the order CI runs it, in two lanes (see `Lanes`). Each step
//! is one command; the first failure stops the run. New steps go into `lanes()`: compiling and testing
//! in the main lane, installs in the side lane. The
//! frontend's steps need Node.js 18+ and npm (`frontend install` says so when they are missing); the
//! LLM server's and the tools' venvs need Python 3.10+ with venv (`llm-venv` says so, or installs it on
//! Debian as root); `install promtool` needs root or an installed Debian `prometheus`.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::{cargo, frontend, llm, run_checked, show, tools};

struct Step {
    name: &'static str,
    command: Command,
    /// A step of the other lane that must have finished before this one starts.
    after: Option<&'static str>,
}

fn step(name: &'static str, command: Command) -> Step {
    Step {
        name,
        command,
        after: None,
    }
}

impl Step {
    fn after(mut self, other: &'static str) -> Step {
        self.after = Some(other);
        self
    }
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

/// The run in two lanes. The main lane compiles and tests, in this thread, with its output inline.
/// The side lane installs and checks what the tests need (the dashboard, Python venvs, Debian
/// packages) in a second thread while the main lane compiles: it is mostly downloads and disk, so it
/// costs the compiler little. Its output goes to a file per step (printed when a step fails).
struct Lanes {
    main: Vec<Step>,
    side: Vec<Step>,
}

fn lanes() -> Lanes {
    let main = vec![
        // Grep-level invariants first: they fail in well under a second.
        step("tidy", xtask_with(&["tidy"])),
        // `tend` embeds the built-in plugins, and the tests load the fixtures. On a machine without
        // a wasm target this installs Debian's Rust for WebAssembly with apt: the side lane's apt
        // steps wait for it (dpkg has one lock).
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
        // The black-box suite in tests/ drives target/debug/tend, which `cargo test` alone does not
        // build. This builds it together with every test target, for the whole workspace at once:
        // `--package tend` alone would resolve other features for shared dependencies (no `blocking`
        // in reqwest, fewer in wasmparser and semver: what xtask and tests/ ask for), so `cargo test
        // --workspace` would compile wasmtime and much else a second time. With these targets the
        // features are the test step's, and that step compiles nothing (`--all-targets` would also
        // build the libraries in bench mode, a second compile of each crate). Clippy runs inside
        // this build (`linted`), not as a `cargo clippy` of its own that would compile every crate a
        // second time in check mode. `tend` embeds frontend/dist as it is when it is compiled.
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
        )
        .after("frontend build"),
        // A daemon from target/debug/tend then never compiles the built-ins (the black-box suite
        // starts hundreds, each on a fresh data dir); `aot::` checks that this step ran.
        step("precompile built-ins", xtask_with(&["precompile"])),
        // Everything the side lane installs (Caddy for the reverse-proxy tests, the LLM server, the
        // API tools, promtool, chromium) is there before the tests start.
        step("tests", tests()).after(SIDE_LAST),
        // The dashboard in a real browser (Debian's chromium, never a downloaded one) against
        // target/debug/tend.
        step("dashboard e2e", dashboard_e2e()),
    ];
    let side = vec![
        // The dashboard, before `build`: `tend` embeds frontend/dist.
        step("frontend install", xtask_with(&["frontend", "install"])),
        step("frontend check", frontend::npm(&["run", "check"])),
        step("frontend unit tests", frontend::npm(&["test"])),
        step("frontend build", frontend::npm(&["run", "build"])),
        // The LLM tests run llama.cpp's server with a small model, all from PyPI (tests/llm/). A
        // machine without Python's venv gets it from apt: after the main lane's apt use.
        step("install llm server", xtask_with(&["llm-venv"])).after("build plugins"),
        // The API contract is checked by tools nobody here wrote: openapi-spec-validator and
        // schemathesis from PyPI (tests/tools/), promtool from Debian's `prometheus`.
        step("install tools", xtask_with(&["tools-venv"])),
        step("install promtool", install_promtool()),
        // The Caddy integration tests run a real Caddy (their own instance, on loopback ports).
        step("install caddy", install_caddy()),
        step("install chromium", install_chromium()),
    ];
    Lanes { main, side }
}

/// The side lane's last step: the tests wait for it.
const SIDE_LAST: &str = "install chromium";

/// Steps finished so far in either lane, and whether a lane failed.
#[derive(Default)]
struct Progress {
    state: Mutex<ProgressState>,
    changed: Condvar,
}

#[derive(Default)]
struct ProgressState {
    done: HashSet<&'static str>,
    failed: bool,
}

impl Progress {
    fn state(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finished(&self, name: &'static str) {
        self.state().done.insert(name);
        self.changed.notify_all();
    }

    fn fail(&self) {
        self.state().failed = true;
        self.changed.notify_all();
    }

    fn failed(&self) -> bool {
        self.state().failed
    }

    /// Waits until `name` has finished; false when a lane failed first.
    fn wait_for(&self, name: &'static str) -> bool {
        let mut st = self.state();
        loop {
            if st.done.contains(name) {
                return true;
            }
            if st.failed {
                return false;
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Runs one lane's steps in order. `log_dir`: where each step's output goes (the side lane), or
/// `None` for inherited output. Ok(false): stopped because the other lane failed.
fn run_lane(
    lane: &str,
    steps: &mut [Step],
    progress: &Progress,
    log_dir: Option<&Path>,
) -> anyhow::Result<bool> {
    let total = steps.len();
    for (i, step) in steps.iter_mut().enumerate() {
        let other_ok = step.after.is_none_or(|other| progress.wait_for(other));
        if !other_ok || progress.failed() {
            println!(
                "==> {lane} lane stopped before `{}`: the other lane failed",
                step.name
            );
            return Ok(false);
        }
        let log = match log_dir {
            Some(dir) => {
                let path = dir.join(format!("{:02}-{}.log", i + 1, step.name.replace(' ', "-")));
                let file = File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                step.command.stdout(file.try_clone()?).stderr(file);
                Some(path)
            }
            None => None,
        };
        println!(
            "==> [{lane} {}/{total}] {}: {}",
            i + 1,
            step.name,
            show(&step.command)
        );
        let t = Instant::now();
        if let Err(e) = run_checked(&mut step.command) {
            progress.fail();
            if let Some(log) = &log {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                println!(
                    "==> output of `{}` ({}):\n{output}",
                    step.name,
                    log.display()
                );
            }
            bail!(
                "{lane} step {}/{total} `{}` failed: {e:#}",
                i + 1,
                step.name
            );
        }
        progress.finished(step.name);
        println!(
            "==> [{lane} {}/{total}] {} ok ({:.1} s){}",
            i + 1,
            step.name,
            t.elapsed().as_secs_f64(),
            log.map(|l| format!(", output in {}", l.display()))
                .unwrap_or_default()
        );
    }
    Ok(true)
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
    let Lanes { mut main, mut side } = lanes();
    let total = main.len() + side.len();
    let log_dir = crate::target_dir().join("xtask-test");
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    let progress = Progress::default();
    let started = Instant::now();
    let (main_result, side_result) = std::thread::scope(|s| {
        let side = s.spawn(|| run_lane("side", &mut side, &progress, Some(&log_dir)));
        let main = run_lane("main", &mut main, &progress, None);
        if main.is_err() {
            progress.fail();
        }
        let side = side
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the side lane panicked")));
        (main, side)
    });
    match (main_result, side_result) {
        (Err(main), Err(side)) => bail!("{main:#}\nand in the side lane: {side:#}"),
        (Err(e), _) | (_, Err(e)) => return Err(e),
        _ => {}
    }
    println!(
        "==> all {total} steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    /// Runs two lanes as `main` does and returns both results.
    fn run(
        mut main: Vec<Step>,
        mut side: Vec<Step>,
        dir: &Path,
    ) -> (anyhow::Result<bool>, anyhow::Result<bool>) {
        let progress = Progress::default();
        std::thread::scope(|s| {
            let side = s.spawn(|| run_lane("side", &mut side, &progress, Some(dir)));
            let main = run_lane("main", &mut main, &progress, None);
            if main.is_err() {
                progress.fail();
            }
            (main, side.join().unwrap())
        })
    }

    #[test]
    fn a_step_waits_for_the_step_of_the_other_lane_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let order = dir.path().join("order");
        let o = order.display();
        // Without the waits the lanes would interleave in any order.
        let main = vec![
            step("first", sh(&format!("echo first >> {o}"))),
            step("third", sh(&format!("echo third >> {o}"))).after("second"),
        ];
        let side = vec![step("second", sh(&format!("echo second >> {o}"))).after("first")];
        let (m, s) = run(main, side, dir.path());
        assert!(m.unwrap() && s.unwrap());
        assert_eq!(
            std::fs::read_to_string(&order).unwrap(),
            "first\nsecond\nthird\n"
        );
    }

    #[test]
    fn a_failing_side_step_stops_the_main_lane_and_its_output_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let main = vec![step("tests", sh("exit 0")).after("install")];
        let side = vec![step("install", sh("echo no room on the disk; exit 3"))];
        let (m, s) = run(main, side, dir.path());
        assert!(!m.unwrap(), "the main lane stops without running its step");
        let err = format!("{:#}", s.unwrap_err());
        assert!(err.contains("`install` failed"), "{err}");
        let log = std::fs::read_to_string(dir.path().join("01-install.log")).unwrap();
        assert_eq!(log, "no room on the disk\n");
    }

    #[test]
    fn a_failing_main_step_stops_the_side_lane() {
        let dir = tempfile::tempdir().unwrap();
        let main = vec![step("build", sh("exit 1"))];
        let side = vec![step("install", sh("exit 0")).after("build")];
        let (m, s) = run(main, side, dir.path());
        assert!(format!("{:#}", m.unwrap_err()).contains("`build` failed"));
        assert!(!s.unwrap(), "the side lane stops without running its step");
        assert!(!dir.path().join("01-install.log").exists());
    }
}
