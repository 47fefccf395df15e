//! Programs that take the machine down: `shutdown`, `reboot`, `halt`, `poweroff`, `init 0/6`,
//! `systemctl poweroff|reboot|halt|...`, and `kill` of every process (`-1`) or of init (`1`).

use super::Cmd;
use crate::analyse::Analyser;

pub fn check(an: &mut Analyser, c: &Cmd<'_>) {
    let args: Vec<Option<&str>> = c.args().iter().map(|f| f.value()).collect();
    match c.name {
        "shutdown" | "reboot" | "halt" | "poweroff" => {
            an.deny(format!(
                "shuts down or reboots the machine (`{}`)",
                c.shown()
            ));
        }
        "init" | "telinit"
            if args
                .iter()
                .any(|a| a.is_none_or(|a| matches!(a, "0" | "6"))) =>
        {
            an.deny(format!(
                "changes the runlevel to halt or reboot (`{}`)",
                c.shown()
            ));
        }
        "systemctl" | "loginctl" => {
            const VERBS: &[&str] = &[
                "poweroff",
                "reboot",
                "halt",
                "kexec",
                "soft-reboot",
                "rescue",
                "emergency",
                "suspend",
                "hibernate",
                "hybrid-sleep",
            ];
            const TARGETS: &[&str] = &[
                "poweroff.target",
                "reboot.target",
                "halt.target",
                "kexec.target",
                "rescue.target",
                "emergency.target",
                "runlevel0.target",
                "runlevel6.target",
            ];
            let words: Vec<&str> = args
                .iter()
                .flatten()
                .filter(|a| !a.starts_with('-'))
                .copied()
                .collect();
            let verb = words.first().copied();
            let stops_machine = verb.is_some_and(|v| VERBS.contains(&v))
                || (verb == Some("isolate") && words.get(1).is_some_and(|t| TARGETS.contains(t)))
                || (matches!(verb, Some("start" | "restart"))
                    && words[1..].iter().any(|t| TARGETS.contains(t)));
            if stops_machine {
                an.deny(format!(
                    "shuts down or reboots the machine (`{}`)",
                    c.shown()
                ));
            } else if args.iter().any(Option::is_none) {
                an.deny(format!(
                    "`{}` with an argument that cannot be resolved (it could power the machine off)",
                    c.shown()
                ));
            }
        }
        "kill" => {
            // kill [-s SIG | -SIG | -n N] [--] PID..
            let mut pids = Vec::new();
            let mut i = 0;
            let mut options = true;
            while i < args.len() {
                let a = args[i];
                i += 1;
                match a {
                    Some("--") if options => options = false,
                    Some("-s" | "-n") if options => i += 1,
                    Some("-l" | "-L") if options => return,
                    Some(s) if options && s.starts_with('-') && pids.is_empty() && i == 1 => {}
                    other => {
                        options = false;
                        pids.push(other);
                    }
                }
            }
            for p in pids {
                match p {
                    Some("-1") => an.deny(format!("signals every process on the machine (`{}`)", c.shown())),
                    Some("1") => an.deny(format!("signals init, pid 1 (`{}`)", c.shown())),
                    Some(p) if p.starts_with('-') || p == "0" => an.deny(format!(
                        "signals a whole process group (`{}`); it could hold tend itself",
                        c.shown()
                    )),
                    Some(p) if an.ctx.daemon_pid != 0 && p == an.ctx.daemon_pid.to_string() => {
                        an.deny(format!(
                            "signals tend itself (pid {p}), which is protected (`{}`)",
                            c.shown()
                        ));
                    }
                    Some(p) if !p.starts_with('%') && !p.bytes().all(|b| b.is_ascii_digit()) => {
                        an.deny(format!(
                            "`{}`: `{p}` is not a pid; refused",
                            c.shown()
                        ));
                    }
                    None => an.deny(format!(
                        "`{}` signals a process that cannot be resolved (it could be -1, every process)",
                        c.shown()
                    )),
                    _ => {}
                }
            }
        }
        "pkill" | "killall" => by_name(an, c),
        _ => {}
    }
}

/// `pkill PATTERN`, `killall NAME`: the pattern must be a plain name that cannot match tend (its
/// process name or, with `pkill -f`, its command line); no user-wide or regex kills.
fn by_name(an: &mut Analyser, c: &Cmd<'_>) {
    let full = c.args().iter().any(|f| {
        f.value().is_some_and(|v| {
            v == "--full" || (v.starts_with('-') && !v.starts_with("--") && v.contains('f'))
        })
    });
    let mut patterns = Vec::new();
    let mut args = c.args().iter();
    while let Some(f) = args.next() {
        match f.value() {
            None => {
                an.deny(format!(
                    "`{}` kills processes named by something that cannot be resolved (it could be tend)",
                    c.shown()
                ));
                return;
            }
            Some("-s" | "--signal") => {
                args.next();
            }
            Some(v) if v.starts_with('-') => {
                let letters = v.trim_start_matches('-');
                let known_flag = letters
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch.is_ascii_uppercase())
                    || matches!(
                        v,
                        "-f" | "--full"
                            | "-x"
                            | "--exact"
                            | "-e"
                            | "--exact-match"
                            | "-q"
                            | "--quiet"
                            | "-w"
                            | "--wait"
                            | "-n"
                            | "--newest"
                            | "-o"
                            | "--oldest"
                    );
                if !known_flag {
                    an.deny(format!(
                        "`{}`: the option `{v}` selects processes by more than a name (user, group, session, regex); refused",
                        c.shown()
                    ));
                    return;
                }
            }
            Some(v) => patterns.push(v),
        }
    }
    if patterns.is_empty() {
        an.deny(format!("`{}` without a process name", c.shown()));
    }
    for p in patterns {
        if !p.chars().all(|ch| {
            ch.is_ascii_alphanumeric()
                || matches!(ch, '_' | '-' | '.' | '/' | ' ' | ':' | '@' | '=')
        }) {
            an.deny(format!(
                "`{}`: the pattern `{p}` is not a plain name (regular expressions could match tend)",
                c.shown()
            ));
            continue;
        }
        let hits = an.ctx.daemon_names.iter().any(|n| {
            let target = if full {
                n.as_str()
            } else {
                crate::paths::basename(n.split(' ').next().unwrap_or(n))
            };
            // `.` matches any character in pkill's regex.
            let p = p.as_bytes();
            let t = target.as_bytes();
            t.len() >= p.len()
                && (0..=t.len() - p.len())
                    .any(|k| p.iter().zip(&t[k..]).all(|(a, b)| *a == b'.' || a == b))
        });
        if hits || p.is_empty() {
            an.deny(format!(
                "`{}` would kill tend itself (the pattern `{p}` matches the daemon), which is protected",
                c.shown()
            ));
        }
    }
}
