//! The guest side of tend's `probe` world (`tend:plugin@0.1.0`, WIT in the repository's `wit/`).
//!
//! A probe is a type implementing [`Probe`], exported once per crate with [`export_probe!`]:
//!
//! ```ignore
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
//! probe needs, and the daemon enforces the plugin's grants on every call. Components of tend's other
//! worlds use the raw bindings in [`worlds`] (and the same helper modules).

mod health;
pub mod http;
pub mod kv;
pub mod log;
pub mod net;
mod target;

pub use serde_json;

// Lets the generated code name this crate by the path its users see, from inside and outside.
extern crate self as tend_plugin_sdk;

/// The generated bindings of every world in `tend:plugin@0.1.0`. A probe needs none of this directly
/// (see the crate root); a component of another world uses its module here, e.g.
/// `worlds::command_policy::{Guest, ...}` and `worlds::command_policy::export!(MyType)`.
///
/// The shared interfaces (`types`, `log`, `kv`, `http`, `net`) are generated once, in `probe`, so the
/// helper modules of this crate work in every world. wit-component drops the imports a component
/// does not use, and only the world whose `export!` a crate invokes adds exports.
// Generated code: the canonical ABI passes flattened records as many arguments.
#[allow(clippy::too_many_arguments)]
pub mod worlds {
    pub mod probe {
        wit_bindgen::generate!({
            world: "probe",
            path: "../../wit",
            pub_export_macro: true,
            default_bindings_module: "tend_plugin_sdk::worlds::probe",
        });
    }

    pub mod command_policy {
        wit_bindgen::generate!({
            world: "command-policy",
            path: "../../wit",
            pub_export_macro: true,
            default_bindings_module: "tend_plugin_sdk::worlds::command_policy",
            with: {
                "tend:plugin/types@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::types,
                "tend:plugin/log@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::log,
            },
        });
    }

    pub mod proxy_config {
        wit_bindgen::generate!({
            world: "proxy-config",
            path: "../../wit",
            pub_export_macro: true,
            default_bindings_module: "tend_plugin_sdk::worlds::proxy_config",
            with: {
                "tend:plugin/types@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::types,
                "tend:plugin/log@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::log,
            },
        });
    }

    pub mod fixer {
        wit_bindgen::generate!({
            world: "fixer",
            path: "../../wit",
            pub_export_macro: true,
            default_bindings_module: "tend_plugin_sdk::worlds::fixer",
            with: {
                "tend:plugin/types@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::types,
                "tend:plugin/log@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::log,
                "tend:plugin/kv@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::kv,
                "tend:plugin/http@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::http,
            },
        });
    }

    pub mod onboarder {
        wit_bindgen::generate!({
            world: "onboarder",
            path: "../../wit",
            pub_export_macro: true,
            default_bindings_module: "tend_plugin_sdk::worlds::onboarder",
            with: {
                "tend:plugin/types@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::types,
                "tend:plugin/log@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::log,
                "tend:plugin/http@0.1.0": tend_plugin_sdk::worlds::probe::tend::plugin::http,
            },
        });
    }
}

pub use worlds::probe::tend::plugin::types::{Health, HealthStatus, Level, Target};

/// A health probe: the daemon calls `check` once per health check of a service.
///
/// `check` runs with the plugin's time and memory limits; a panic or trap counts as a failed check.
pub trait Probe {
    fn check(target: Target) -> Health;
}

impl<P: Probe> worlds::probe::Guest for P {
    fn check(target: Target) -> Health {
        P::check(target)
    }
}

/// Exports a [`Probe`] implementation as the component's `check` function. Use it once per crate.
#[macro_export]
macro_rules! export_probe {
    ($probe:ident) => {
        $crate::worlds::probe::export!($probe with_types_in $crate::worlds::probe);
    };
}
