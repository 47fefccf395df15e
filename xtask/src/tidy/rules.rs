//! The checks on Rust source: which crates each part of `host/src` may name (ARCHITECTURE.md's
//! invariants), process calls outside `process`, `#[ignore]`, and sleeps in test code. Each takes one
//! file (its repository-relative path and its [`Source`]) and returns `(line, message)` pairs; which
//! files a rule applies to is decided in `tidy/mod.rs`.

use super::lex::Source;

/// A crate that only some of `host/src` may name, and the invariant that says so.
pub struct Confined {
    pub crates: &'static [&'static str],
    /// Path prefixes (repository-relative) allowed to use it.
    pub allowed: &'static [&'static str],
    pub invariant: &'static str,
}

pub const CONFINED: &[Confined] = &[
    Confined {
        crates: &["sqlx"],
        allowed: &["host/src/store/"],
        invariant: "only `store` speaks SQL",
    },
    Confined {
        crates: &["wasmtime", "wasmtime_wasi"],
        allowed: &["host/src/plugins/"],
        invariant: "only `plugins` touches wasmtime",
    },
    Confined {
        crates: &["axum"],
        allowed: &["host/src/api/", "host/src/daemon.rs"],
        invariant: "only `api` knows HTTP as a server (and the daemon's boot, which serves it)",
    },
];

/// Uses of `rule`'s crates in a file outside its allowed places.
pub fn confined_crate(path: &str, src: &Source, rule: &Confined) -> Vec<(usize, String)> {
    if rule.allowed.iter().any(|a| path.starts_with(a)) {
        return Vec::new();
    }
    src.idents()
        .into_iter()
        .filter(|(pos, tok)| {
            rule.crates.contains(tok) && !src.after_dot(*pos) && src.path_root(*pos).is_none()
        })
        .map(|(pos, tok)| {
            (
                src.line(pos),
                format!(
                    "`{tok}` used outside {}: {}",
                    rule.allowed.join(", "),
                    rule.invariant
                ),
            )
        })
        .collect()
}

/// `libc`/`nix` functions that start, wait for or signal processes, or change their sessions.
pub const PROCESS_CALLS: &[&str] = &[
    "fork",
    "vfork",
    "execv",
    "execve",
    "execvp",
    "execvpe",
    "fexecve",
    "kill",
    "killpg",
    "tgkill",
    "waitpid",
    "wait4",
    "waitid",
    "setsid",
    "setpgid",
    "setpgrp",
    "posix_spawn",
    "posix_spawnp",
    "pidfd_open",
    "pidfd_send_signal",
];

const PROCESS_CRATES: &[&str] = &["libc", "nix"];

/// `libc`/`nix` process calls in a file outside `process`: paths such as `libc::kill` or
/// `signal::kill` (after `use nix::sys::signal`), and `use nix::...::{kill, ...}` or glob imports
/// that would make the calls unqualified.
pub fn process_calls(src: &Source) -> Vec<(usize, String)> {
    let why = "only `process` spawns, waits or signals";
    let mut out = Vec::new();
    let idents = src.idents();
    // Names imported from libc/nix (modules such as `signal`, `wait`, `unistd`) and where `use`s are.
    let mut imported: Vec<&str> = Vec::new();
    let mut in_use: Vec<(usize, usize)> = Vec::new();
    for (i, (pos, tok)) in idents.iter().enumerate() {
        if *tok != "use" || src.after_dot(*pos) {
            continue;
        }
        let end = src.code[*pos..]
            .find(';')
            .map_or(src.code.len(), |e| pos + e);
        let root = idents[i + 1..]
            .iter()
            .find(|(p, _)| *p < end)
            .map(|(_, t)| *t);
        if !root.is_some_and(|r| PROCESS_CRATES.contains(&r)) {
            continue;
        }
        in_use.push((*pos, end));
        for (p, t) in idents[i + 1..].iter().take_while(|(p, _)| *p < end) {
            if PROCESS_CALLS.contains(t) {
                out.push((src.line(*p), format!("imports `{t}` from libc/nix: {why}")));
            }
            imported.push(t);
        }
        if src.code[*pos..end].contains('*') {
            out.push((
                src.line(*pos),
                format!("glob import from libc/nix hides process calls: {why}"),
            ));
        }
    }
    for (pos, tok) in &idents {
        if !PROCESS_CALLS.contains(tok) || in_use.iter().any(|(s, e)| s <= pos && pos < e) {
            continue;
        }
        let Some(root) = src.path_root(*pos) else {
            continue;
        };
        if PROCESS_CRATES.contains(&root) || imported.contains(&root) {
            out.push((src.line(*pos), format!("calls `{tok}` of `{root}`: {why}")));
        }
    }
    out.sort();
    out
}

