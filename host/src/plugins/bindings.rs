//! The one place that runs `bindgen!`: Rust types for every world of `tend:plugin@0.1.0` (`wit/`),
//! and `World`, the names manifests use for them. Imports are async (they do I/O); exports are
//! called async so that the epoch callback can yield and a wall-clock timeout can cancel a call.
//! The shared interfaces (types, log, kv, http, net) are generated once, under `probe`, and reused
//! by the other worlds, so each host interface has exactly one implementation (`imports/`).

pub mod probe {
    wasmtime::component::bindgen!({
        world: "probe",
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
                with: { "tend:plugin": super::probe::tend::plugin },
            });
        }
    };
}

other_world!(command_policy, "command-policy");
other_world!(proxy_config, "proxy-config");
other_world!(fixer, "fixer");
other_world!(onboarder, "onboarder");

/// A world of `tend:plugin`, as named in manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    Probe,
    CommandPolicy,
    ProxyConfig,
    Fixer,
    Onboarder,
}

impl World {
    pub const ALL: [World; 5] = [
        World::Probe,
        World::CommandPolicy,
        World::ProxyConfig,
        World::Fixer,
        World::Onboarder,
    ];

    pub fn name(self) -> &'static str {
        match self {
            World::Probe => "probe",
            World::CommandPolicy => "command-policy",
            World::ProxyConfig => "proxy-config",
            World::Fixer => "fixer",
            World::Onboarder => "onboarder",
        }
    }

    pub fn parse(s: &str) -> Option<World> {
        World::ALL.into_iter().find(|w| w.name() == s)
    }
}
