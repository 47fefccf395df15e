//! Programs that delete, write or format: recursive deletes (`rm -r`, `find -delete`/`-exec rm`,
//! `rsync --delete`), writes into `/etc` and onto devices (`cp`, `mv`, `tee`, `sed -i`, `dd of=`,
//! ...), world-writable recursive `chmod`, and file-system formatting (`mkfs*`).

use super::Cmd;
use super::opts::{self, Opts, Spec, parse};
use crate::analyse::{Analyser, Frame};
use crate::expand::Field;
use crate::paths;

pub fn check(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let args = c.args();
    let name = c.name;
    match name {
        "rm" => {
            let o = parse(args, &opts::NONE);
            let recursive = o.unknown || o.has(&["-r", "-R", "--recursive"]);
            for f in &o.operands {
                if recursive {
                    an.delete_target(f, frame, "rm -r");
                } else {
                    an.write_target(f, frame, "rm");
                }
            }
        }
        "find" => find(an, frame, c),
        "rsync" => {
            let o = parse(
                args,
                &Spec {
                    short_args: "efTB",
                    long_args: &[
                        "rsh",
                        "filter",
                        "exclude",
                        "include",
                        "temp-dir",
                        "partial-dir",
                        "backup-dir",
                    ],
                    stop_at_operand: false,
                },
            );
            if let Some(dest) = o.operands.last().filter(|_| o.operands.len() >= 2)
                && !is_remote(dest)
            {
                let deleting = o
                    .flags
                    .iter()
                    .chain(o.values.iter().map(|(f, _)| f))
                    .any(|f| f.starts_with("--delete") || f == "--remove-source-files");
                if deleting || o.unknown {
                    an.delete_target(dest, frame, "rsync --delete");
                }
                an.write_target(dest, frame, "rsync");
            }
        }
        "cp" | "mv" | "install" | "ln" | "link" => {
            let o = parse(
                args,
                &Spec {
                    short_args: "tSmog",
                    long_args: &["target-directory", "suffix", "mode", "owner", "group"],
                    stop_at_operand: false,
                },
            );
            if name == "install" && o.has(&["-d", "--directory"]) {
                for f in &o.operands {
                    an.write_target(f, frame, "install -d");
                }
                return;
            }
            let via = name;
            let dest = match o.value(&["-t", "--target-directory"]) {
                Some(t) => {
                    let flag = if t.text.starts_with("--") {
                        "--target-directory"
                    } else {
                        "-t"
                    };
                    Some(opts::value_text(flag, t))
                }
                None if o.operands.len() >= 2 => o.operands.last().map(|f| (*f).clone()),
                None if name == "ln" => Some(Field::known(".")),
                None => None,
            };
            if let Some(dest) = dest {
                an.write_target(&dest, frame, via);
            }
            if name == "mv" {
                let sources = o.operands.len().saturating_sub(usize::from(
                    o.value(&["-t", "--target-directory"]).is_none(),
                ));
                // Moving a directory away deletes it from where it was (`mv ~ /dev/null`).
                for f in o.operands.iter().take(sources) {
                    an.delete_target(f, frame, "mv (source)");
                    an.write_target(f, frame, "mv (source)");
                }
            }
        }
        "tee" => {
            for f in parse(args, &opts::NONE).operands {
                an.write_target(f, frame, "tee");
            }
        }
        "sed" | "gsed" => {
            let o = parse(
                args,
                &Spec {
                    short_args: "efl",
                    long_args: &["expression", "file", "line-length"],
                    stop_at_operand: false,
                },
            );
            if o.has(&["-i", "--in-place"]) {
                let script_given = o.has(&["-e", "-f", "--expression", "--file"]);
                for f in o.operands.iter().skip(usize::from(!script_given)) {
                    an.write_target(f, frame, "sed -i");
                }
            }
        }
        n if n.starts_with("perl") => {
            let o = parse(
                args,
                &Spec {
                    short_args: "eEIMm",
                    long_args: &[],
                    stop_at_operand: false,
                },
            );
            if o.has(&["-i"]) {
                let script_given = o.has(&["-e", "-E"]);
                for f in o.operands.iter().skip(usize::from(!script_given)) {
                    an.write_target(f, frame, "perl -i");
                }
            }
        }
        "truncate" | "touch" | "mkdir" | "rmdir" | "unlink" | "shred" | "mknod" | "mkfifo" => {
            let o = parse(
                args,
                &Spec {
                    short_args: "srdtmn",
                    long_args: &["size", "reference", "date", "mode", "iterations"],
                    stop_at_operand: false,
                },
            );
            for f in &o.operands {
                an.write_target(f, frame, name);
            }
        }
        "chmod" | "chown" | "chgrp" => ownership(an, frame, c),
        "dd" => {
            for f in args {
                if f.text.starts_with("of=") {
                    let target = Field {
                        text: f.text["of=".len()..].to_string(),
                        ..f.clone()
                    };
                    an.write_target(&target, frame, "dd of=");
                } else if f.value().is_none() {
                    an.deny(format!(
                        "dd with an operand that cannot be resolved (`{}`): it could be of=<device>",
                        f.text
                    ));
                }
            }
        }
        n if n.starts_with("mkfs")
            || matches!(n, "mke2fs" | "mkswap" | "wipefs" | "blkdiscard") =>
        {
            an.deny(format!(
                "formats or wipes a file system or device (`{}`)",
                c.shown()
            ));
        }
        "fdisk" | "sfdisk" | "cfdisk" | "parted" | "sgdisk" | "gdisk"
            if args.iter().any(|f| {
                f.value()
                    .is_none_or(|v| paths::is_device(&paths::normalise(v)))
            }) =>
        {
            an.deny(format!("repartitions a disk (`{}`)", c.shown()));
        }
        "tar" | "bsdtar" => tar(an, frame, args),
        "unzip" => {
            let o = parse(
                args,
                &Spec {
                    short_args: "dx",
                    long_args: &[],
                    stop_at_operand: false,
                },
            );
            match o.value(&["-d"]) {
                Some(d) => an.write_target(&opts::value_text("-d", d), frame, "unzip -d"),
                // Extracts into the current dir: what it writes cannot be listed.
                None => an.write_target(&Field::known("."), frame, "unzip"),
            }
        }
        // `gunzip x.gz` writes `x`.
        "gunzip" | "bunzip2" | "unxz" | "gzip" | "bzip2" | "xz" => {
            for f in parse(args, &opts::NONE).operands {
                an.write_target(f, frame, name);
                if let Some(v) = f.value()
                    && let Some((stem, _)) = v.rsplit_once('.')
                {
                    an.write_target(&Field::known(stem), frame, name);
                }
            }
        }
        _ => {}
    }
}