/// `std::process::Command` / `tokio::process::Command` (which spawn and wait for children themselves)
/// in daemon code outside `process`: the daemon's reaper would steal their exit statuses. The CLI runs
/// in a process of its own (`$EDITOR` for `tend edit`) and may use them.
pub fn command_spawns(src: &Source) -> Vec<(usize, String)> {
    let why =
        "only `process` spawns, waits or signals (the daemon reaps every child with wait4(-1))";
    let idents = src.idents();
    let mut out = Vec::new();
    let mut use_end = 0;
    for (i, (pos, tok)) in idents.iter().enumerate() {
        if *pos < use_end {
            continue;
        }
        if *tok == "use" && !src.after_dot(*pos) {
            let end = src.code[*pos..]
                .find(';')
                .map_or(src.code.len(), |e| pos + e);
            use_end = end;
            let in_use: Vec<&str> = idents[i + 1..]
                .iter()
                .take_while(|(p, _)| *p < end)
                .map(|(_, t)| *t)
                .collect();
            let rooted = matches!(in_use.first(), Some(&"std" | &"tokio"));
            if rooted && in_use.contains(&"process") && in_use.contains(&"Command") {
                out.push((
                    src.line(*pos),
                    format!("imports a process `Command`: {why}"),
                ));
            }
            continue;
        }
        if *tok == "Command"
            && src.code[..*pos].trim_end().ends_with("process::")
            && matches!(src.path_root(*pos), Some("std" | "tokio"))
        {
            out.push((src.line(*pos), format!("uses `process::Command`: {why}")));
        }
    }
    out.sort();
    out
}

/// `#[ignore]` attributes (the marker of a test that does not run).
pub fn ignore_attrs(src: &Source) -> Vec<(usize, String)> {
    src.idents()
        .into_iter()
        .filter(|(pos, tok)| {
            *tok == "ignore" && {
                let before = src.code[..*pos].trim_end();
                before.ends_with('[') && before[..before.len() - 1].trim_end().ends_with('#')
            }
        })
        .map(|(pos, _)| {
            (
                src.line(pos),
                "`#[ignore]`: a test that does not run checks nothing; fix it or delete it".into(),
            )
        })
        .collect()
}

/// The marker that allows one sleep in test code; a reason must follow it.
pub const SLEEP_MARKER: &str = "tidy:allow-sleep";

