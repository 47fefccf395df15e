//! Makefile: a `run`, `start` or `serve` target (the first of these, in that order) is a service
//! `make <target>` with `PORT` set, at low confidence (0.3): a target name says little about what
//! the recipe does, so any other detector of the same directory wins.

use super::{Detected, Dir, Found};
use crate::model::Evidence;

const TARGETS: &[&str] = &["run", "start", "serve"];

pub fn detect(dir: &Dir) -> Detected {
    let Some(file) = ["Makefile", "makefile", "GNUmakefile"]
        .into_iter()
        .find(|f| dir.has(f))
    else {
        return Detected::default();
    };
    let Some(content) = dir.read(file) else {
        return Detected::default();
    };
    let targets = targets(&content);
    let Some(target) = TARGETS.iter().find(|t| targets.iter().any(|x| x == *t)) else {
        return Detected::default();
    };
    let mut d = Detected {
        source: "makefile",
        ..Detected::default()
    };
    let others: Vec<&str> = TARGETS
        .iter()
        .filter(|t| *t != target && targets.iter().any(|x| x == *t))
        .copied()
        .collect();
    if !others.is_empty() {
        d.notes.push(format!(
            "{} also has {}: `make {target}` was chosen",
            dir.join(file),
            others.join(", ")
        ));
    }
    d.services.push(Found {
        argv: vec!["make".into(), (*target).into()],
        working_dir: dir.path.clone(),
        listens: true,
        confidence: 0.3,
        evidence: vec![Evidence::new(
            dir.join(file),
            format!("target `{target}` (a guess: the recipe is not read)"),
        )],
        ..Found::default()
    });
    d
}

/// The targets a Makefile defines (`name:` at the start of a line, not `name :=`).
fn targets(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in content.lines() {
        if line.starts_with(['\t', ' ', '#', '.']) {
            continue;
        }
        let Some((head, rest)) = line.split_once(':') else {
            continue;
        };
        if rest.starts_with('=') || head.contains('=') {
            continue;
        }
        for name in head.split_whitespace() {
            if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
            {
                out.push(name.to_string());
            }
        }
    }
    out
}
