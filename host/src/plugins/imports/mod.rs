//! The host side of `tend:plugin`'s interfaces, one module per interface (`log`, `kv`, `http`,
//! `net`), and the two `Linker`s offering them with WASI p2: `full`, and `offline` without
//! `http`/`net` for plugins whose effective grants allow no host at all (such a plugin importing
//! them fails to link, which is how "imports beyond its grants" is refused at load).

mod http;
mod kv;
mod log;
mod net;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use super::bindings::probe::tend::plugin as wit;
use super::sandbox::CallState;

pub use http::client as http_client;

impl wit::types::Host for CallState {}

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
    if network {
        wit::http::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
        wit::net::add_to_linker::<_, HasSelf<_>>(&mut l, |s| s)?;
    }
    Ok(l)
}
