//! A Procfile: every `name: command` line is a service run through the shell in the file's
//! directory. As foreman does, a command that uses `$PORT` gets `PORT` = 5000 + 100 × its index (and
//! that `port`). `release` is a setup step, not a service: warned and skipped.

use super::common::{Warnings, spec};
use super::{Draft, ImportError, Input};
use crate::wire::CommandLine;

/// `name: command` of one line, when it is one.
pub fn entry(line: &str) -> Option<(&str, &str)> {
    let (name, command) = line.split_once(':')?;
    let name = name.trim();
    let command = command.trim();
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !command.is_empty();
    ok.then_some((name, command))
}

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let mut out = Vec::new();
    for (i, raw) in input.content.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = entry(line) else {
            return Err(ImportError::line(
                i + 1,
                "Procfile",
                format!("expected `name: command`, found {line:?}"),
            ));
        };
        let object = format!("{name} (line {})", i + 1);
        if name == "release" {
            w.add(
                &object,
                "release",
                "a release step runs once before a deploy, not as a service: run it yourself, or \
                 register it with restart = \"never\" and make the others depend on it with \
                 condition \"completed\"; not imported",
            );
            continue;
        }
        let mut s = spec(name, CommandLine::Shell(command.into()), input.base_dir);
        if (command.contains("$PORT") || command.contains("${PORT}"))
            && let Ok(port) = u16::try_from(5000 + 100 * out.len())
        {
            s.env.insert("PORT".into(), port.to_string());
            s.port = Some(port);
        }
        out.push(Draft { object, spec: s });
    }
    Ok(out)
}
