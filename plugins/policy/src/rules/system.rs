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
                    None => an.deny(format!(
                        "`{}` signals a process that cannot be resolved (it could be -1, every process)",
                        c.shown()
                    )),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