/// `host:path` / `user@host:path`: not on this machine.
fn is_remote(f: &Field) -> bool {
    f.value().is_some_and(|v| {
        let colon = v.find(':');
        let slash = v.find('/');
        matches!((colon, slash), (Some(c), Some(s)) if c < s)
            || matches!((colon, slash), (Some(_), None))
    })
}

/// `find ROOTS.. EXPR`: its roots (`.` when none is given).
fn find_roots(args: &[Field]) -> (Vec<Field>, usize) {
    let first_expr = args
        .iter()
        .position(|f| {
            f.value()
                .is_some_and(|v| v.starts_with('-') || v == "(" || v == "!" || v == ")")
        })
        .unwrap_or(args.len());
    let mut roots: Vec<Field> = args[..first_expr].to_vec();
    if roots.is_empty() {
        roots.push(Field::known("."));
    }
    (roots, first_expr)
}

/// What `find` finds, and `-delete` deletes or `-exec` gets: paths below each root, as a pattern.
fn below(r: &Field) -> Field {
    match r.value() {
        Some(v) => Field {
            text: format!("{}/*", v.trim_end_matches('/')),
            unknown: None,
            glob: true,
        },
        None => r.clone(),
    }
}

/// What `find` prints, for the next command of a pipeline.
pub fn find_results(args: &[Field]) -> Vec<Field> {
    find_roots(args).0.iter().map(below).collect()
}

