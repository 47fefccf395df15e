//! What each program does that matters to the policy, given its fully expanded argv: wrappers
//! (`sudo`, `env`, `xargs`, ...) are seen through, shells and interpreters are checked for code they
//! would run (a `-c` string, a piped or downloaded script), and the destructive programs have their
//! targets checked (`fs`, `system`, `net`).

pub mod allow;
mod build;
mod fs;
mod net;
pub mod opts;
mod shape;
mod system;

use crate::analyse::{Analyser, Frame, Produces, Stdin};
use crate::expand::{Field, Lookup, Why};
use crate::paths;
use opts::{Spec, parse};

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

/// Runs shell text given as a value (`sh -c`, `eval`, `su -c`, `watch`): analysed when known,
/// refused when it cannot be.
fn run_text(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>, text: Field, how: &str) {
    run_text_with(an, frame, c, text, how, &[]);
}

fn run_text_with(
    an: &mut Analyser,
    frame: &Frame,
    c: &Cmd<'_>,
    text: Field,
    how: &str,
    positional: &[Field],
) {
    match (text.value(), text.download()) {
        (Some(src), _) => {
            let src = src.to_string();
            an.child_script(&src, frame, c.env, positional);
        }
        (None, Some(by)) => an.deny(format!(
            "download-and-execute: `{how}` runs code downloaded by {by} (`{}`)",
            text.text
        )),
        (None, None) => an.deny(format!(
            "`{how}` runs code that cannot be resolved: `{}`",
            text.text
        )),
    }
}

/// A script file run by a shell or an interpreter (or `source`): a file of the project only.
fn run_file(an: &mut Analyser, frame: &Frame, file: &Field, how: &str) {
    match (file.value(), file.download()) {
        (Some(p), _) => match frame.resolve(p) {
            Some(p) => {
                if let Some((_, by)) = frame.downloads.iter().find(|(f, _)| *f == p) {
                    an.deny(format!(
                        "download-and-execute: `{how}` runs {p}, downloaded by {by} earlier in the command"
                    ));
                } else {
                    an.run_project_file(&p, &format!("`{how}` runs"));
                }
            }
            None => an.deny(format!(
                "`{how}` runs {p} in a directory that cannot be known (after `cd`, or `..` out of a dir that may be a symlink)"
            )),
        },
        (None, Some(by)) => an.deny(format!(
            "download-and-execute: `{how}` runs code downloaded by {by} (`{}`)",
            file.text
        )),
        (None, None) => an.deny(format!(
            "`{how}` runs a script that cannot be resolved: `{}`",
            file.text
        )),
    }
}

/// Code read from standard input by a shell (`at`, `sh -s`, `| sh`).
fn run_stdin(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
    let how = c.name;
    match c.stdin {
        Stdin::Inherit => {}
        // `echo .. | sh`: echo's escapes differ between shells; code on a pipe is refused.
        Stdin::Text(_) => an.deny(format!(
            "`{how}` reads commands from a pipe or here-document; refused (run a script of the project instead)"
        )),
        Stdin::Download(by) => an.deny(format!(
            "download-and-execute: output of {by} is piped into `{how}`"
        )),
        Stdin::File(p) => run_file(an, frame, &Field::known(p.clone()), how),
        Stdin::Unknown(by) => an.deny(format!(
            "`{how}` runs code read from the output of `{by}`, which cannot be inspected"
        )),
        Stdin::Paths(_) => an.deny(format!(
            "`{how}` runs code read from the output of `find`, which cannot be inspected"
        )),
    }
}

/// `sh [-euxo ..] -c SCRIPT [$0 $1 ..]`, `sh FILE`, `sh` reading standard input.
fn shell(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
    let args = c.args();
    let mut i = 0;
    let mut command_mode = false;
    let mut read_stdin = false;
    while i < args.len() {
        let Some(a) = args[i].value() else { break };
        if a == "--" || a == "-" {
            i += 1;
            break;
        }
        if matches!(a, "-o" | "+o") {
            if !matches!(
                args.get(i + 1).and_then(Field::value),
                Some("pipefail" | "errexit" | "nounset" | "xtrace")
            ) {
                an.deny(format!(
                    "`{}`: only `-o pipefail|errexit|nounset|xtrace` is modelled",
                    c.shown()
                ));
                return;
            }
            i += 2;
            continue;
        }
        if let Some(flags) = a.strip_prefix('-').or_else(|| a.strip_prefix('+')) {
            // `-i` (interactive: aliases, history), `-l` (profiles), `-O` (bash options that
            // change the grammar), `--rcfile`: not modelled.
            if a.starts_with("--") || !flags.chars().all(|ch| "euxvcsnf".contains(ch)) {
                an.deny(format!(
                    "`{}`: the shell option `{a}` is not modelled (only -e -u -x -v -c -s -n -f and -o pipefail)",
                    c.shown()
                ));
                return;
            }
            command_mode |= flags.contains('c');
            read_stdin |= flags.contains('s');
            i += 1;
            continue;
        }
        break;
    }
    let rest = &args[i.min(args.len())..];
    if command_mode {
        match rest.first() {
            Some(script) => {
                run_text_with(
                    an,
                    frame,
                    c,
                    script.clone(),
                    &format!("{} -c", c.name),
                    &rest[1..],
                );
            }
            None => an.deny(format!("`{} -c` without its command", c.name)),
        }
    } else if read_stdin || rest.is_empty() {
        run_stdin(an, frame, c);
    } else {
        run_file(an, frame, &rest[0], c.name);
        an.opaque_args(
            frame,
            &format!("`{} {}`", c.name, rest[0].text),
            &rest[1..],
            c.env,
        );
    }
}

