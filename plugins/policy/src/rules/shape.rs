//! Argv shapes of the allowed programs that have options which run code, read a config, or write
//! or reach elsewhere (`git -c`, `make --eval`, `tar --to-command`, `sed 's/x/y/e'`, `npm exec`,
//! `ln -s /`, `systemctl stop tend` ...): such an option is denied with its name. Version control
//! and build tools are in `build`. It decides shape only; membership is `allow`, destructive targets
//! are `fs`/`system`/`net`.

use super::Cmd;
use super::build;
use super::opts::{self, Spec, parse};
use crate::analyse::{Analyser, Frame};
use crate::expand::Field;
use crate::paths;

/// Argv shapes of the programs with dangerous options; `false` when denied (reason recorded).
pub fn shape(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> bool {
    let before = an.findings.len();
    // `tar cf a.tar *` with a file named `--checkpoint-action=exec=..`: a pattern that can match a
    // name starting with `-` becomes options of a program that has dangerous ones.
    const OPTION_SENSITIVE: &[&str] = &[
        "tar",
        "bsdtar",
        "git",
        "make",
        "gmake",
        "npm",
        "yarn",
        "pnpm",
        "cargo",
        "go",
        "rsync",
        "zip",
        "sed",
        "gsed",
        "curl",
        "wget",
        "env",
        "sudo",
        "rake",
        "chmod",
        "chown",
        "chgrp",
        "find",
        "xargs",
        "cp",
        "mv",
        "ln",
        "install",
        "pip",
        "pip3",
        "systemctl",
        "kill",
        "pkill",
        "killall",
        "bundle",
        "gem",
        "composer",
    ];
    if OPTION_SENSITIVE.contains(&c.name) {
        let mut options_end = false;
        for f in c.args() {
            if f.value() == Some("--") {
                options_end = true;
            }
            if !options_end && f.glob && f.text.starts_with(['*', '?', '[']) {
                an.deny(format!(
                    "`{}`: the pattern `{}` could match a file named like an option; write `./{}`",
                    c.shown(),
                    f.text,
                    f.text
                ));
                return false;
            }
        }
    }
    match c.name {
        "sed" | "gsed" => sed(an, c),
        "git" => build::git(an, frame, c),
        "make" | "gmake" => build::make(an, frame, c),
        "npm" | "yarn" | "pnpm" => build::node_pm(an, frame, c),
        "cargo" => build::cargo(an, frame, c),
        "go" => build::go(an, frame, c),
        "pip" | "pip3"
            if c.args().iter().any(|f| {
                f.value()
                    .is_none_or(|v| v.contains("://") || v.starts_with("git+") || v.contains('@'))
            }) =>
        {
            an.deny(format!(
                "`{}` installs from a URL (its setup code runs); only package names and files of the project",
                c.shown()
            ));
        }
        "pip" | "pip3" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "trc",
                    &[
                        "target",
                        "root",
                        "prefix",
                        "requirement",
                        "constraint",
                        "src",
                    ],
                ),
            );
            for (flag, f) in &o.values {
                if matches!(
                    flag.as_str(),
                    "-t" | "--target" | "--root" | "--prefix" | "--src"
                ) {
                    an.write_target(&opts::value_text(flag, f), frame, &format!("pip {flag}"));
                }
            }
        }
        "tar" | "bsdtar" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "CfTXIF",
                    &[
                        "directory",
                        "file",
                        "files-from",
                        "exclude-from",
                        "use-compress-program",
                        "to-command",
                        "info-script",
                        "new-volume-script",
                        "rsh-command",
                        "checkpoint-action",
                    ],
                ),
            );
            refuse(
                an,
                c,
                &o,
                &[
                    "-I",
                    "-F",
                    "-P",
                    "--use-compress-program",
                    "--to-command",
                    "--info-script",
                    "--new-volume-script",
                    "--rsh-command",
                    "--checkpoint-action",
                    "--absolute-names",
                ],
            );
            let bundle =
                c.args().first().and_then(Field::value).filter(|v| {
                    !v.starts_with('-') && v.chars().all(|ch| ch.is_ascii_alphabetic())
                });
            let creating = o.has(&["-c", "--create", "-r", "--append", "-u", "--update"])
                || bundle.is_some_and(|b| b.contains(['c', 'r', 'u']));
            if creating {
                match o.value(&["-f", "--file"]) {
                    Some(f) => {
                        let flag = if f.text.starts_with("--") {
                            "--file"
                        } else {
                            "-f"
                        };
                        let f = opts::value_text(flag, f);
                        if f.value() != Some("-") {
                            an.write_target(&f, frame, "tar -c -f");
                        }
                    }
                    // Old style `tar czf out.tgz dir`: the first operand is the archive.
                    None if bundle.is_some_and(|b| b.contains('f')) => {
                        if let Some(f) = o.operands.get(1) {
                            an.write_target(f, frame, "tar cf");
                        }
                    }
                    None => {}
                }
            }
        }
        "zip" => {
            let o = parse(c.args(), &value_spec("", &["unzip-command"]));
            refuse(an, c, &o, &["-T", "--unzip-command"]);
            if let Some(f) = o.operands.first() {
                an.write_target(f, frame, "zip");
            }
        }
        "ln" => links(an, frame, c, true),
        "cp" => links(an, frame, c, false),
        "rsync" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "eT",
                    &[
                        "rsh",
                        "rsync-path",
                        "log-file",
                        "write-batch",
                        "only-write-batch",
                        "backup-dir",
                        "temp-dir",
                        "partial-dir",
                        "files-from",
                        "include-from",
                        "exclude-from",
                        "password-file",
                    ],
                ),
            );
            refuse(
                an,
                c,
                &o,
                &[
                    "-e",
                    "--rsh",
                    "--rsync-path",
                    "--log-file",
                    "--write-batch",
                    "--only-write-batch",
                    "--backup-dir",
                    "--temp-dir",
                    "--partial-dir",
                    "--files-from",
                    "--include-from",
                    "--exclude-from",
                    "--password-file",
                ],
            );
        }
        "env" => {
            let o = parse(
                c.args(),
                &value_spec("uCS", &["unset", "chdir", "split-string"]),
            );
            refuse(an, c, &o, &["-S", "--split-string"]);
        }
        "sudo" => {
            let o = parse(
                c.args(),
                &value_spec("ugCDhprtUT", &["user", "group", "chdir", "host"]),
            );
            refuse(
                an,
                c,
                &o,
                &[
                    "-s",
                    "-i",
                    "--shell",
                    "--login",
                    "-E",
                    "--preserve-env",
                    "-h",
                    "--host",
                    "-D",
                    "--chdir",
                ],
            );
        }
        "curl" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "KdFT",
                    &[
                        "config",
                        "output-dir",
                        "data",
                        "data-binary",
                        "data-raw",
                        "data-urlencode",
                        "form",
                        "upload-file",
                        "json",
                        "trace",
                        "trace-ascii",
                        "stderr",
                        "libcurl",
                        "etag-save",
                        "hsts",
                        "alt-svc",
                    ],
                ),
            );
            refuse(an, c, &o, &["-K", "--config"]);
            for (flag, f) in &o.values {
                if matches!(
                    flag.as_str(),
                    "--trace"
                        | "--trace-ascii"
                        | "--stderr"
                        | "--libcurl"
                        | "--etag-save"
                        | "--hsts"
                        | "--alt-svc"
                ) {
                    an.write_target(&opts::value_text(flag, f), frame, &format!("curl {flag}"));
                }
            }
            // Local files sent over the network: only the project's (`-d @f`, `-F x=@f`, `-T f`).
            for (flag, f) in &o.values {
                let v = opts::value_text(flag, f);
                let Some(text) = v.value() else { continue };
                let file = match flag.as_str() {
                    "-T" | "--upload-file" => Some(text),
                    "--data-raw" => None,
                    _ => text.split_once('@').map(|(_, f)| f),
                };
                if let Some(file) = file.filter(|f| !f.is_empty() && *f != "-") {
                    upload(an, frame, c, file);
                }
            }
            if let Some(d) = o.value(&["--output-dir"]) {
                an.write_target(
                    &opts::value_text("--output-dir", d),
                    frame,
                    "curl --output-dir",
                );
            }
        }
        "wget" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "ei",
                    &[
                        "execute",
                        "input-file",
                        "config",
                        "use-askpass",
                        "post-file",
                        "body-file",
                        "save-cookies",
                        "warc-file",
                        "load-cookies",
                    ],
                ),
            );
            refuse(
                an,
                c,
                &o,
                &[
                    "-e",
                    "--execute",
                    "--config",
                    "--use-askpass",
                    "--save-cookies",
                    "--warc-file",
                    "--load-cookies",
                ],
            );
            for flag in ["--post-file", "--body-file"] {
                if let Some(f) = o.value(&[flag])
                    && let Some(file) = opts::value_text(flag, f).value()
                {
                    upload(an, frame, c, file);
                }
            }
        }
        "printf" if c.args().first().and_then(Field::value) == Some("-v") => {
            an.deny("`printf -v` assigns a variable (bash-only)".into());
        }
        "set" => {
            let mut args = c.args().iter();
            while let Some(a) = args.next() {
                match a.value() {
                    Some("-o" | "+o") => {
                        if !matches!(
                            args.next().and_then(Field::value),
                            Some("pipefail" | "errexit" | "nounset" | "xtrace")
                        ) {
                            an.deny(format!(
                                "`{}`: only `set -o pipefail|errexit|nounset|xtrace` is modelled",
                                c.shown()
                            ));
                        }
                    }
                    Some(v)
                        if (v.starts_with('-') || v.starts_with('+'))
                            && v.len() > 1
                            && v[1..].chars().all(|ch| "euxv".contains(ch)) => {}
                    _ => an.deny(format!(
                        "`{}`: only `set -e/-u/-x/-v` and `-o pipefail` are modelled",
                        c.shown()
                    )),
                }
            }
        }
        "systemctl" => systemctl(an, c),
        "sort" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "oTS",
                    &[
                        "output",
                        "compress-program",
                        "temporary-directory",
                        "buffer-size",
                        "files0-from",
                    ],
                ),
            );
            refuse(an, c, &o, &["--compress-program"]);
            for (flag, f) in &o.values {
                if matches!(flag.as_str(), "-o" | "--output") {
                    an.write_target(&opts::value_text(flag, f), frame, "sort -o");
                }
            }
        }
        "date" => {
            let o = parse(
                c.args(),
                &value_spec("sdfr", &["set", "date", "file", "reference"]),
            );
            refuse(an, c, &o, &["-s", "--set"]);
        }
        "hostname"
            if c.args()
                .iter()
                .any(|f| f.value().is_none_or(|v| !v.starts_with('-'))) =>
        {
            an.deny(format!(
                "`{}` changes the machine's name; refused",
                c.shown()
            ));
        }
        "mvn" => {
            for f in c.args() {
                let v = f.value().unwrap_or_default();
                if f.value().is_none()
                    || v.starts_with("exec:")
                    || v.starts_with("antrun:")
                    || v.starts_with("-Dexec.")
                    || matches!(
                        v,
                        "-f" | "--file" | "-s" | "--settings" | "-gs" | "--global-settings"
                    )
                {
                    an.deny(format!(
                        "`{}`: `{}` runs other programs or reads elsewhere; refused",
                        c.shown(),
                        f.text
                    ));
                    break;
                }
            }
        }
        "gradle" => {
            for f in c.args() {
                let v = f.value().unwrap_or_default();
                if f.value().is_none()
                    || [
                        "-I",
                        "--init-script",
                        "-b",
                        "--build-file",
                        "-c",
                        "--settings-file",
                        "-p",
                        "--project-dir",
                        "-g",
                        "--gradle-user-home",
                    ]
                    .iter()
                    .any(|o| v == *o || v.starts_with(&format!("{o}=")))
                {
                    an.deny(format!(
                        "`{}`: `{}` reads build code from elsewhere; refused",
                        c.shown(),
                        f.text
                    ));
                    break;
                }
            }
        }
        "rails"
            if matches!(
                c.args().first().and_then(Field::value),
                Some("runner" | "r" | "console" | "c" | "dbconsole" | "db" | "server" | "s")
            ) =>
        {
            an.deny(format!(
                "`{}` runs code or a console given in the command; refused",
                c.shown()
            ));
        }
        "chmod" | "install" => {
            let o = parse(c.args(), &value_spec("m", &["mode"]));
            let modes: Vec<Field> = match c.name {
                "chmod" => o
                    .operands
                    .first()
                    .map(|f| (*f).clone())
                    .into_iter()
                    .collect(),
                _ => o
                    .all_values(&["-m", "--mode"])
                    .iter()
                    .map(|f| {
                        let flag = if f.text.starts_with("--") {
                            "--mode"
                        } else {
                            "-m"
                        };
                        opts::value_text(flag, f)
                    })
                    .collect(),
            };
            for m in modes {
                if m.value().is_none_or(setuid_mode) {
                    an.deny(format!(
                        "`{}` sets a setuid/setgid mode (or one that cannot be resolved); refused",
                        c.shown()
                    ));
                }
            }
        }
        "cat" | "dd" | "tail" | "base64" => {
            // An endless device read into a file fills the disk.
            let endless = |v: &str| {
                let v = v.strip_prefix("if=").unwrap_or(v);
                matches!(
                    v,
                    "/dev/zero" | "/dev/urandom" | "/dev/random" | "/dev/full"
                )
            };
            let counted = c
                .args()
                .iter()
                .any(|f| f.value().is_some_and(|v| v.starts_with("count=")));
            if !counted && c.args().iter().any(|f| f.value().is_some_and(endless)) {
                an.deny(format!("`{}` reads an endless device; refused", c.shown()));
            }
        }
        "bundle" => {
            // `bundle exec CMD`: the command is analysed (in `rules::apply`); the rest manage gems.
            match c.args().first().and_then(Field::value) {
                Some("install" | "exec" | "check" | "update" | "list" | "show") | None => {}
                Some(other) => an.deny(format!("`bundle {other}` is not on the allow-list")),
            }
        }
        "rake" => {
            let o = parse(
                c.args(),
                &value_spec(
                    "efpErRIg",
                    &[
                        "execute",
                        "execute-print",
                        "execute-continue",
                        "rakefile",
                        "require",
                        "rakelibdir",
                        "libdir",
                    ],
                ),
            );
            refuse(
                an,
                c,
                &o,
                &[
                    "-e",
                    "-p",
                    "-E",
                    "--execute",
                    "--execute-print",
                    "--execute-continue",
                    "-r",
                    "--require",
                    "-g",
                    "--system",
                ],
            );
            if let Some(f) = o.value(&["-f", "--rakefile"]) {
                build::project_file(an, frame, &opts::value_text("-f", f), "rake -f");
            }
        }
        "composer"
            if matches!(
                c.args().first().and_then(Field::value),
                Some("exec" | "global" | "run-script" | "run" | "config")
            ) =>
        {
            an.deny(format!(
                "`{}`: composer exec/global/run/config are not on the allow-list",
                c.shown()
            ));
        }
        "gem" => match c.args().first().and_then(Field::value) {
            Some("install" | "list" | "update" | "build") | None => {}
            Some(other) => an.deny(format!("`gem {other}` is not on the allow-list")),
        },
        _ => {}
    }
    an.findings.len() == before
}

