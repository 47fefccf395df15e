//! Argv shapes of version control and build tools (`git`, `make`, `npm`/`yarn`/`pnpm`, `cargo`,
//! `go`): the options that make them run code given in the command, read build code or config from
//! elsewhere, write outside the working dir, or fetch from a URL are denied with their names. The
//! rest of `shape` for the other programs; membership is `allow`.

use super::Cmd;
use super::opts::{self, parse};
use super::shape::{refuse, value_spec};
use crate::analyse::{Analyser, Frame};
use crate::expand::Field;
use crate::paths;

/// A file the program reads as code (a Makefile, a Rakefile): inside the project only.
pub(super) fn project_file(an: &mut Analyser, frame: &Frame, f: &Field, how: &str) {
    match f.value().and_then(|v| frame.resolve(v)) {
        Some(p) => an.run_project_file(&p, how),
        None => an.deny(format!(
            "`{how}` reads `{}`, which cannot be resolved",
            f.text
        )),
    }
}

pub(super) fn git(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let args = c.args();
    let mut i = 0;
    // Global options before the subcommand.
    while let Some(a) = args.get(i) {
        let Some(v) = a.value() else {
            an.deny(format!(
                "`{}` has an unresolved argument before its subcommand",
                c.shown()
            ));
            return;
        };
        if !v.starts_with('-') {
            break;
        }
        match v {
            "-C" => {
                if let Some(d) = args.get(i + 1) {
                    project_dir(an, frame, d, "git -C");
                }
                i += 2;
            }
            "--no-pager"
            | "--bare"
            | "--no-replace-objects"
            | "-P"
            | "--paginate"
            | "--literal-pathspecs" => i += 1,
            _ => {
                an.deny(format!("`{}`: the git option `{v}` is refused (-c, --config-env, --exec-path, --git-dir, ... change what git runs)", c.shown()));
                return;
            }
        }
    }
    const SUB: &[&str] = &[
        "pull",
        "fetch",
        "checkout",
        "switch",
        "status",
        "log",
        "diff",
        "show",
        "rev-parse",
        "describe",
        "submodule",
        "reset",
        "clean",
        "stash",
        "tag",
        "branch",
        "merge",
        "clone",
        "lfs",
        "restore",
        "ls-files",
        "rev-list",
        "remote",
        "gc",
        "archive",
        "add",
        "commit",
        "shortlog",
        "blame",
        "grep",
        "worktree",
    ];
    let Some(sub) = args.get(i).and_then(Field::value) else {
        return;
    };
    if sub == "submodule"
        && !matches!(
            args.get(i + 1).and_then(Field::value),
            Some("update" | "init" | "sync" | "status") | None
        )
    {
        an.deny(format!(
            "`{}`: only git submodule update/init/sync/status (foreach runs commands)",
            c.shown()
        ));
        return;
    }
    if !SUB.contains(&sub) {
        an.deny(format!("`git {sub}` is not on the allow-list (git config, aliases, hooks and transports can run code)"));
        return;
    }
    let mut operand = 0;
    for a in &args[i + 1..] {
        let Some(v) = a.value() else { continue };
        let first_operand = !v.starts_with('-') && {
            operand += 1;
            operand == 1
        };
        let bad = v.starts_with("ext::")
            || v.starts_with("fd::")
            || v.contains("::") && !v.contains("://")
            || [
                "--upload-pack",
                "-u",
                "--receive-pack",
                "--config",
                "-c",
                "--template",
                "--exec",
                "--ext-diff",
                "--textconv",
                "--output",
            ]
            .iter()
            .any(|o| v == *o || v.starts_with(&format!("{o}=")))
            || (v.starts_with("--") && v.len() > 2 && {
                let name = v[2..].split('=').next().unwrap_or_default();
                [
                    "upload-pack",
                    "receive-pack",
                    "config",
                    "template",
                    "exec",
                    "ext-diff",
                    "textconv",
                    "output",
                ]
                .iter()
                .any(|o| !name.is_empty() && o.starts_with(name))
            });
        if bad {
            an.deny(format!(
                "`{}`: `{v}` can make git run code or write elsewhere; refused",
                c.shown()
            ));
            return;
        }
        if v.starts_with("-o") && sub == "archive" {
            an.deny(format!(
                "`{}`: `-o` writes a file; write `> FILE` instead",
                c.shown()
            ));
            return;
        }
        if matches!(sub, "clone" | "archive" | "worktree") && v.starts_with('/') {
            an.write_target(a, frame, &format!("git {sub}"));
        }
        if matches!(sub, "pull" | "fetch") && first_operand && is_url(v) {
            an.deny(format!(
                "`{}` fetches from a repository named in the command (`{v}`); only the project's remotes are allowed",
                c.shown()
            ));
            return;
        }
    }
    // What `git clone URL [DIR]` writes: DIR, or the URL's last component; running from it later
    // in the command is running downloaded code.
    if sub == "clone" {
        let ops: Vec<&Field> = args[i + 1..]
            .iter()
            .filter(|f| f.value().is_none_or(|v| !v.starts_with('-')))
            .collect();
        let dest = match ops.as_slice() {
            [_, dir, ..] => (*dir).clone(),
            [url] => Field::known(
                url.text
                    .trim_end_matches('/')
                    .rsplit(['/', ':'])
                    .next()
                    .unwrap_or(".")
                    .trim_end_matches(".git"),
            ),
            [] => return,
        };
        an.write_target(&dest, frame, "git clone");
    }
}

