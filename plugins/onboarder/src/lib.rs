//! tend's built-in onboarder (plugin `onboarder`, world `onboarder`): reads a project through the
//! host's `project` interface and plans how to run it. Deterministic detectors first (`detect`), one
//! per ecosystem, each naming the files that led to its choices; a model refines the plan only when
//! the caller names one (`refine`). An onboarder only proposes: the host validates the plan, asks the
//! command policy about its setup steps, registers and starts.
//!
//! The logic sees the host through the traits of `model` (`Project`, `Llm`, `Log`), implemented over
//! the WIT imports in the wasm build (`component`) and by in-memory fakes in the unit tests.

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

pub mod detect;
pub mod model;
pub mod refine;

#[cfg(test)]
mod tests;

#[cfg(target_arch = "wasm32")]
mod component;

use model::{Llm, Log, Plan, Project};

/// The plan for the project at the root `project` reads, named `name`, handing out `free_ports` in
/// order. `Err` is a sentence: `nothing found in <name>: ...` when no detector recognised anything
/// runnable (and the model, when one was named, proposed nothing valid either). The model is asked
/// once, and only when `model` names one.
pub fn analyze(
    project: &dyn Project,
    name: &str,
    free_ports: &[u16],
    model: Option<&str>,
    llm: &mut dyn Llm,
    log: &dyn Log,
) -> Result<Plan, String> {
    let detected = detect::plan(project, name, free_ports, log);
    match model {
        Some(model) => {
            let plan = refine::refine(project, name, free_ports, model, llm, detected);
            match &plan {
                Ok(p) if p.author == model::Author::Model => {
                    log.info(&format!("the model {model} refined the plan"))
                }
                Ok(_) => log.warn(&format!("the model {model}'s plan was rejected")),
                Err(e) => log.warn(e),
            }
            plan
        }
        None => detected,
    }
}
