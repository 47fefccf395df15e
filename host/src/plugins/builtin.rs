//! The built-in plugins, embedded at build time by `host/build.rs` from `target/plugins/*.wasm` and
//! `*.toml` (or `$TEND_PLUGIN_DIR`).

/// One embedded plugin: the component and its manifest, as built.
pub struct Builtin {
    pub name: &'static str,
    pub wasm: &'static [u8],
    pub manifest: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