/// `python FILE`, `python -m module`, `node FILE`: a script of the project. Inline code
/// (`python -c`, `node -e`, `perl -e`, an awk program, code on standard input) only when
/// `[policy] interpreters` lists the interpreter; options outside a small list likewise.
fn interpreter(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
    let name = c.name;
    let trusted = an.ctx.interpreters.iter().any(|i| i == name);
    let inline = |an: &mut Analyser, how: &str| {
        if !trusted {
            an.deny(format!(
                "inline code (`{name} {how}`) is refused unless [policy] interpreters lists `{name}`"
            ));
        }
    };
    let args = c.args();
    let is_awk = name.ends_with("awk");
    let code_letters: &str = match name {
        n if n.starts_with("python") => "c",
        n if n.starts_with("php") => "rRBEF",
        n if is_awk && !n.is_empty() => "",
        "node" | "nodejs" | "deno" | "bun" => "ep",
        _ => "eE",
    };
    // Options that take a value and are harmless.
    let value_opts: &[&str] = match name {
        n if n.starts_with("python") => &["-W", "-X"],
        _ if is_awk => &["-F", "-v"],
        _ => &[],
    };
    let harmless: &[&str] = match name {
        n if n.starts_with("python") => &["-u", "-B", "-O", "-OO", "-E", "-s", "-I", "-b", "-q"],
        n if n.starts_with("perl") || n.starts_with("ruby") => &["-w", "-W"],
        "node" | "nodejs" => &["--enable-source-maps", "--no-warnings", "--trace-warnings"],
        _ => &[],
    };
    let mut i = 0;
    while i < args.len() {
        let Some(a) = args[i].value() else {
            run_file(an, frame, &args[i], name);
            return;
        };
        if let Some(code) = args
            .get(i + 1)
            .filter(|_| a.starts_with('-') && !a.starts_with("--"))
            && let Some(by) = code.download()
        {
            an.deny(format!(
                "download-and-execute: `{name} {a}` runs code downloaded by {by}"
            ));
            return;
        }
        if a == "--" {
            i += 1;
            break;
        }
        if a == "-" {
            inline(an, "-");
            return;
        }
        if is_awk && a == "-f" {
            match args.get(i + 1) {
                Some(f) => run_file(an, frame, f, name),
                None => an.deny(format!("`{name} -f` without its program file")),
            }
            return;
        }
        if a.starts_with('-') {
            let short = !a.starts_with("--") && a.len() > 1;
            let letters = a.strip_prefix('-').unwrap_or_default();
            if (short && letters.chars().any(|ch| code_letters.contains(ch)))
                || matches!(a, "--eval" | "--print")
                || a.starts_with("--eval=")
            {
                inline(an, a);
                return;
            }
            if a == "-m" && name.starts_with("python") {
                // `python -m pip install ..`: a module, not inline code; pip is judged as `pip`.
                if let Some(m) = args.get(i + 1)
                    && matches!(m.value(), Some("pip" | "pip3"))
                {
                    let argv: Vec<Field> = args[i + 1..].to_vec();
                    let mut inner = frame.clone();
                    an.command_in(&argv, &mut inner, c.stdin, c.env);
                }
                return;
            }
            if value_opts.contains(&a) {
                i += 2;
                continue;
            }
            let known = harmless.contains(&a)
                || value_opts.iter().any(|v| a.starts_with(v))
                || (name.starts_with("node") && a.starts_with("--max-old-space-size="));
            if !trusted && !known {
                an.deny(format!(
                    "the `{name}` option `{a}` is not modelled (it could load code from elsewhere); refused"
                ));
                return;
            }
            i += 1;
            continue;
        }
        break;
    }
    match args.get(i) {
        // awk's first operand is its program.
        Some(_) if is_awk => inline(an, "'program'"),
        Some(f) => {
            run_file(an, frame, f, name);
            an.opaque_args(
                frame,
                &format!("`{name} {}`", f.text),
                &args[i + 1..],
                c.env,
            );
            // `manage.py shell -c CODE`, `artisan tinker --execute=CODE`: inline code through a
            // script of the project.
            if let Some(flag) = args[i + 1..].iter().filter_map(Field::value).find(|v| {
                matches!(*v, "-c" | "--command" | "--execute" | "-e" | "--eval")
                    || v.starts_with("--command=")
                    || v.starts_with("--execute=")
                    || v.starts_with("--eval=")
            }) {
                inline(an, &format!("{} {flag}", f.text));
            }
        }
        None => match c.stdin {
            Stdin::Inherit => {}
            _ => inline(an, "< standard input"),
        },
    }
}

