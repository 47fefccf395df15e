//! tend's built-in fixer (plugin `fixer`, world `fixer`): deterministic rules for common failures
//! first (`rules`: port in use, missing directory, missing exec bit, missing Python module, missing
//! env var), each a small reversible proposal that needs no model; then, when a model is
//! configured, an agent loop over the project's files ending in a `submit_fix` tool call (`agent`,
//! `tools`). A fixer only proposes: the host validates, judges, backs up, applies and verifies.
//!
//! The logic sees the host through the traits of `model` (`Project`, `Llm`, `Log`), implemented over
//! the WIT imports in the wasm build (`component`) and by in-memory fakes in the unit tests.

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

pub mod agent;
pub mod model;
pub mod rules;
pub mod text;
pub mod tools;

#[cfg(target_arch = "wasm32")]
mod component;

use model::{Answer, Incident, Llm, Log, Project};

/// The answer for an incident: a rule's fix or final word, else the model's, else (no model) why
/// the rules found nothing to do. `Err` when the model call itself failed.
pub fn propose(
    incident: &Incident,
    project: &dyn Project,
    llm: &mut dyn Llm,
    log: &dyn Log,
) -> Result<Answer, String> {
    let notes = match rules::run(incident, project, log) {
        rules::Outcome::Decided(answer) => return Ok(answer),
        rules::Outcome::Notes(notes) => notes,
    };
    match agent::run(incident, &notes, project, llm, log)? {
        Some(answer) => Ok(answer),
        None if notes.is_empty() => Ok(Answer::NoSafeFix(
            "no built-in rule recognises this failure, and no model is configured for the agent"
                .into(),
        )),
        None => Ok(Answer::NoSafeFix(notes.join("; "))),
    }
}

#[cfg(test)]
mod tests;
