//! Core module -> component (wit-component, in-process), and the check that a component belongs to
//! the world it is built for, by the names of its imports and exports. wasmtime type-checks the rest
//! when the daemon links a plugin.

use std::path::Path;

use anyhow::{Context, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::{ComponentEncoder, DecodedWasm};
use wit_parser::{PackageId, Resolve, WorldId, WorldItem, WorldKey};

/// Turns a core module carrying wit-bindgen's type sections into a component; `adapter` adapts its
/// `wasi_snapshot_preview1` imports to WASI 0.2.
pub fn componentize(core: &[u8], adapter: bool) -> anyhow::Result<Vec<u8>> {
    let mut encoder = ComponentEncoder::default().module(core)?.validate(true);
    if adapter {
        encoder = encoder.adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?;
    }
    encoder.encode()
}

/// The imports and exports of a world or component: interface names (`tend:plugin/http@0.2.0`) and
/// function names, sorted; and apart, the world-level types it imports (`target`, `health`).
pub struct Shape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub types: Vec<String>,
}

/// The worlds of the repository's WIT package.
pub struct Worlds {
    resolve: Resolve,
    package: PackageId,
}

impl Worlds {
    pub fn load(wit_dir: &Path) -> anyhow::Result<Self> {
        let mut resolve = Resolve::default();
        let (package, _) = resolve.push_dir(wit_dir)?;
        Ok(Worlds { resolve, package })
    }

    /// Decodes `component` and checks it against `world`: the same exports (plus those named in
    /// `tolerated`, which the host never calls), and imports the world offers (plus `wasi:*` when
    /// `wasi`). Returns the component's shape.
    pub fn check(
        &self,
        component: &[u8],
        world: &str,
        wasi: bool,
        tolerated: &[&str],
    ) -> anyhow::Result<Shape> {
        let id = self.resolve.select_world(&[self.package], Some(world))?;
        let expected = shape(&self.resolve, id);
        let DecodedWasm::Component(resolve, id) =
            wit_component::decode(component).context("not a decodable component")?
        else {
            bail!("a WIT package, not a component");
        };
        let actual = shape(&resolve, id);
        let exports: Vec<&String> = actual
            .exports
            .iter()
            .filter(|e| !tolerated.contains(&e.as_str()))
            .collect();
        if !exports.iter().copied().eq(expected.exports.iter()) {
            bail!(
                "exports {:?}, but world `{world}` exports {:?}",
                actual.exports,
                expected.exports
            );
        }
        let foreign: Vec<&String> = actual
            .imports
            .iter()
            .filter(|i| !(expected.imports.contains(i) || (wasi && i.starts_with("wasi:"))))
            .collect();
        if !foreign.is_empty() {
            bail!("imports {foreign:?}, which world `{world}` does not offer");
        }
        let foreign: Vec<&String> = actual
            .types
            .iter()
            .filter(|t| !expected.types.contains(t))
            .collect();
        if !foreign.is_empty() {
            bail!("imports the types {foreign:?}, which world `{world}` does not define");
        }
        Ok(actual)
    }
}

fn shape(resolve: &Resolve, world: WorldId) -> Shape {
    let world = &resolve.worlds[world];
    let names = |items: &mut dyn Iterator<Item = (&WorldKey, &WorldItem)>, types: bool| {
        let mut names: Vec<String> = items
            .filter(|(_, item)| matches!(item, WorldItem::Type { .. }) == types)
            .map(|(key, _)| resolve.name_world_key(key))
            .collect();
        names.sort();
        names
    };
    Shape {
        imports: names(&mut world.imports.iter(), false),
        exports: names(&mut world.exports.iter(), false),
        types: names(&mut world.imports.iter(), true),
    }
}
