//! supervisord's `.conf`: its ini dialect (`;` and `#` comments, inline after whitespace; `=` or `:`;
//! indented continuation lines; keys in lower case), the `%(name)s` expansions (`program_name`,
//! `process_num` with its width as in `%(process_num)02d`, `group_name`, `numprocs`, `here`,
//! `ENV_X`), and `[program:x]` sections: `numprocs` makes one service per process with the expanded
//! `process_name`; `autostart`, `autorestart` (true, false, unexpected) with `exitcodes`,
//! `startretries`, `stopsignal`, `stopwaitsecs`, `directory`, `environment` (with its quoting).
//! `user`, `priority`, `[group:x]`, log files and supervisord's own sections are warned.

use super::common::{Warnings, resolve, spec};
use super::{Draft, ImportError, Input};
use crate::wire::{CommandLine, RestartPolicy};

/// One `key = value` of a section, with the line it started on.
struct Entry {
    key: String,
    value: String,
    line: usize,
}

struct Section {
    name: String,
    entries: Vec<Entry>,
}

/// supervisord's ini dialect into sections.
fn parse_ini(content: &str) -> Result<Vec<Section>, ImportError> {
    let mut sections: Vec<Section> = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let n = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // A continuation of the previous value.
            match sections.last_mut().and_then(|s| s.entries.last_mut()) {
                Some(e) => {
                    e.value.push('\n');
                    e.value.push_str(strip_comment(trimmed));
                    continue;
                }
                None => {
                    return Err(ImportError::line(
                        n,
                        "ini",
                        "an indented line continues no value",
                    ));
                }
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.split_once(']').map(|(name, _)| name.trim()) else {
                return Err(ImportError::line(n, "ini", "a section header without `]`"));
            };
            sections.push(Section {
                name: name.to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(ImportError::line(
                n,
                "ini",
                format!("expected `key = value`, found {trimmed:?}"),
            ));
        };
        let Some(section) = sections.last_mut() else {
            return Err(ImportError::line(n, "ini", "a value before any [section]"));
        };
        section.entries.push(Entry {
            key: trimmed[..at].trim().to_ascii_lowercase(),
            value: strip_comment(trimmed[at + 1..].trim()).to_string(),
            line: n,
        });
    }
    Ok(sections)
}

/// An inline comment starts with `;` or `#` after whitespace.
fn strip_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b';' || bytes[i] == b'#') && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

/// What `%(name)s` may name in a program section.
struct Vars<'a> {
    program: &'a str,
    num: u32,
    numprocs: u32,
    input: &'a Input<'a>,
}

