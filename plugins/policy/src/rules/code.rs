//! Code a command would run that is not its own argv: shell text given as a value (`sh -c`, `eval`),
//! a script file, what a shell or interpreter reads on its standard input, interpreters' inline code
//! (only with `[policy] interpreters`). Analysed when the policy can see it, refused when it cannot.

use super::*;

/// Runs shell text given as a value (`sh -c`, `eval`, `su -c`, `watch`): analysed when known,
/// refused when it cannot be.
pub(super) fn run_text(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>, text: Field, how: &str) {
    run_text_with(an, frame, c, text, how, &[]);
}

pub(super) fn run_text_with(
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
pub(super) fn run_file(an: &mut Analyser, frame: &Frame, file: &Field, how: &str) {
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
pub(super) fn run_stdin(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
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
pub(super) fn shell(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
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
pub(super) fn interpreter(an: &mut Analyser, frame: &Frame, c: &Cmd<'_>) {
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
