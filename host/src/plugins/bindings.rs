//! The one place that runs `bindgen!`: Rust types for every world of `tend:plugin@0.2.3` (`wit/`),
//! and of the frozen previous major version `tend:plugin@0.1.0` (`wit/v0.1/`, module [`v0_1`]), which
//! the host keeps loading and adapts (wit/README.md, "Versioning"); and `World`, the names manifests
//! use for them, and `WitVersion`, which package a loaded component was built against. Imports are
//! async (they do I/O); exports are called async so that the epoch callback can yield and a
//! wall-clock timeout can cancel a call. The shared interfaces (types, log, kv, http, net, llm,
//! project, fixing) are generated once, from the WIT world `host` that includes every world (module
//! [`host`]), and reused by each world's own bindings; the 0.1 `types` interface is identical to
//! 0.2's and is mapped onto it, so both versions share one set of Rust types and each host interface
//! has exactly one implementation (`imports/`).

/// Every interface of the package, generated once. Its world struct is never instantiated.
pub mod host {
    wasmtime::component::bindgen!({
        world: "host",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
    });
}

macro_rules! other_world {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                imports: { default: async },
                exports: { default: async },
                with: { "tend:plugin": super::host::tend::plugin },
            });
        }
    };
}

other_world!(probe, "probe");
other_world!(command_policy, "command-policy");
other_world!(proxy_config, "proxy-config");
other_world!(fixer, "fixer");
other_world!(onboarder, "onboarder");
other_world!(deploy_export, "deploy-export");

/// `tend:plugin@0.1.0`, frozen. Only `command-policy` differs from 0.2 in what a world exports (its
/// request record and decision variant); the other worlds differ only in the version of the
/// interfaces they import, which the `Linker` serves under both names (`imports/v0_1.rs`).
pub mod v0_1 {
    pub mod probe {
        wasmtime::component::bindgen!({
            world: "probe",
            path: "../wit/v0.1",
            imports: { default: async },
            exports: { default: async },
            // Identical to 0.2's: one Rust type per WIT type across versions.
            with: { "tend:plugin/types@0.1.0": crate::plugins::bindings::host::tend::plugin::types },
        });
    }

    macro_rules! other_world_v0_1 {
        ($module:ident, $world:literal) => {
            pub mod $module {
                wasmtime::component::bindgen!({
                    world: $world,
                    path: "../wit/v0.1",
                    imports: { default: async },
                    exports: { default: async },
                    with: {
                        "tend:plugin/types@0.1.0": crate::plugins::bindings::host::tend::plugin::types,
                        "tend:plugin@0.1.0": super::probe::tend::plugin,
                    },
                });
            }
        };
    }

    other_world_v0_1!(command_policy, "command-policy");
    other_world_v0_1!(proxy_config, "proxy-config");
    other_world_v0_1!(fixer, "fixer");
    other_world_v0_1!(onboarder, "onboarder");
}

/// The `tend:plugin` package version a loaded component was built against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WitVersion {
    /// The previous major version, loaded and adapted for at least one release.
    V0_1,
    /// The current one.
    V0_2,
}

impl WitVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1.0",
            WitVersion::V0_2 => "0.2.3",
        }
    }

    /// The version an import named `tend:plugin/<interface>@<version>` belongs to, if it is one.
    pub fn of_import(name: &str) -> Option<WitVersion> {
        let version = name.strip_prefix("tend:plugin/")?.split_once('@')?.1;
        if version.starts_with("0.1.") {
            Some(WitVersion::V0_1)
        } else if version.starts_with("0.2.") {
            Some(WitVersion::V0_2)
        } else {
            None
        }
    }
}

/// A world of `tend:plugin`, as named in manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    Probe,
    CommandPolicy,
    ProxyConfig,
    Fixer,
    Onboarder,
    DeployExport,
}

impl World {
    pub const ALL: [World; 6] = [
        World::Probe,
        World::CommandPolicy,
        World::ProxyConfig,
        World::Fixer,
        World::Onboarder,
        World::DeployExport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            World::Probe => "probe",
            World::CommandPolicy => "command-policy",
            World::ProxyConfig => "proxy-config",
            World::Fixer => "fixer",
            World::Onboarder => "onboarder",
            World::DeployExport => "deploy-export",
        }
    }

    pub fn parse(s: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::WitVersion;

    #[test]
    fn import_names_tell_the_package_version() {
        assert_eq!(
            WitVersion::of_import("tend:plugin/log@0.1.0"),
            Some(WitVersion::V0_1)
        );
        assert_eq!(
            WitVersion::of_import("tend:plugin/types@0.2.0"),
            Some(WitVersion::V0_2)
        );
        assert_eq!(WitVersion::of_import("wasi:io/streams@0.2.0"), None);
        assert_eq!(WitVersion::of_import("tend:plugin/log@9.0.0"), None);
        assert_eq!(WitVersion::of_import("tend:plugin/log"), None);
    }
}