/// Programs that run the rest of their arguments as a command, after options of their own.
fn wrapper(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let spec = match c.name {
        "nice" => Spec {
            short_args: "n",
            long_args: &["adjustment"],
            stop_at_operand: true,
        },
        "ionice" => Spec {
            short_args: "cnp",
            long_args: &["class", "classdata"],
            stop_at_operand: true,
        },
        "stdbuf" => Spec {
            short_args: "ioe",
            long_args: &["input", "output", "error"],
            stop_at_operand: true,
        },
        "exec" => Spec {
            short_args: "a",
            long_args: &[],
            stop_at_operand: true,
        },
        "timeout" => Spec {
            short_args: "sk",
            long_args: &["signal", "kill-after"],
            stop_at_operand: true,
        },
        "flock" => Spec {
            short_args: "wEc",
            long_args: &["timeout", "conflict-exit-code", "command"],
            stop_at_operand: true,
        },
        "runuser" => Spec {
            short_args: "ugGcs",
            long_args: &["user", "group", "command", "shell"],
            stop_at_operand: true,
        },
        "chroot" => Spec {
            short_args: "",
            long_args: &["userspec", "groups"],
            stop_at_operand: true,
        },
        "taskset" => Spec {
            short_args: "",
            long_args: &[],
            stop_at_operand: true,
        },
        "time" => Spec {
            short_args: "of",
            long_args: &["output", "format"],
            stop_at_operand: true,
        },
        _ => Spec {
            short_args: "",
            long_args: &[],
            stop_at_operand: true,
        },
    };
    let o = parse(c.args(), &spec);
    if c.name == "command" && o.has(&["-v", "-V"]) {
        return Produces::Other("command".into());
    }
    if let Some(v) = o.value(&["-c", "--command"])
        && matches!(c.name, "flock" | "runuser")
    {
        let v = opts::value_text("-c", v);
        run_text(an, frame, c, v, c.name);
        return Produces::Other(c.name.into());
    }
    // Leading operands that are not the command: timeout's duration, chroot's root, flock's
    // lock file, chrt's priority, taskset's mask.
    let skip = match c.name {
        "timeout" | "chroot" | "taskset" | "chrt" | "flock" => 1,
        _ => 0,
    };
    let inner: Vec<Field> = o.operands.iter().skip(skip).map(|f| (*f).clone()).collect();
    if inner.is_empty() {
        return Produces::Nothing;
    }
    let env: Vec<(String, Lookup)> = c.env.to_vec();
    an.command_in(&inner, frame, c.stdin, &env)
}

/// `sudo [-u user ..] [VAR=value ..] command`, `sudo -s/-i [command]`, `sudo -e FILE` (sudoedit).
fn sudo(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let o = parse(
        c.args(),
        &Spec {
            short_args: "ugCDhprtUT",
            long_args: &[
                "user",
                "group",
                "close-from",
                "chdir",
                "host",
                "prompt",
                "role",
                "type",
                "other-user",
                "command-timeout",
            ],
            stop_at_operand: true,
        },
    );
    if o.has(&["-e", "--edit"]) {
        for f in &o.operands {
            an.write_target(f, frame, "sudo -e");
        }
        return Produces::Nothing;
    }
    let mut env: Vec<(String, Lookup)> = c.env.to_vec();
    let mut rest: Vec<Field> = Vec::new();
    for f in &o.operands {
        if rest.is_empty()
            && let Some(v) = f.value()
            && let Some((k, val)) = v.split_once('=')
            && !k.is_empty()
            && k.chars().all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
        {
            env.push((k.to_string(), Lookup::Known(val.to_string())));
            continue;
        }
        rest.push((*f).clone());
    }
    if o.has(&["-s", "-i", "--shell", "--login"]) && !rest.is_empty() {
        let refs: Vec<&Field> = rest.iter().collect();
        run_text(an, frame, c, joined(&refs), "sudo -s");
        return Produces::Other("sudo".into());
    }
    if rest.is_empty() {
        return Produces::Nothing;
    }
    an.command_in(&rest, frame, c.stdin, &env)
}

