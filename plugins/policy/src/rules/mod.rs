//! What each program does that matters to the policy, given its fully expanded argv: wrappers
//! (`sudo`, `env`, `xargs`, ...) are seen through, shells and interpreters are checked for code they
//! would run (a `-c` string, a piped or downloaded script), and the destructive programs have their
//! targets checked (`fs`, `system`, `net`).

pub mod allow;
mod build;
mod code;
mod fs;
mod net;
pub mod opts;
mod shape;
mod system;
mod wrap;

use crate::analyse::{Analyser, Frame, Produces, Stdin};
use crate::expand::{Field, Lookup, Why};
use crate::paths;
use code::{interpreter, run_file, run_stdin, run_text, shell};
use opts::{Spec, parse};
use wrap::{env, sudo, wrapper, xargs};

/// One command to judge.
pub struct Cmd<'a> {
    /// The program's file name (`rm` for `/bin/rm`).
    pub name: &'a str,
    pub argv: &'a [Field],
    pub stdin: &'a Stdin,
    /// Variables exported to it (`X=1 cmd`, `env X=1 cmd`).
    pub env: &'a [(String, Lookup)],
}

impl Cmd<'_> {
    pub fn args(&self) -> &[Field] {
        &self.argv[1..]
    }

    /// The command as written, for reasons.
    pub fn shown(&self) -> String {
        let mut s = String::new();
        for (i, f) in self.argv.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&f.text);
            if s.len() > 120 {
                s.push_str(" ...");
                break;
            }
        }
        s
    }
}

/// How the arguments `xargs` reads from its input are shown.
pub const XARGS_INPUT: &str = "<input of xargs>";

/// Shells whose `-c` text is analysed: the ones that read the accepted subset identically.
const SHELLS: &[&str] = &["sh", "bash", "dash"];

use allow::is_interpreter;

pub fn apply(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let name = c.name;
    if !allow::allowed(an, name) || !shape::shape(an, frame, c) {
        return Produces::Other(name.into());
    }
    if SHELLS.contains(&name) {
        shell(an, frame, c);
        return Produces::Other(name.into());
    }
    if is_interpreter(name) {
        interpreter(an, frame, c);
        return Produces::Other(name.into());
    }
    match name {
        "sudo" | "doas" => sudo(an, frame, c),
        "env" => env(an, frame, c),
        "xargs" => xargs(an, frame, c),
        "nohup" | "setsid" | "builtin" | "unbuffer" | "nocorrect" | "noglob" | "busybox"
        | "stdbuf" | "nice" | "ionice" | "time" | "exec" | "command" | "chrt" | "taskset"
        | "chroot" | "timeout" | "flock" | "runuser" | "caffeinate" => wrapper(an, frame, c),
        "watch" => {
            let o = parse(
                c.args(),
                &Spec {
                    short_args: "nq",
                    long_args: &["interval"],
                    stop_at_operand: true,
                },
            );
            let text = joined(&o.operands);
            run_text(an, frame, c, text, "watch");
            Produces::Other(name.into())
        }
        "su" => {
            let o = parse(
                c.args(),
                &Spec {
                    short_args: "cgGs",
                    long_args: &["command", "group", "shell"],
                    stop_at_operand: false,
                },
            );
            if let Some(v) = o.value(&["-c", "--command"]) {
                let v = opts::value_text("-c", v);
                run_text(an, frame, c, v, "su -c");
            }
            Produces::Other(name.into())
        }
        "eval" => {
            let refs: Vec<&Field> = c.args().iter().collect();
            let text = joined(&refs);
            match text.value() {
                Some(src) => {
                    // `eval` runs in the current shell: its assignments and `cd` stay.
                    let src = src.to_string();
                    an.script(&src, frame);
                }
                None => run_text(an, frame, c, text, "eval"),
            }
            Produces::Other(name.into())
        }
        // Code given as an argument, run later by this shell: `trap 'rm -rf /' EXIT`,
        // `alias x='rm -rf /'`.
        "trap" => {
            if let Some(code) = c
                .args()
                .iter()
                .find(|f| f.value().is_none_or(|v| !v.starts_with('-')))
            {
                run_text(an, frame, c, code.clone(), "trap");
            }
            Produces::Nothing
        }
        "alias" => {
            for f in c.args() {
                if let Some((_, body)) = f.text.split_once('=') {
                    let body = Field {
                        text: body.to_string(),
                        ..f.clone()
                    };
                    run_text(an, frame, c, body, "alias");
                }
            }
            Produces::Nothing
        }
        // `at`/`batch` read shell commands from their input (or `-f FILE`) and run them later.
        "at" | "batch" => {
            let o = parse(
                c.args(),
                &Spec {
                    short_args: "fqmMt",
                    long_args: &[],
                    stop_at_operand: false,
                },
            );
            match o.value(&["-f"]) {
                Some(f) => run_file(an, frame, &opts::value_text("-f", f), name),
                None => run_stdin(an, frame, c),
            }
            Produces::Nothing
        }
        "source" | "." => {
            if let Some(file) = c.args().first() {
                run_file(an, frame, file, name);
            }
            Produces::Nothing
        }
        // `bundle exec CMD`, `poetry run CMD`, `uv run CMD`: the command is analysed in turn.
        "bundle" | "poetry" | "uv"
            if matches!(
                c.args().first().and_then(Field::value),
                Some("exec" | "run" | "tool" | "x")
            ) =>
        {
            match (name, c.args().first().and_then(Field::value)) {
                ("bundle", Some("exec")) | ("poetry" | "uv", Some("run")) => {
                    let inner: Vec<Field> = c.args()[1..]
                        .iter()
                        .skip_while(|f| f.value().is_some_and(|v| v.starts_with('-')))
                        .cloned()
                        .collect();
                    if inner.is_empty() {
                        return Produces::Nothing;
                    }
                    an.command_in(&inner, frame, c.stdin, c.env)
                }
                _ => {
                    an.deny(format!(
                        "`{}` runs a tool from a registry; refused",
                        c.shown()
                    ));
                    Produces::Other(name.into())
                }
            }
        }
        "cd" | "pushd" => {
            cd(an, frame, c);
            Produces::Nothing
        }
        "popd" => {
            frame.dir = None;
            Produces::Nothing
        }
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            assign_builtin(an, frame, c);
            Produces::Nothing
        }
        "unset" => {
            for f in c.args() {
                if let Some(v) = f.value()
                    && !v.starts_with('-')
                {
                    frame.vars.insert(
                        v.to_string(),
                        crate::analyse::Binding::Known(vec![String::new()]),
                    );
                }
            }
            Produces::Nothing
        }
        "read" | "mapfile" | "readarray" | "getopts" => {
            for f in c.args() {
                if let Some(v) = f.value()
                    && !v.starts_with('-')
                {
                    frame.vars.insert(
                        v.to_string(),
                        crate::analyse::Binding::Unknown(Why {
                            what: format!("${v} (read at run time)"),
                            download: match c.stdin {
                                Stdin::Download(by) => Some(by.clone()),
                                _ => None,
                            },
                        }),
                    );
                }
            }
            Produces::Nothing
        }
        "echo" | "printf" => {
            let refs: Vec<&Field> = c
                .args()
                .iter()
                .skip_while(|f| {
                    name == "echo" && f.value().is_some_and(|v| v.starts_with('-') && v.len() > 1)
                })
                .collect();
            let text = joined(&refs);
            // Text with a backslash is not known: dash's echo reads escapes, bash's does not.
            match text.value() {
                Some(t) if t.contains('\\') => Produces::Other(name.into()),
                Some(t) if name == "echo" => Produces::Text(format!("{t}\n")),
                Some(t) if !t.contains('%') => Produces::Text(t.to_string()),
                _ => Produces::Other(name.into()),
            }
        }
        "cat" if c.args().is_empty() => match c.stdin {
            Stdin::Text(t) => Produces::Text(t.clone()),
            Stdin::Download(by) => Produces::Download(by.clone()),
            _ => Produces::Other(name.into()),
        },
        "curl" | "wget" | "fetch" | "aria2c" | "http" | "https" | "lwp-request" | "GET" => {
            net::downloader(an, frame, c)
        }
        "find" => {
            fs::check(an, frame, c);
            Produces::Paths(fs::find_results(c.args()))
        }
        _ => {
            fs::check(an, frame, c);
            system::check(an, c);
            match c.stdin {
                // Filters pass downloaded content on (`curl .. | gunzip | sh`).
                Stdin::Download(by) => Produces::Download(by.clone()),
                _ => Produces::Other(name.into()),
            }
        }
    }
}

