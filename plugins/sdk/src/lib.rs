//! The guest side of tend's `probe` world (`tend:plugin@0.2.3`, WIT in the repository's `wit/`).
//!
//! A probe is a type implementing [`Probe`], exported once per crate with [`export_probe!`]:
//!
//! ```no_run
//! use tend_plugin_sdk::{Health, Probe, Target};
//!
//! struct Up;
//! impl Probe for Up {
//!     fn check(target: Target) -> Health {
//!         Health::healthy(format!("{} is fine", target.service))
//!     }
//! }
//! tend_plugin_sdk::export_probe!(Up);
//! ```
//!
//! The host functions are wrapped in [`log`], [`kv`], [`http`] and [`net`]; they are the only I/O a
//! probe needs, and the daemon enforces the plugin's grants on every call.
//!
//! Only the `probe` world is generated here. Components of tend's other worlds run
//! `wit_bindgen::generate!` on the same `wit/` themselves: a world's bindings put its world-level
//! types into every component that links them, so bundling all worlds would give each probe the
//! types of `command-policy`, `fixer`, ... as imports.

mod health;
pub mod http;
pub mod kv;
pub mod log;
pub mod net;
mod target;

pub use serde_json;

// Lets the generated code name this crate by the path its users see, from inside and outside.
extern crate self as tend_plugin_sdk;

/// The generated bindings of the `probe` world. Public for [`export_probe!`]; use the re-exports and
/// helper modules instead.
#[doc(hidden)]
// Generated code: the canonical ABI passes flattened records as many arguments.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "probe",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "tend_plugin_sdk::bindings",
    });
}

pub use bindings::tend::plugin::types::{Health, HealthStatus, Level, Target};

/// A health probe: the daemon calls `check` once per health check of a service.
///
/// `check` runs with the plugin's time and memory limits; a panic or trap counts as a failed check.
pub trait Probe {
    fn check(target: Target) -> Health;
}

impl<P: Probe> bindings::Guest for P {
    fn check(target: Target) -> Health {
        P::check(target)
    }
}

/// Exports a [`Probe`] implementation as the component's `check` function. Use it once per crate.
#[macro_export]
macro_rules! export_probe {
    ($probe:ident) => {
        $crate::bindings::export!($probe with_types_in $crate::bindings);
    };
}