/// Calls of `sleep`/`sleep_until` (`thread::sleep`, `tokio::time::sleep`, an imported `sleep`) in
/// the given byte ranges of a file, unless the line carries `tidy:allow-sleep: <why>`.
pub fn sleeps(src: &Source, ranges: &[(usize, usize)]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (pos, tok) in src.idents() {
        if !matches!(tok, "sleep" | "sleep_until" | "sleep_ms")
            || !ranges.iter().any(|(s, e)| *s <= pos && pos < *e)
            || src.after_dot(pos)
            || src.prev_ident(pos) == Some("fn")
            || src.next_char(pos + tok.len()) != Some('(')
        {
            continue;
        }
        let line = src.line(pos);
        let comments = src.comments_at(line);
        let reason = comments
            .split_once(SLEEP_MARKER)
            .map(|(_, after)| after.trim_start_matches(':').trim());
        match reason {
            Some(why) if why.len() >= 8 => {}
            Some(_) => out.push((
                line,
                format!("`{SLEEP_MARKER}` needs a reason after it (`// {SLEEP_MARKER}: why`)"),
            )),
            None => out.push((
                line,
                format!(
                    "`{tok}` in test code: wait for the condition instead (tests/src/wait.rs), or \
                     mark a sleep that is the behaviour under test with `// {SLEEP_MARKER}: why`"
                ),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(found: Vec<(usize, String)>) -> Vec<usize> {
        found.into_iter().map(|(l, _)| l).collect()
    }

    #[test]
    fn confined_crates_are_found_as_paths_not_in_text() {
        let src = Source::new(
            "use sqlx::Row;\n\
             // sqlx in a comment\n\
             let q = \"sqlx::query\";\n\
             sqlx::query(\"x\");\n\
             let n = conf.sqlx; crate::x::sqlx::y();\n\
             #[derive(sqlx::FromRow)] struct R;\n",
        );
        let sql = &CONFINED[0];
        assert_eq!(
            lines(confined_crate("host/src/api/x.rs", &src, sql)),
            [1, 4, 6]
        );
        assert!(confined_crate("host/src/store/x.rs", &src, sql).is_empty());
        let axum = &CONFINED[2];
        let boot = Source::new("use axum::Router;");
        assert!(confined_crate("host/src/daemon.rs", &boot, axum).is_empty());
        assert_eq!(lines(confined_crate("host/src/cli/x.rs", &boot, axum)), [1]);
        let wasm = Source::new("fn f(e: &wasmtime_wasi::Ctx) {}");
        assert_eq!(
            lines(confined_crate("host/src/caddy/mod.rs", &wasm, &CONFINED[1])),
            [1]
        );
    }

    #[test]
    fn process_calls_are_found_through_paths_and_imports() {
        let src = Source::new(
            "use nix::sys::signal::{self, Signal};\n\
             use nix::unistd::{\n    setsid,\n    Pid,\n};\n\
             signal::kill(pid, Signal::SIGTERM);\n\
             unsafe { libc::kill(1, 9) };\n\
             tokio::spawn(x); child.kill(); Effect::Kill; self.kill();\n\
             let s: Signal = Signal::SIGKILL; // libc::kill in a comment\n\
             use libc::*;\n",
        );
        assert_eq!(lines(process_calls(&src)), [3, 6, 7, 10]);
        let harmless =
            Source::new("use nix::sys::signal::Signal;\nuse nix::fcntl::Flock;\nfn kill() {}\n");
        assert!(process_calls(&harmless).is_empty());
    }

    #[test]
    fn process_commands_are_found_through_paths_and_imports() {
        let src = Source::new(
            "use std::process::{Command, Stdio};\n\
             use tokio::process::Command as Cmd;\n\
             let c = std::process::Command::new(\"sh\");\n\
             let d = crate::process::Command::new(); let e = Command::new();\n\
             use std::process::ExitStatus;\n",
        );
        assert_eq!(lines(command_spawns(&src)), [1, 2, 3]);
    }

    #[test]
    fn ignore_attributes_are_found_in_code_only() {
        let src = Source::new(
            "#[test]\n#[ignore]\nfn a() {}\n# [ ignore = \"slow\" ]\nfn b() {}\nlet s = \"#[ignore]\";\nfn ignore() {}\n",
        );
        assert_eq!(lines(ignore_attrs(&src)), [2, 4]);
    }

    #[test]
    fn sleeps_need_a_marker_with_a_reason() {
        let text = "fn helper() { std::thread::sleep(d); }\n\
             #[cfg(test)]\n\
             mod tests {\n\
             fn a() { std::thread::sleep(d); }\n\
             async fn b() { tokio::time::sleep(d).await; }\n\
             fn c() { sleep(d); } // tidy:allow-sleep: the server under test answers late on purpose\n\
             fn d() { sleep(d); } // tidy:allow-sleep\n\
             // tidy:allow-sleep: poll interval of a deadline loop\n\
             fn e() { sleep_until(t); }\n\
             fn sleep(d: u64) {}\n\
             fn f() { run(\"sleep 1\"); let sleeper = sleeper(); x.sleep(); }\n\
             }\n";
        let src = Source::new(text);
        let ranges = src.cfg_test_ranges();
        let found = sleeps(&src, &ranges);
        assert_eq!(lines(found.clone()), [4, 5, 7]);
        assert!(found[2].1.contains("needs a reason"), "{found:?}");
        assert_eq!(lines(sleeps(&src, &[(0, text.len())])), [1, 4, 5, 7]);
    }
}
