//! The host side of `tend:plugin`'s interfaces, one module per interface (`log`, `kv`, `http`,
//! `net`, `llm`, `project`), and the two `Linker`s offering them with WASI p2: `full`, and `offline` without
//! `http`/`net` for plugins whose effective grants allow no host at all (such a plugin importing
//! them fails to link, which is how "imports beyond its grants" is refused at load). Both offer
//! `llm` and `project`: the loader refuses a component importing them without the grant. Each linker
//! offers every interface under both package versions the host loads, `tend:plugin/*@0.2.3` (which 0.2.0 to 0.2.2 components match) and
//! `@0.1.0` (`v0_1`, delegating here): wasmtime matches imports by semver, and 0.1 and 0.2 are not
//! compatible versions, so the 0.1 names must be defined themselves.

mod http;
mod kv;
mod llm;
mod log;
mod net;
mod project;
mod v0_1;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::host::tend::plugin as wit;
use super::bindings::v0_1::probe::tend::plugin as wit_v0_1;
use super::sandbox::CallState;

pub use http::client as http_client;

impl wit::types::Host for CallState {}
impl wit::fixing::Host for CallState {}

pub struct Linkers {
    pub full: Linker<CallState>,
    pub offline: Linker<CallState>,
}

pub fn linkers(engine: &Engine) -> anyhow::Result<Linkers> {
    Ok(Linkers {
        full: linker(engine, true)?,
        offline: linker(engine, false)?,
    })
}

fn linker(engine: &Engine, network: bool) -> anyhow::Result<Linker<CallState>> {
    let mut l = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    wit::types::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit::log::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit::kv::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit::llm::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit::project::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit::fixing::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    if network {
        wit::http::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
        wit::net::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    }
    // 0.1's `types` defines no functions (nothing to link: wasmtime checks its types at the uses)
    // and is mapped onto 0.2's Rust types (bindings.rs), so it has no generated module.
    wit_v0_1::log::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    wit_v0_1::kv::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    if network {
        wit_v0_1::http::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
        wit_v0_1::net::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    }
    Ok(l)
}
