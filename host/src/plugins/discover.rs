//! Finding plugins: the built-ins embedded in the binary and the user's `<data_dir>/plugins/NAME.wasm`
//! with `NAME.toml`. Reads files (call it off the async runtime); parses nothing but names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::builtin::Builtin;
use super::cache::sha256_hex;
use crate::wire::PluginSource;

/// Larger files are refused unread.
const MAX_WASM_BYTES: u64 = 64 << 20;

/// A plugin's files, read.
pub struct Candidate {
    pub name: String,
    pub source: PluginSource,
    pub path: Option<PathBuf>,
    pub wasm: Arc<[u8]>,
    pub wasm_sha256: String,
    pub manifest: String,
    /// Changes whenever the wasm, the manifest or the source changes.
    pub fingerprint: String,
}

/// Files that cannot even be a candidate (missing manifest, unreadable, bad name).
pub struct Broken {
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub reason: String,
}

pub enum Found {
    Ok(Candidate),
    Broken(Broken),
}

/// What is on offer for one name: the user's files and/or a built-in.
#[derive(Default)]
pub struct Offer {
    pub user: Option<Found>,
    pub builtin: Option<Candidate>,
}

pub fn scan(builtins: &[Builtin], user_dir: &Path) -> BTreeMap<String, Offer> {
    let mut offers: BTreeMap<String, Offer> = BTreeMap::new();
    for b in builtins {
        let c = candidate(
            b.name.to_string(),
            PluginSource::Builtin,
            None,
            b.wasm.into(),
            b.manifest.to_string(),
        );
        offers.entry(b.name.to_string()).or_default().builtin = Some(c);
    }
    let Ok(entries) = std::fs::read_dir(user_dir) else {
        return offers;
    };
    let mut stems: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        let seen = stems.entry(stem.to_string()).or_default();
        match ext {
            "wasm" => seen.0 = true,
            "toml" => seen.1 = true,
            _ => {}
        }
    }
    for (name, (has_wasm, has_toml)) in stems {
        if !has_wasm && !has_toml {
            continue;
        }
        let wasm_path = user_dir.join(format!("{name}.wasm"));
        let overrides = offers.get(&name).is_some_and(|o| o.builtin.is_some());
        let found = read_user(&name, &wasm_path, has_wasm, has_toml, user_dir, overrides);
        offers.entry(name).or_default().user = Some(found);
    }
    offers
}

fn read_user(
    name: &str,
    wasm_path: &Path,
    has_wasm: bool,
    has_toml: bool,
    dir: &Path,
    overrides: bool,
) -> Found {
    let broken = |sha256: Option<String>, reason: String| {
        Found::Broken(Broken {
            path: wasm_path.to_path_buf(),
            sha256,
            reason,
        })
    };
    if let Err(e) = valid_name(name) {
        return broken(None, e);
    }
    if !has_wasm {
        return broken(None, format!("{name}.toml has no {name}.wasm beside it"));
    }
    match std::fs::metadata(wasm_path) {
        Ok(m) if m.len() > MAX_WASM_BYTES => {
            return broken(None, format!("{name}.wasm is over {MAX_WASM_BYTES} bytes"));
        }
        Ok(_) => {}
        Err(e) => return broken(None, format!("cannot read {}: {e}", wasm_path.display())),
    }
    let wasm: Arc<[u8]> = match std::fs::read(wasm_path) {
        Ok(w) => w.into(),
        Err(e) => return broken(None, format!("cannot read {}: {e}", wasm_path.display())),
    };
    if !has_toml {
        return broken(
            Some(sha256_hex(&wasm)),
            format!("{name}.wasm has no manifest {name}.toml beside it"),
        );
    }
    let manifest_path = dir.join(format!("{name}.toml"));
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(m) => m,
        Err(e) => {
            return broken(
                Some(sha256_hex(&wasm)),
                format!("cannot read {}: {e}", manifest_path.display()),
            );
        }
    };
    let source = if overrides {
        PluginSource::UserOverridesBuiltin
    } else {
        PluginSource::User
    };
    Found::Ok(candidate(
        name.to_string(),
        source,
        Some(wasm_path.to_path_buf()),
        wasm,
        manifest,
    ))
}

fn candidate(
    name: String,
    source: PluginSource,
    path: Option<PathBuf>,
    wasm: Arc<[u8]>,
    manifest: String,
) -> Candidate {
    let wasm_sha256 = sha256_hex(&wasm);
    let fingerprint = format!(
        "{}:{wasm_sha256}:{}",
        source.label(),
        sha256_hex(manifest.as_bytes())
    );
    Candidate {
        name,
        source,
        path,
        wasm,
        wasm_sha256,
        manifest,
        fingerprint,
    }
}

/// Plugin names: 1-64 of `a-z 0-9 - _`, starting with a letter or digit; not `reload` (an API route).
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name != "reload"
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a plugin name (1-64 of a-z, 0-9, '-', '_'; not \"reload\")"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILTINS: &[Builtin] = &[Builtin {
        name: "http",
        wasm: b"\0asm-http",
        manifest: "world = \"probe\"",
    }];

    #[test]
    fn user_files_pair_up_and_override_builtins() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (f, body) in [
            ("http.wasm", "w1"),
            ("http.toml", "m1"),
            ("mine.wasm", "w2"),
            ("mine.toml", "m2"),
            ("lonely.wasm", "w3"),
            ("orphan.toml", "m4"),
            ("Bad Name.wasm", "w5"),
            ("Bad Name.toml", "m5"),
            ("notes.txt", "x"),
        ] {
            std::fs::write(d.join(f), body).unwrap();
        }
        let offers = scan(BUILTINS, d);
        let names: Vec<&str> = offers.keys().map(|s| s.as_str()).collect();
        assert_eq!(names, ["Bad Name", "http", "lonely", "mine", "orphan"]);
        let http = &offers["http"];
        assert!(http.builtin.is_some());
        let Some(Found::Ok(user)) = &http.user else {
            panic!("http override not read")
        };
        assert_eq!(user.source, PluginSource::UserOverridesBuiltin);
        assert_eq!(&*user.wasm, b"w1");
        let Some(Found::Ok(mine)) = &offers["mine"].user else {
            panic!("mine not read")
        };
        assert_eq!(
            (mine.source, mine.manifest.as_str()),
            (PluginSource::User, "m2")
        );
        assert_eq!(mine.path.as_deref(), Some(d.join("mine.wasm").as_path()));
        for (name, needle) in [
            ("lonely", "no manifest"),
            ("orphan", "has no orphan.wasm"),
            ("Bad Name", "not a plugin name"),
        ] {
            let Some(Found::Broken(b)) = &offers[name].user else {
                panic!("{name} should be broken")
            };
            assert!(b.reason.contains(needle), "{name}: {}", b.reason);
        }
    }

    #[test]
    fn fingerprints_follow_content_and_source() {
        let a = candidate(
            "a".into(),
            PluginSource::User,
            None,
            b"w".to_vec().into(),
            "m".into(),
        );
        let b = candidate(
            "a".into(),
            PluginSource::User,
            None,
            b"w".to_vec().into(),
            "m2".into(),
        );
        let c = candidate(
            "a".into(),
            PluginSource::Builtin,
            None,
            b"w".to_vec().into(),
            "m".into(),
        );
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_eq!(a.wasm_sha256, sha256_hex(b"w"));
    }

    #[test]
    fn names() {
        assert!(valid_name("probe-http_2").is_ok());
        for bad in ["", "-x", "X", "a.b", "reload", &"a".repeat(65)] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
    }
}
