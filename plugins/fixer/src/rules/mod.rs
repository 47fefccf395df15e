//! The deterministic rules: each recognises one common failure from the incident (log tail, exit
//! code, port holder, env names) and the project's files, and proposes a small reversible fix
//! (author `rule`, source = the rule's name) or says why there is none. They never call the model,
//! so they work with no LLM configured and their proposals count as rule-written.
//!
//! A rule's diagnosis starts with `<rule>: `; that is how the repeat guard recognises an earlier
//! attempt of the same rule in `incident.previous` (the `attempt` record names no source).

mod env;
mod exec;
mod missing_dir;
mod port;
mod python;

use crate::model::{Answer, Author, Edit, FixCommand, Incident, Log, Project, Proposal};

/// What one rule makes of an incident.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    Fix(Proposal),
    /// Recognised, and nothing may be done about it by anyone (a stranger holds the port): the
    /// model is not asked either.
    Final(String),
    /// Recognised, but the rule cannot fix it; the reason is the answer when no model is configured
    /// and a hint to the model when one is.
    Note(String),
}

type Rule = fn(&Incident, &dyn Project) -> Option<Finding>;

/// In order: the first rule to propose a fix (or a final answer) wins.
pub const RULES: &[(&str, Rule)] = &[
    (port::NAME, port::check),
    (exec::NAME, exec::check),
    (missing_dir::NAME, missing_dir::check),
    (python::NAME, python::check),
    (env::NAME, env::check),
];

/// What the rules together make of an incident: a decisive answer, or the notes for the agent.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Decided(Answer),
    Notes(Vec<String>),
}

pub fn run(incident: &Incident, project: &dyn Project, log: &dyn Log) -> Outcome {
    let mut notes = Vec::new();
    for (name, rule) in RULES {
        match rule(incident, project) {
            None => {}
            Some(Finding::Fix(p)) => match failed_before(incident, name) {
                Some(outcome) => {
                    log.info(&format!(
                        "rule {name}: matched, but tried before ({outcome})"
                    ));
                    notes.push(format!(
                        "{name}: the rule's fix was tried before and ended `{outcome}`; not proposing it again ({})",
                        p.diagnosis
                    ));
                }
                None => {
                    log.info(&format!("rule {name}: {}", p.diagnosis));
                    return Outcome::Decided(Answer::Fix(p));
                }
            },
            Some(Finding::Final(reason)) => {
                log.info(&format!("rule {name}: no safe fix: {reason}"));
                return Outcome::Decided(Answer::NoSafeFix(reason));
            }
            Some(Finding::Note(reason)) => {
                log.info(&format!("rule {name}: {reason}"));
                notes.push(reason);
            }
        }
    }
    Outcome::Notes(notes)
}

/// The outcome of an earlier attempt of rule `name` on this target that did not work (anything but
/// `verified`: failed verification, denied, invalid, rejected by a person, failed).
fn failed_before(incident: &Incident, name: &str) -> Option<String> {
    let tag = format!("{name}: ");
    incident
        .previous
        .iter()
        .rev()
        .find(|a| a.diagnosis.starts_with(&tag) && a.outcome != "verified")
        .map(|a| a.outcome.clone())
}

/// A rule's proposal.
fn proposal(
    name: &str,
    diagnosis: String,
    confidence: f32,
    edits: Vec<Edit>,
    commands: Vec<FixCommand>,
) -> Finding {
    Finding::Fix(Proposal {
        diagnosis: format!("{name}: {diagnosis}"),
        confidence,
        edits,
        commands,
        restart: true,
        author: Author::Rule,
        source: name.to_string(),
    })
}

/// The log tail, one line at a time, newest last.
fn lines(incident: &Incident) -> impl DoubleEndedIterator<Item = &str> {
    incident.log_tail.iter().map(String::as_str)
}
