//! tend: a service supervisor. See ARCHITECTURE.md for the map of this crate.

pub mod api;
pub mod caddy;
pub mod cli;
pub mod config;
pub mod control;
pub mod cron;
pub mod daemon;
pub mod events;
pub mod lifecycle;
pub mod logs;
pub mod metrics;
pub mod ops;
pub mod plugins;
pub mod policy;
pub mod process;
pub mod spec;
pub mod store;
pub mod supervisor;
pub mod wire;
pub mod workflow;
