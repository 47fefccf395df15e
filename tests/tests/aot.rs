//! Built-in plugins precompiled into the `tend` executable (`cargo xtask precompile`, run by
//! `cargo xtask test` after its build): a daemon on a fresh data dir takes their code from the
//! executable instead of compiling it; an executable without that payload, or with one made for
//! another engine, still loads every built-in (compiled in a child process); user plugins compile
//! in a child, and a child that crashes rejects the plugin with the reason.
//!
//! These tests assume target/debug/tend carries the payload, as `cargo xtask test` leaves it.

use std::path::{Path, PathBuf};

use tend_tests::{Daemon, Value, tend_bin, tend_cmd_at};

const RUN_PRECOMPILE: &str = "target/debug/tend carries no precompiled built-ins: run `cargo xtask test` \
     (or `cargo xtask precompile` after `cargo build -p tend`)";

fn plugins(d: &Daemon) -> Vec<Value> {
    let (code, body) = d.get("/api/plugins");
    assert_eq!(code, 200, "{body}");
    body.as_array().cloned().expect("a list")
}

fn builtins(d: &Daemon) -> Vec<Value> {
    let all: Vec<Value> = plugins(d)
        .into_iter()
        .filter(|p| p["source"] == "builtin")
        .collect();
    assert!(all.len() >= 8, "the built-ins are listed: {all:#?}");
    all
}

fn assert_all(d: &Daemon, code: &str, why: &str) {
    for p in builtins(d) {
        assert_eq!(p["state"], "loaded", "{why}: {p:#}");
        assert_eq!(p["code"], code, "{why}: {p:#}");
    }
}

/// A copy of the tested executable in `dir`, changed by `edit` (run with the original's tools).
fn copy_of_tend(dir: &Path) -> PathBuf {
    let copy = dir.join("tend");
    std::fs::copy(tend_bin(), &copy).expect("copy tend");
    copy
}

fn remove_payload(copy: &Path) {
    let out = tend_cmd_at(&tend_bin())
        .args(["__precompile-builtins", "--remove", "--into"])
        .arg(copy)
        .output()
        .expect("run tend __precompile-builtins --remove");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn builtins_are_precompiled_on_a_fresh_data_dir_then_come_from_the_cache() {
    let mut d = Daemon::start();
    assert_all(&d, "precompiled", RUN_PRECOMPILE);
    d.restart();
    assert_all(
        &d,
        "cache",
        "a second start maps the cache files the first one seeded",
    );
}

#[test]
fn an_executable_without_precompiled_code_compiles_the_builtins_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of_tend(dir.path());
    remove_payload(&copy);
    let len = std::fs::metadata(&copy).unwrap().len();
    assert!(
        len < std::fs::metadata(tend_bin()).unwrap().len(),
        "{RUN_PRECOMPILE}"
    );
    let d = Daemon::builder().bin(&copy).start();
    assert_all(&d, "compiled", "no payload: compiled in a child");
    let http = builtins(&d)
        .into_iter()
        .find(|p| p["name"] == "http")
        .expect("http");
    assert_eq!(http["from_cache"], false, "{http:#}");
}

#[test]
fn a_payload_made_for_another_engine_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let copy = copy_of_tend(dir.path());
    // The index is JSON before the 32-byte trailer; flip one hex digit of every engine key.
    let mut bytes = std::fs::read(&copy).unwrap();
    let n = bytes.len();
    assert_eq!(&bytes[n - 32..n - 24], b"TENDAOT1", "{RUN_PRECOMPILE}");
    let word = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap()) as usize;
    let (at, len) = (word(&bytes, n - 16), word(&bytes, n - 8));
    let needle = b"\"engine\":\"";
    let mut flipped = 0;
    let mut i = at;
    while i + needle.len() < at + len {
        if bytes[i..].starts_with(needle) {
            let digit = &mut bytes[i + needle.len()];
            *digit = if *digit == b'0' { b'1' } else { b'0' };
            flipped += 1;
        }
        i += 1;
    }
    assert!(flipped >= 8, "every entry names its engine");
    std::fs::write(&copy, &bytes).unwrap();
    let d = Daemon::builder().bin(&copy).start();
    assert_all(&d, "compiled", "a payload for another engine is not used");
    let log = d.stderr();
    assert!(
        log.contains("ignoring precompiled built-ins made for another engine configuration"),
        "{log}"
    );
}

#[test]
fn a_user_plugin_compiles_in_a_child_and_is_used() {
    let d = Daemon::builder().plugin("trivial", "mine").start();
    let mine = d.plugin("mine");
    assert_eq!(mine["state"], "loaded", "{mine:#}");
    assert_eq!(mine["code"], "compiled", "{mine:#}");
    assert_all(&d, "precompiled", RUN_PRECOMPILE);
}

#[test]
fn a_compile_child_that_crashes_rejects_the_plugin_with_the_reason() {
    let d = Daemon::builder()
        .plugin("trivial", "mine")
        .env("TEND_TEST_ABORT_COMPILE", "1")
        .start();
    let mine = d.plugin("mine");
    assert_eq!(mine["state"], "rejected", "{mine:#}");
    let reason = mine["rejected"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the compiler process killed by SIGABRT"),
        "{mine:#}"
    );
    // The built-ins never needed the compiler.
    assert_all(&d, "precompiled", RUN_PRECOMPILE);
}
