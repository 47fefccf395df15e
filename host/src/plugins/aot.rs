//! The hidden commands that keep Cranelift out of the daemon: `tend __precompile-builtins`
//! (compile every embedded built-in with the daemon's default engine and append the code to a
//! `tend` executable, see `payload`) and `tend __compile-plugin` (one component, in the short-lived
//! child the daemon spawns, see `cache::Compiler::Child`). Neither starts a daemon nor touches a
//! data dir.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Context;
use wasmtime::component::Component;

use super::builtin::BUILTINS;
use super::cache::{COMPILE_REFUSED, engine_key, sha256_hex, write_new};
use super::settings::PluginSettings;
use super::{engine, payload};

/// `tend __precompile-builtins --into PATH`: replaces the payload of the `tend` executable at
/// `into`, which must be this same build (its bytes without payload equal ours) but not the
/// running file (a running executable cannot be opened for writing): run a copy. Returns the
/// number of built-ins written.
pub fn precompile_builtins(into: &Path) -> anyhow::Result<usize> {
    let me = File::open("/proc/self/exe").context("cannot open our own executable")?;
    let target = File::open(into).with_context(|| format!("cannot open {}", into.display()))?;
    let (m, t) = (me.metadata()?, target.metadata()?);
    anyhow::ensure!(
        (m.dev(), m.ino()) != (t.dev(), t.ino()),
        "{} is the running executable, which cannot be written: copy it elsewhere and run the copy \
         with --into {}",
        into.display(),
        into.display()
    );
    anyhow::ensure!(
        same_build(&me, &target)?,
        "{} is another build of tend than this one: its built-ins may differ",
        into.display()
    );
    let engine = engine::new_engine(PluginSettings::default().max_memory_mb)?;
    let key = engine_key(&engine);
    let mut entries = Vec::with_capacity(BUILTINS.len());
    for b in BUILTINS {
        let component = Component::from_binary(&engine, b.wasm)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| format!("cannot compile built-in {}", b.name))?;
        let code = component
            .serialize()
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        entries.push((b.name.to_string(), sha256_hex(b.wasm), key.clone(), code));
    }
    payload::write(into, &entries).with_context(|| format!("cannot write {}", into.display()))?;
    Ok(entries.len())
}

/// `tend __precompile-builtins --remove --into PATH`: true when there was a payload.
pub fn remove_builtins(into: &Path) -> anyhow::Result<bool> {
    payload::remove(into)
        .with_context(|| format!("cannot remove the payload of {}", into.display()))
}

/// Whether both executables are equal without their payloads (compared in pieces).
fn same_build(a: &File, b: &File) -> anyhow::Result<bool> {
    let len = payload::original_len(a)?;
    if payload::original_len(b)? != len {
        return Ok(false);
    }
    let (mut a, mut b) = (a.take(len), b.take(len));
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x)?;
        if n != read_full(&mut b, &mut y)? || x[..n] != y[..n] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `tend __compile-plugin --max-memory-mb N IN OUT`: compiles the component in `input` with the
/// daemon's engine settings and writes its serialized code to `output` (created 0600, must not
/// exist). Exit code `COMPILE_REFUSED` with the reason on stderr when it is not a valid component.
pub fn compile_plugin(input: &Path, output: &Path, max_memory_mb: u64) -> std::process::ExitCode {
    // The test seam for "a compile child that crashes": the black-box suite sets it on a daemon.
    if std::env::var_os("TEND_TEST_ABORT_COMPILE").is_some() {
        std::process::abort();
    }
    let run = || -> Result<(), (i32, String)> {
        let fail = |e: &dyn std::fmt::Display| (1, e.to_string());
        let wasm = std::fs::read(input).map_err(|e| fail(&e))?;
        let engine = engine::new_engine(max_memory_mb).map_err(|e| fail(&e))?;
        let component = Component::from_binary(&engine, &wasm).map_err(|e| {
            let msg = format!("{e:#}");
            (
                COMPILE_REFUSED,
                msg.lines().next().unwrap_or("").to_string(),
            )
        })?;
        let code = component.serialize().map_err(|e| fail(&e))?;
        write_new(output, &code).map_err(|e| fail(&e))
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("{msg}");
            std::process::ExitCode::from(code as u8)
        }
    }
}
