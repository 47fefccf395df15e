//! Native unit tests: the plan assembly and each detector over in-memory projects, every fixture
//! project of `tests/fixtures/onboard/` through a `std::fs` project, and the refinement protocol
//! against a scripted model.

mod detect;
mod fakes;
mod fixtures;
mod refine;
