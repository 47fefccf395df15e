//! The wire contract: every type that crosses the API (REST bodies, query parameters and answers, the
//! control port's lines), shared by the daemon and the CLI client so the two cannot drift. Only plain
//! data lives here (and the daemon's defaults of two spec fields, which serde's default functions read:
//! `set_spec_defaults`): no I/O, no validation beyond serde's shape checks (semantic validation is
//! `spec::validate`, `cron::validate_spec` and the `ops` layer). Split by area; everything is
//! re-exported so `crate::wire::X` names every type. What crosses HTTP or SSE also derives `TS`: the
//! dashboard's TypeScript types are generated from it (`typescript.rs`, a test); the replaced
//! dashboard's shapes (`compat.rs`) do not, tend's dashboard never reads them.

mod bus;
mod caddy;
mod chat;
mod compat;
mod control;
mod cron;
mod error;
mod event;
mod export;
mod fix;
mod import;
mod llm;
mod log;
mod metrics;
mod onboard;
mod origin;
mod overview;
mod plugin;
mod policy;
mod service;
mod session;
mod status;
#[cfg(test)]
mod typescript;
mod workflow;

pub use bus::*;
pub use caddy::*;
pub use chat::*;
pub use compat::*;
pub use control::*;
pub use cron::*;
pub use error::*;
pub use event::*;
pub use export::*;
pub use fix::*;
pub use import::*;
#[allow(unused_imports)]
pub use llm::*;
pub use log::*;
pub use metrics::*;
pub use onboard::*;
pub use origin::*;
pub use overview::*;
pub use plugin::*;
pub use policy::*;
pub use service::*;
pub use session::*;
pub use status::*;
pub use workflow::*;
