//! tend: a service supervisor. See ARCHITECTURE.md for the map of this crate.

pub(crate) mod agent;
pub(crate) mod api;
pub(crate) mod caddy;
pub(crate) mod chat;
pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod cron;
pub(crate) mod daemon;
pub(crate) mod deps;
pub(crate) mod events;
pub(crate) mod failure;
pub(crate) mod fix;
pub(crate) mod import;
pub(crate) mod legacy_env;
pub(crate) mod lifecycle;
pub(crate) mod listen;
pub(crate) mod llm;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod notify;
pub(crate) mod onboard;
pub(crate) mod ops;
pub(crate) mod panics;
pub(crate) mod plugins;
pub(crate) mod policy;
pub(crate) mod process;
pub(crate) mod project;
pub(crate) mod spec;
pub(crate) mod store;
pub(crate) mod supervisor;
pub(crate) mod wire;
pub(crate) mod workflow;

// What the binary and the examples use; everything else is crate-private, so the dead-code lint sees
// functions nothing calls.
pub use cli::main;
pub use events::Bus;
pub use plugins::{Outcome, PluginHost, PluginSettings, ProbeTarget};
pub use store::Store;
pub use wire::LatencyHistogram;