/// `env [-i] [-u NAME] [-C DIR] [-S STRING] [NAME=value ..] command`.
fn env(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let o = parse(
        c.args(),
        &Spec {
            short_args: "uCS",
            long_args: &["unset", "chdir", "split-string"],
            stop_at_operand: true,
        },
    );
    let mut env: Vec<(String, Lookup)> = c.env.to_vec();
    let mut rest: Vec<Field> = Vec::new();
    if let Some(s) = o.value(&["-S", "--split-string"]) {
        let s = opts::value_text(
            if s.text.starts_with("--") {
                "--split-string"
            } else {
                "-S"
            },
            s,
        );
        match s.value() {
            Some(text) => match crate::lex::lex(text) {
                Ok(toks) => {
                    for t in toks {
                        if let crate::lex::Tok::Word(w) = t {
                            rest.extend(
                                an.expand(std::slice::from_ref(&w), frame)
                                    .into_iter()
                                    .flatten(),
                            );
                        }
                    }
                }
                Err(e) => an.deny(format!("cannot parse `env -S`: {}", e.0)),
            },
            None => an.deny(format!(
                "`env -S` runs a command that cannot be resolved: `{}`",
                s.text
            )),
        }
    }
    // Operands: NAME=value assignments, then the command.
    for f in &o.operands {
        match f.value().and_then(|v| v.split_once('=')) {
            Some((k, v))
                if rest.is_empty()
                    && !k.is_empty()
                    && k.chars().all(|ch| ch == '_' || ch.is_ascii_alphanumeric()) =>
            {
                env.push((k.to_string(), Lookup::Known(v.to_string())));
            }
            _ => rest.push((*f).clone()),
        }
    }
    if rest.is_empty() {
        return Produces::Other("env".into());
    }
    match o.value(&["-C", "--chdir"]) {
        Some(dir) => {
            let dir = opts::value_text(
                if dir.text.starts_with("--") {
                    "--chdir"
                } else {
                    "-C"
                },
                dir,
            );
            let mut inner = frame.clone();
            inner.dir = dir.value().and_then(|d| frame.resolve(d));
            an.command_in(&rest, &mut inner, c.stdin, &env)
        }
        None => an.command_in(&rest, frame, c.stdin, &env),
    }
}

/// `xargs [opts] command [args]`: the command gets arguments read from standard input.
fn xargs(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let o = parse(
        c.args(),
        &Spec {
            short_args: "IinPdaLsEe",
            long_args: &[
                "replace",
                "max-args",
                "max-procs",
                "delimiter",
                "arg-file",
                "max-lines",
                "max-chars",
                "eof",
            ],
            stop_at_operand: true,
        },
    );
    let input = Field {
        text: XARGS_INPUT.into(),
        unknown: Some(Why {
            what: XARGS_INPUT.into(),
            download: match c.stdin {
                Stdin::Download(by) => Some(by.clone()),
                _ => None,
            },
        }),
        glob: false,
    };
    let input = match c.stdin {
        // Known input: `echo / | xargs rm -rf` is `rm -rf /`.
        Stdin::Text(t) => {
            let fields: Vec<Field> = t.split_whitespace().map(Field::known).collect();
            if fields.is_empty() {
                vec![input]
            } else {
                fields
            }
        }
        // `find ROOT | xargs ..`: paths below ROOT.
        Stdin::Paths(p) if !p.is_empty() => p.clone(),
        _ => vec![input],
    };
    let replace = o
        .value(&["-I", "-i", "--replace"])
        .map(|f| opts::value_text("-I", f).text);
    let mut inner: Vec<Field> = Vec::new();
    for f in &o.operands {
        match (&replace, f.value()) {
            (Some(r), Some(v)) if v.contains(r.as_str()) => {
                for i in &input {
                    inner.push(match i.value() {
                        Some(iv) => Field {
                            text: v.replace(r.as_str(), iv),
                            unknown: None,
                            glob: i.glob || f.glob,
                        },
                        None => i.clone(),
                    });
                }
            }
            _ => inner.push((*f).clone()),
        }
    }
    if inner.is_empty() {
        inner.push(Field::known("echo"));
    }
    if replace.is_none() {
        inner.extend(input);
    }
    an.command_in(&inner, frame, &Stdin::Inherit, c.env)
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