impl Vars<'_> {
    fn expand(&self, value: &str, e: &Entry, object: &str) -> Result<String, ImportError> {
        let fail = |m: String| ImportError::line(e.line, format!("{object} {}", e.key), m);
        let mut out = String::new();
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            rest = &rest[pos + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                out.push('%');
                rest = after;
                continue;
            }
            let Some(inner) = rest.strip_prefix('(') else {
                return Err(fail("a `%` that starts no `%(name)s`: write `%%`".into()));
            };
            let Some((name, after)) = inner.split_once(')') else {
                return Err(fail("`%(` without its `)`".into()));
            };
            let conv_len = after
                .find(|c: char| c.is_ascii_alphabetic())
                .ok_or_else(|| fail(format!("%({name}) without a conversion such as `s`")))?;
            let (flags, conv) = (&after[..conv_len], &after[conv_len..conv_len + 1]);
            rest = &after[conv_len + 1..];
            let value = match name {
                "program_name" | "group_name" => self.program.to_string(),
                "process_num" => self.num.to_string(),
                "numprocs" => self.numprocs.to_string(),
                "here" => self.input.base_dir.display().to_string(),
                _ => match name.strip_prefix("ENV_") {
                    Some(var) => self.input.environment.get(var).cloned().ok_or_else(|| {
                        fail(format!(
                            "%({name})s: {var} is not set in the environment tend import runs in"
                        ))
                    })?,
                    None => return Err(fail(format!("%({name}){conv} cannot be expanded"))),
                },
            };
            match conv {
                "s" => out.push_str(&value),
                "d" => {
                    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
                    let zero = flags.starts_with('0');
                    let n: i64 = value
                        .parse()
                        .map_err(|_| fail(format!("%({name})d of {value:?}: not a number")))?;
                    if zero {
                        out.push_str(&format!("{n:0width$}"));
                    } else {
                        out.push_str(&format!("{n:width$}"));
                    }
                }
                other => return Err(fail(format!("%({name}){other}: use s or d"))),
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let mut out = Vec::new();
    for section in parse_ini(input.content)? {
        let name = section.name.as_str();
        if let Some(program) = name.strip_prefix("program:") {
            program_section(program.trim(), &section, input, w, &mut out)?;
        } else if name.starts_with("group:") {
            let programs = section
                .entries
                .iter()
                .find(|e| e.key == "programs")
                .map(|e| e.value.clone())
                .unwrap_or_default();
            w.add(
                name,
                "programs",
                format!(
                    "groups have no equivalent: {programs} are imported as separate services \
                     (start or stop them one by one, or make one depend on the others)"
                ),
            );
        } else if name == "include" {
            w.add(
                name,
                "files",
                "included files are not followed: import each of them with tend import",
            );
        } else if name.starts_with("eventlistener:") || name.starts_with("fcgi-program:") {
            w.add(name, "section", "no equivalent in tend: not imported");
        } else {
            w.add(
                name,
                "section",
                "supervisord's own settings (tend's are the daemon's flags and tend.toml): not \
                 imported",
            );
        }
    }
    Ok(out)
}

fn program_section(
    program: &str,
    section: &Section,
    input: &Input<'_>,
    w: &mut Warnings,
    out: &mut Vec<Draft>,
) -> Result<(), ImportError> {
    let object = format!("program:{program}");
    let get = |key: &str| section.entries.iter().find(|e| e.key == key);
    let number = |key: &str, default: u32| -> Result<u32, ImportError> {
        match get(key) {
            None => Ok(default),
            Some(e) => e.value.trim().parse().map_err(|_| {
                ImportError::line(e.line, format!("{object} {key}"), "expected a whole number")
            }),
        }
    };
    let numprocs = number("numprocs", 1)?.max(1);
    let start = number("numprocs_start", 0)?;
    let Some(command) = get("command") else {
        return Err(ImportError::at(&object, "no `command`"));
    };
    if numprocs > 1 && !get("process_name").is_some_and(|e| e.value.contains("%(process_num)")) {
        return Err(ImportError::line(
            get("numprocs").map_or(command.line, |e| e.line),
            format!("{object} process_name"),
            "numprocs > 1 needs a process_name with %(process_num) (as supervisord does)",
        ));
    }
    for num in start..start + numprocs {
        let vars = Vars {
            program,
            num,
            numprocs,
            input,
        };
        let name = match get("process_name") {
            Some(e) => vars.expand(&e.value, e, &object)?,
            None => program.to_string(),
        };
        let argv = shlex::split(&vars.expand(&command.value, command, &object)?)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                ImportError::line(
                    command.line,
                    format!("{object} command"),
                    "unbalanced quotes, or empty",
                )
            })?;
        let mut s = spec(&name, CommandLine::Argv(argv), input.base_dir);
        // Warnings once per program, not once per process.
        let first = num == start;
        let mut warn = |field: &str, reason: &str| {
            if first {
                w.add(&object, field, reason);
            }
        };
        let mut autorestart = "unexpected".to_string();
        let mut exitcodes = None;
        for e in &section.entries {
            let at = || format!("{object} {}", e.key);
            let bad = |m: &str| ImportError::line(e.line, at(), m.to_string());
            let flag = || match e.value.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(bad("expected true or false")),
            };
            match e.key.as_str() {
                "command" | "process_name" | "numprocs" | "numprocs_start" => {}
                "autostart" => s.enabled = flag()?,
                "autorestart" => autorestart = e.value.trim().to_ascii_lowercase(),
                "exitcodes" => exitcodes = Some(e.value.trim().to_string()),
                "startretries" => s.max_restarts = number("startretries", 3)?,
                "stopsignal" => {
                    let sig = crate::spec::parse_signal(&e.value)
                        .ok_or_else(|| bad("not a signal name"))?;
                    s.stop_signal = sig.as_str().to_string();
                }
                "stopwaitsecs" => s.stop_timeout_s = number("stopwaitsecs", 10)?.max(1) as u64,
                "directory" => {
                    let dir = vars.expand(&e.value, e, &object)?;
                    s.working_dir = Some(resolve(input.base_dir, &dir));
                }
                "environment" => {
                    let text = vars.expand(&e.value, e, &object)?;
                    for (k, v) in environment(&text).map_err(|m| bad(&m))? {
                        s.env.insert(k, v);
                    }
                }
                "stopasgroup" | "killasgroup" => {
                    if !flag()? {
                        warn(
                            &e.key,
                            "tend always stops a service's whole process tree: not imported",
                        );
                    }
                }
                "user" => warn(
                    "user",
                    "tend runs services as the user the daemon runs as: run tend as that user, \
                     or `sudo -u` in the command; not imported",
                ),
                "priority" => warn(
                    "priority",
                    "tend starts independent services in parallel: express an order with \
                     depends_on; not imported",
                ),
                "startsecs" => warn(
                    "startsecs",
                    "a start counts at once in tend (a health check gates `healthy`; \
                     backoff.reset_after_s forgets the restarts of a service that stays up): \
                     not imported",
                ),
                "redirect_stderr" => warn(
                    "redirect_stderr",
                    "tend keeps stdout and stderr apart, in one log (`tend logs NAME`): not \
                     imported",
                ),
                k if k.starts_with("stdout_") || k.starts_with("stderr_") => warn(
                    k,
                    "tend captures and rotates the output itself (`tend logs NAME`; [logs] in \
                     tend.toml): not imported",
                ),
                k => warn(k, "no equivalent in tend: not imported"),
            }
        }
        s.restart = match autorestart.as_str() {
            "true" => RestartPolicy::Always,
            "false" => RestartPolicy::Never,
            "unexpected" => RestartPolicy::OnFailure,
            other => {
                let e = get("autorestart").unwrap_or(command);
                return Err(ImportError::line(
                    e.line,
                    format!("{object} autorestart"),
                    format!("{other:?}: expected true, false or unexpected"),
                ));
            }
        };
        if let Some(codes) = exitcodes {
            let only_zero = codes.split(',').all(|c| c.trim() == "0");
            if !only_zero && s.restart == RestartPolicy::OnFailure {
                warn(
                    "exitcodes",
                    &format!(
                        "only exit 0 is expected in tend (on-failure restarts after any other), \
                         {codes} were: not imported"
                    ),
                );
            } else if !only_zero {
                warn(
                    "exitcodes",
                    "only used with autorestart=unexpected: not imported",
                );
            }
        }
        out.push(Draft {
            object: object.clone(),
            spec: s,
        });
    }
    Ok(())
}

/// `KEY="value",KEY2='v, 2',KEY3=v3` as supervisord reads `environment`.
fn environment(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let key = key.trim().to_string();
        if key.is_empty() || key.contains(',') {
            return Err(format!(
                "expected KEY=value pairs separated by commas in {text:?}"
            ));
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == q {
                        closed = true;
                        break;
                    }
                    value.push(c);
                }
                if !closed {
                    return Err(format!("the value of {key} has no closing {q}"));
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_quoting_follows_supervisord() {
        assert_eq!(
            environment(r#"A="x, y",B='q',C=plain , D="""#).unwrap(),
            vec![
                ("A".into(), "x, y".into()),
                ("B".into(), "q".into()),
                ("C".into(), "plain".into()),
                ("D".into(), "".into()),
            ]
        );
        assert!(environment("A=\"open").unwrap_err().contains("closing"));
    }

    #[test]
    fn comments_and_continuations() {
        let s =
            parse_ini("; top\n[program:a]\ncommand = run ; inline\n  --more\nx:1#not\n").unwrap();
        assert_eq!(s[0].entries[0].value, "run\n--more");
        assert_eq!(s[0].entries[1].value, "1#not");
        assert_eq!(s[0].entries[1].line, 5);
    }
}
