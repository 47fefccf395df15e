//! Native unit tests: every rule on in-memory projects (matches and near misses), the repeat
//! guard, the agent loop against a scripted model, the rules' commands against the built-in
//! command policy, and a property test that no rule names a path outside the project.

mod agent;
mod fakes;
mod jail;
mod rules;