/// A repository given as a URL or a path rather than a remote's name.
pub(super) fn is_url(v: &str) -> bool {
    v.contains("://")
        || v.contains('@')
        || v.contains(':')
        || v.starts_with('/')
        || v.starts_with('.')
}

pub(super) fn project_dir(an: &mut Analyser, frame: &mut Frame, d: &Field, how: &str) {
    match d
        .value()
        .and_then(|v| frame.resolve(v))
        .map(|p| an.real_path(&p))
    {
        Some(p) => match &an.cwd {
            Some(root) if paths::within(&p, root) => {}
            _ => an.deny(format!(
                "`{how} {p}`: only directories inside the working dir are allowed"
            )),
        },
        None => an.deny(format!(
            "`{how} {}`: the directory cannot be resolved",
            d.text
        )),
    }
}

pub(super) fn make(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    // `-j$(nproc)`: an unresolved job count is only a number of jobs.
    let jobs_only: Vec<Field> = c
        .args()
        .iter()
        .filter(|f| {
            f.value().is_some() || !(f.text.starts_with("-j") || f.text.starts_with("--jobs="))
        })
        .cloned()
        .collect();
    let c = &Cmd {
        name: c.name,
        argv: &[c.argv[..1].to_vec(), jobs_only].concat(),
        stdin: c.stdin,
        env: c.env,
    };
    let o = parse(
        c.args(),
        &value_spec(
            "fCIjlEoW",
            &[
                "file",
                "makefile",
                "directory",
                "include-dir",
                "jobs",
                "load-average",
                "eval",
                "old-file",
                "assume-old",
                "what-if",
                "new-file",
                "assume-new",
            ],
        ),
    );
    refuse(an, c, &o, &["-E", "--eval"]);
    for (flag, f) in &o.values {
        match flag.as_str() {
            "-f" | "--file" | "--makefile" => {
                project_file(an, frame, &opts::value_text(flag, f), "make -f")
            }
            "-C" | "--directory" => project_dir(an, frame, &opts::value_text(flag, f), "make -C"),
            _ => {}
        }
    }
    // Targets and variables go to the project's Makefile.
    let operands: Vec<Field> = o.operands.iter().map(|f| (*f).clone()).collect();
    an.opaque_args(frame, "make", &operands, c.env);
    for f in &o.operands {
        if let Some((name, _)) = f.value().and_then(|v| v.split_once('='))
            && (crate::gate::forbidden_var(name.trim_end_matches([':', '+', '?', '!']))
                || name.starts_with('.'))
        {
            an.deny(format!(
                "`{}`: setting `{name}` changes how make runs recipes; refused",
                c.shown()
            ));
        }
    }
}