/// The fields joined with spaces, as `eval` and `sh -c "$*"` see them; unknown if any part is.
fn joined(fields: &[&Field]) -> Field {
    let mut out = Field::default();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.text.push(' ');
        }
        out.text.push_str(&f.text);
        if let Some(w) = &f.unknown {
            let download = out
                .unknown
                .as_ref()
                .and_then(|u| u.download.clone())
                .or_else(|| w.download.clone());
            out.unknown = Some(Why {
                what: String::new(),
                download,
            });
        }
    }
    if let Some(w) = &mut out.unknown {
        w.what = out.text.clone();
    }
    out
}

/// `cd DIR`: later relative paths are relative to it.
fn cd(an: &Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    let target = c
        .args()
        .iter()
        .find(|f| f.value().is_none_or(|v| !v.starts_with('-') || v == "-"));
    // A `cd` may fail (or be skipped after `&&`/`||`): the shell then stays where it was. Only
    // when that was inside the working dir is either place inside it; otherwise the dir after it
    // cannot be known.
    let was_inside = frame
        .dir
        .as_deref()
        .zip(an.cwd.as_deref())
        .is_some_and(|(d, root)| paths::within(d, root));
    frame.dir = match target {
        None => an.home(frame),
        Some(f) => match f.value() {
            Some("-") | None => None,
            Some(d) => {
                let dir = frame.resolve(d);
                // Entering a name (or an absolute path): it may be a symlink.
                frame.descended |=
                    d.starts_with('/') || d.split('/').any(|c| !matches!(c, "" | "." | ".."));
                dir
            }
        },
    };
    if target.is_none() {
        frame.descended = true;
    }
    if !was_inside {
        frame.dir = None;
    }
}

/// `export NAME=value`, `declare -x NAME=value`, `local NAME=value`.
fn assign_builtin(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) {
    if c.name != "export" {
        an.deny(format!(
            "`{}` (bash variable attributes) is not modelled",
            c.name
        ));
        return;
    }
    for f in c.args() {
        if let Some((k, _)) = f.text.split_once('=') {
            an.exporting(k);
        } else if f.value().is_none() {
            an.deny(format!(
                "`export {}` with a name that cannot be resolved",
                f.text
            ));
        }
        if let Some(v) = f.value() {
            if v.starts_with('-') {
                continue;
            }
            if let Some((k, val)) = v.split_once('=') {
                an.assign(
                    frame,
                    k.to_string(),
                    crate::analyse::Binding::Known(vec![val.to_string()]),
                );
            }
        } else if let Some((k, _)) = f.text.split_once('=') {
            an.assign(
                frame,
                k.to_string(),
                crate::analyse::Binding::Unknown(f.unknown.clone().unwrap_or(Why {
                    what: f.text.clone(),
                    download: None,
                })),
            );
        }
    }
}