/// A spec whose value-taking options are `short` and `long`.
pub(super) fn value_spec<'s>(short: &'s str, long: &'s [&'s str]) -> Spec<'s> {
    Spec {
        short_args: short,
        long_args: long,
        stop_at_operand: false,
    }
}

pub(super) fn refuse(an: &mut Analyser, c: &Cmd<'_>, o: &opts::Opts<'_>, names: &[&str]) {
    if let Some(n) = names.iter().find(|n| o.has(&[n])) {
        an.deny(format!(
            "`{}` uses `{n}`, which runs code, reads a config or reaches elsewhere; refused",
            c.shown()
        ));
    } else if o.unknown {
        an.deny(format!(
            "`{}` has an argument that cannot be resolved, which could be any option; refused",
            c.shown()
        ));
    }
}

/// `sed` scripts: `s/../../flags`, `d`, `p`, `q` with simple addresses; not `e` (runs a command),
/// `w`/`W` (writes a file), `r`/`R` or a script file (`-f`).
fn sed(an: &mut Analyser, c: &Cmd<'_>) {
    let o = parse(
        c.args(),
        &value_spec("efl", &["expression", "file", "line-length"]),
    );
    if o.has(&["-f", "--file"]) || o.unknown {
        an.deny(format!(
            "`{}`: sed scripts from files or unresolved arguments are refused",
            c.shown()
        ));
        return;
    }
    let scripts: Vec<Field> = match o.all_values(&["-e", "--expression"]) {
        v if v.is_empty() => o
            .operands
            .first()
            .map(|f| (*f).clone())
            .into_iter()
            .collect(),
        v => v
            .iter()
            .map(|f| {
                let flag = if f.text.starts_with("--") {
                    "--expression"
                } else {
                    "-e"
                };
                opts::value_text(flag, f)
            })
            .collect(),
    };
    for s in scripts {
        match s.value() {
            Some(text) if sed_script_ok(text) => {}
            _ => an.deny(format!(
                "the sed script `{}` is outside what the policy models (only s///, d, p, q; never e, w, r)",
                s.text
            )),
        }
    }
}