/// `find ROOTS.. EXPR` with `-delete` or `-exec CMD {} ;`: a recursive delete of the roots, or the
/// command run on paths below them.
fn find(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let args = c.args();
    // Options of find itself (-H, -L, -P) come before the roots and start with `-`: they end the
    // roots here, which leaves `.`, as find does.
    let (roots, first_expr) = find_roots(args);
    let expr = &args[first_expr..];
    // `-fprint FILE`, `-fprintf FILE FMT`, `-fls FILE`, `-fprint0 FILE`: writes.
    for (k, f) in expr.iter().enumerate() {
        if matches!(
            f.value(),
            Some("-fprint" | "-fprint0" | "-fprintf" | "-fls")
        ) && let Some(file) = expr.get(k + 1)
        {
            an.write_target(file, frame, "find -fprint");
        }
    }
    if expr.iter().any(|f| f.value() == Some("-delete")) {
        for r in &roots {
            an.delete_target(&below(r), frame, "find -delete");
        }
    }
    let mut i = 0;
    while i < expr.len() {
        let is_exec = matches!(
            expr[i].value(),
            Some("-exec" | "-execdir" | "-ok" | "-okdir")
        );
        i += 1;
        if !is_exec {
            continue;
        }
        let end = expr[i..]
            .iter()
            .position(|f| matches!(f.value(), Some(";" | "+")))
            .map_or(expr.len(), |p| i + p);
        let template = &expr[i..end];
        i = end + 1;
        for r in &roots {
            let below = below(r);
            let argv: Vec<Field> = template
                .iter()
                .map(|f| match f.value() {
                    Some(v) if v.contains("{}") => match below.value() {
                        Some(b) => Field {
                            text: v.replace("{}", b),
                            unknown: None,
                            glob: true,
                        },
                        None => below.clone(),
                    },
                    _ => f.clone(),
                })
                .collect();
            if !argv.is_empty() {
                an.command_in(&argv, frame, c.stdin, c.env);
            }
        }
    }
}

/// `chmod`, `chown`, `chgrp`: targets are writes; recursive ones may not cover `/`, a home or a
/// system dir; a recursive `chmod` may not make files world-writable.
fn ownership(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
    let o: Opts<'_> = parse(
        c.args(),
        &Spec {
            short_args: "",
            long_args: &[],
            stop_at_operand: false,
        },
    );
    let recursive = o.has(&["-R", "--recursive"]) || o.unknown;
    let by_reference = o.has(&["--reference"]);
    let (spec, targets) = if by_reference {
        (None, &o.operands[..])
    } else {
        match o.operands.split_first() {
            Some((m, t)) => (Some(*m), t),
            None => return,
        }
    };
    if c.name == "chmod"
        && recursive
        && let Some(mode) = spec
        && mode.value().is_none_or(world_writable)
    {
        an.deny(format!(
            "recursive chmod making files world-writable (`{}`)",
            c.shown()
        ));
    }
    for t in targets {
        an.write_target(t, frame, c.name);
        if recursive
            && let Some(v) = t.value()
            && let Some(p) = frame.resolve(v)
        {
            let scope = if t.glob {
                paths::pattern_scope(&p).0
            } else {
                p.clone()
            };
            if scope == "/" || paths::is_home(&scope, an.home(frame).as_deref()) {
                an.deny(format!("recursive {} of {p} (`{}`)", c.name, c.shown()));
            }
        }
    }
}

/// An octal mode with the others' write bit, or a symbolic one granting `w` to `o` or `a`.
fn world_writable(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_ascii_digit()) {
        return u32::from_str_radix(mode, 8).is_ok_and(|m| m & 0o002 != 0);
    }
    mode.split(',').any(|clause| {
        let who_end = clause.find(['+', '=', '-']).unwrap_or(clause.len());
        let (who, rest) = clause.split_at(who_end);
        let grants = rest.starts_with('+') || rest.starts_with('=');
        grants && rest.contains('w') && (who.contains('o') || who.contains('a'))
    })
}

fn tar(an: &mut Analyser, frame: &Frame, args: &[Field]) {
    let o = parse(
        args,
        &Spec {
            short_args: "CfTXbFgHIKLNV",
            long_args: &["directory", "file", "files-from", "exclude-from"],
            stop_at_operand: false,
        },
    );
    // Old style: `tar xzf a.tgz -C dir` (the first argument is the bundle, without a dash).
    let old_style = args.first().and_then(Field::value).is_some_and(|v| {
        !v.starts_with('-') && v.contains('x') && v.chars().all(|c| c.is_ascii_alphabetic())
    });
    let extracting = old_style || o.has(&["-x", "--extract", "--get"]);
    if !extracting {
        return;
    }
    let dest = match o.value(&["-C", "--directory"]) {
        Some(d) => {
            let flag = if d.text.starts_with("--") {
                "--directory"
            } else {
                "-C"
            };
            opts::value_text(flag, d)
        }
        None => Field::known("."),
    };
    an.write_target(&dest, frame, "tar -x");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_writable_modes() {
        for m in [
            "777", "0777", "1777", "666", "a+rwx", "o+w", "ugo+rwx", "u+x,o=rw", "a=rwx",
        ] {
            assert!(world_writable(m), "{m}");
        }
        for m in ["755", "0644", "u+rwx", "+x", "go-w", "a+rx", "o-w"] {
            assert!(!world_writable(m), "{m}");
        }
    }
}