pub(super) fn node_pm(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let o = parse(
        c.args(),
        &value_spec(
            "C",
            &[
                "prefix",
                "script-shell",
                "node-options",
                "userconfig",
                "globalconfig",
                "cwd",
                "dir",
            ],
        ),
    );
    refuse(
        an,
        c,
        &o,
        &[
            "-g",
            "--global",
            "--script-shell",
            "--node-options",
            "--userconfig",
            "--globalconfig",
        ],
    );
    for (flag, f) in &o.values {
        if matches!(flag.as_str(), "--prefix" | "-C" | "--cwd" | "--dir") {
            project_dir(
                an,
                frame,
                &opts::value_text(flag, f),
                &format!("{} {flag}", c.name),
            );
        }
    }
    let sub = o.operands.first().and_then(|f| f.value());
    if matches!(
        sub,
        Some(
            "exec"
                | "x"
                | "dlx"
                | "create"
                | "init"
                | "config"
                | "set"
                | "explore"
                | "edit"
                | "link"
        )
    ) {
        an.deny(format!(
            "`{}`: {} {} runs or installs code outside the project's own scripts; refused",
            c.shown(),
            c.name,
            sub.unwrap_or_default()
        ));
    }
}

pub(super) fn cargo(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let o = parse(
        c.args(),
        &value_spec(
            "Zp",
            &[
                "config",
                "manifest-path",
                "target-dir",
                "path",
                "root",
                "package",
            ],
        ),
    );
    refuse(an, c, &o, &["-Z", "--config"]);
    for (flag, f) in &o.values {
        match flag.as_str() {
            "--manifest-path" => project_file(
                an,
                frame,
                &opts::value_text(flag, f),
                "cargo --manifest-path",
            ),
            "--target-dir" | "--root" => {
                an.write_target(&opts::value_text(flag, f), frame, &format!("cargo {flag}"))
            }
            _ => {}
        }
    }
    if o.operands.first().and_then(|f| f.value()) == Some("install") && !o.has(&["--path"]) {
        an.deny(format!("`{}`: `cargo install` of a crate from a registry runs its build code; only --path is allowed", c.shown()));
    }
}

pub(super) fn go(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    for a in c.args() {
        let Some(v) = a.value() else { continue };
        let flag = v.trim_start_matches('-');
        let name = flag.split('=').next().unwrap_or(flag);
        if v.starts_with('-') && matches!(name, "toolexec" | "exec" | "overlay" | "modfile" | "C") {
            an.deny(format!(
                "`{}`: `{v}` makes go run other programs or read elsewhere; refused",
                c.shown()
            ));
        }
        if v.starts_with('-')
            && name == "o"
            && let Some((_, p)) = flag.split_once('=')
        {
            an.write_target(&Field::known(p), frame, "go -o");
        }
    }
    let args = c.args();
    if matches!(
        args.first().and_then(Field::value),
        Some("run" | "get" | "install" | "generate")
    ) && args
        .iter()
        .any(|a| a.value().is_some_and(|v| v.contains("://")))
    {
        an.deny(format!(
            "`{}` builds or runs code from a URL; refused",
            c.shown()
        ));
    }
    if let Some(i) = args.iter().position(|a| a.value() == Some("-o"))
        && let Some(out) = args.get(i + 1)
    {
        an.write_target(out, frame, "go -o");
    }
    if args.first().and_then(Field::value) == Some("install")
        && args
            .iter()
            .any(|a| a.value().is_some_and(|v| v.contains('@')))
    {
        an.deny(format!(
            "`{}`: `go install pkg@version` builds code from elsewhere; refused",
            c.shown()
        ));
    }
}
