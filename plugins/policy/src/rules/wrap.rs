//! Programs that run another command: `nice`/`timeout`/`nohup`/... wrappers, `sudo`, `env` and `xargs`.
//! Their own options are judged here; the inner command is handed back to the analyser as a command.

use super::*;

/// Programs that run the rest of their arguments as a command, after options of their own.
pub(super) fn wrapper(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
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
pub(super) fn sudo(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
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
pub(super) fn env(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
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
pub(super) fn xargs(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
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