pub fn sed_script_ok(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\n' | b';') {
            i += 1;
        }
        if i >= b.len() {
            return true;
        }
        // Address: digits, `$`, or /regex/, optionally `,` and another.
        for _ in 0..2 {
            if i < b.len() && b[i] == b'/' {
                i += 1;
                while i < b.len() && b[i] != b'/' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            } else {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'$') {
                    i += 1;
                }
            }
            if i < b.len() && b[i] == b',' {
                i += 1;
            } else {
                break;
            }
        }
        if i < b.len() && b[i] == b'!' {
            i += 1;
        }
        match b.get(i) {
            Some(b'd' | b'p' | b'q') => i += 1,
            Some(b's') => {
                let Some(&d) = b.get(i + 1) else { return false };
                if !b"/|#,:@".contains(&d) {
                    return false;
                }
                i += 2;
                for _ in 0..2 {
                    while i < b.len() && b[i] != d {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    if i >= b.len() {
                        return false;
                    }
                    i += 1;
                }
                while i < b.len() && (b"gpiI".contains(&b[i]) || b[i].is_ascii_digit()) {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i < b.len() && !matches!(b[i], b' ' | b'\n' | b';') {
            return false;
        }
    }
}

/// Octal modes with the setuid/setgid bit (`4755`, `2775`), symbolic ones granting `s`.
fn setuid_mode(m: &str) -> bool {
    if !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()) {
        return u32::from_str_radix(m, 8).is_ok_and(|v| v & 0o6000 != 0);
    }
    m.split(',').any(|clause| {
        let grant = clause.find(['+', '=']).map(|i| &clause[i..]);
        grant.is_some_and(|g| g.contains('s'))
    })
}

/// A local file a downloader sends: inside the working dir only.
fn upload(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>, file: &str) {
    let inside = frame
        .resolve(file)
        .map(|p| an.real_path(&p))
        .is_some_and(|p| {
            an.cwd
                .as_deref()
                .is_some_and(|root| paths::within(&p, root))
                && an.protected(&p).is_none()
        });
    if !inside {
        an.deny(format!(
            "`{}` sends the file {file} over the network; only files inside the working dir may be sent",
            c.shown()
        ));
    }
}

/// `ln` (and `cp -s/-l`): the link's target must be inside the working dir, or later commands
/// would reach outside it through the link (`ln -s / x && rm -rf x/etc`).
fn links(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>, is_ln: bool) {
    let o = parse(
        c.args(),
        &value_spec(
            "tSmog",
            &["target-directory", "suffix", "mode", "owner", "group"],
        ),
    );
    if !is_ln && !o.has(&["-s", "--symbolic-link", "-l", "--link"]) {
        return;
    }
    let n = o.operands.len();
    let sources = if o.value(&["-t", "--target-directory"]).is_some() || n == 1 {
        n
    } else {
        n - 1
    };
    for f in o.operands.iter().take(sources) {
        let Some(v) = f.value() else {
            an.deny(format!(
                "`{}`: a link to `{}`, which cannot be resolved",
                c.shown(),
                f.text
            ));
            continue;
        };
        // A relative symlink target is relative to the link's dir; resolving it against the
        // current dir is the same when the link is made in it, and stricter otherwise only if
        // the link dir is deeper (then `..` climbs less): checked against the root both ways.
        let p = frame.resolve(v).map(|p| an.real_path(&p));
        match (&p, &an.cwd) {
            (Some(p), Some(root)) if paths::within(p, root) && !v.contains("..") => {}
            _ => an.deny(format!(
                "`{}`: links to {} outside the working dir (or through `..`) are refused",
                c.shown(),
                p.as_deref().unwrap_or(v)
            )),
        }
    }
}

fn systemctl(an: &mut Analyser, c: &Cmd<'_>) {
    const VERBS: &[&str] = &[
        "start",
        "stop",
        "restart",
        "reload",
        "try-restart",
        "reload-or-restart",
        "status",
        "is-active",
        "is-enabled",
        "is-failed",
        "show",
        "cat",
        "list-units",
        "list-unit-files",
        "daemon-reload",
    ];
    let words: Vec<&Field> = c
        .args()
        .iter()
        .filter(|f| f.value().is_none_or(|v| !v.starts_with('-')))
        .collect();
    for f in c.args() {
        if let Some(v) = f.value()
            && v.starts_with('-')
            && !matches!(
                v,
                "--user"
                    | "--system"
                    | "--no-pager"
                    | "-q"
                    | "--quiet"
                    | "--no-block"
                    | "--now"
                    | "-l"
                    | "--full"
            )
        {
            an.deny(format!(
                "`{}`: the systemctl option `{v}` is refused",
                c.shown()
            ));
        }
    }
    let Some(verb) = words.first().and_then(|f| f.value()) else {
        return;
    };
    if !VERBS.contains(&verb) {
        an.deny(format!("`systemctl {verb}` is not on the allow-list"));
        return;
    }
    for unit in &words[1..] {
        match unit.value() {
            Some(u)
                if an
                    .ctx
                    .daemon_names
                    .iter()
                    .any(|n| !n.is_empty() && unit_is(u, n)) =>
            {
                an.deny(format!(
                    "`{}` acts on tend itself, which is protected",
                    c.shown()
                ));
            }
            Some(_) => {}
            None => an.deny(format!(
                "`{}`: a unit that cannot be resolved (it could be tend itself)",
                c.shown()
            )),
        }
    }
}

/// `tend`, `tend.service`, `tend@x.service`, globs that could match it.
fn unit_is(unit: &str, daemon: &str) -> bool {
    let daemon = paths::basename(daemon);
    let base = unit.split(['.', '@']).next().unwrap_or(unit);
    base == daemon || paths::has_glob(unit)
}
