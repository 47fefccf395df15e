//! Native unit tests: every rule on in-memory projects (matches and near misses), the repeat
//! guard, the agent loop against a scripted model, and the rules' commands against the built-in
//! command policy.

mod agent;
mod fakes;
mod rules;
