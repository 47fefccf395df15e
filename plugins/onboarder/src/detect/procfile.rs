//! Procfile: the project's own declaration of its processes. Every process type is a service
//! (names sorted: Heroku's pick among several is not deterministic, ours is), `web` and any line
//! using `$PORT` listen, `release` is a setup step run before anything starts.

use super::{Detected, Dir, Found, text};
use crate::model::{CommandType, Evidence, Setup};

pub fn detect(dir: &Dir) -> Detected {
    if !dir.has("Procfile") {
        return Detected::default();
    }
    let Some(content) = dir.read("Procfile") else {
        return Detected::default();
    };
    let path = dir.join("Procfile");
    let mut d = Detected {
        source: "procfile",
        ..Detected::default()
    };
    let mut lines: Vec<(String, String)> = Vec::new();
    for line in content.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((kind, command)) = line.split_once(':') else {
            d.notes
                .push(format!("{path}: `{line}` is not `type: command`; skipped"));
            continue;
        };
        let kind = kind.trim();
        let command = command.trim();
        let valid = !kind.is_empty()
            && kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid || command.is_empty() {
            d.notes
                .push(format!("{path}: `{line}` is not `type: command`; skipped"));
            continue;
        }
        if lines.iter().any(|(k, _)| k == kind) {
            d.notes.push(format!(
                "{path}: process type `{kind}` is declared twice; the first is kept"
            ));
            continue;
        }
        lines.push((kind.to_string(), command.to_string()));
    }
    lines.sort();
    for (kind, command) in lines {
        if kind == "release" {
            d.setup.push(Setup {
                command_type: CommandType::Shell,
                command: command.clone(),
                is_safe: false,
                allowed_in_production: false,
                timeout_s: Some(600),
                reason: format!("the Procfile's release phase: `{command}`"),
                working_dir: dir.path.clone(),
            });
            d.evidence.push(Evidence::new(
                &path,
                format!("release: {command} (a setup step)"),
            ));
            continue;
        }
        let listens = kind == "web" || command.contains("$PORT") || command.contains("${PORT");
        if listens && command.contains("0.0.0.0") {
            d.notes.push(format!(
                "{path}: `{kind}` binds 0.0.0.0 (every interface); it is run as declared, \
                 127.0.0.1 would keep it local"
            ));
        }
        d.services.push(Found {
            process: kind.clone(),
            argv: text::argv_of(&command),
            working_dir: dir.path.clone(),
            listens,
            confidence: 0.9,
            evidence: vec![Evidence::new(&path, format!("{kind}: {command}"))],
            ..Found::default()
        });
    }
    d
}
