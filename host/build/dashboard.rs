//! The dashboard's embedding, for host/build.rs: every file of the Vite output (`frontend/dist`, or
//! `$TEND_DASHBOARD_DIR`) becomes an entry of `DASHBOARD` in `$OUT_DIR/dashboard.rs`, with its
//! ETag and brotli and gzip variants compressed here, once, not per request (a variant is kept
//! only when it saves a tenth of the bytes: images and fonts are served as they are). Without a
//! built dashboard (no `index.html`) the build still succeeds, with `DASHBOARD = None`, and the
//! daemon serves a page saying how to build it (`api/assets.rs`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub fn embed(manifest_dir: &Path, out_dir: &Path) {
    println!("cargo::rerun-if-env-changed=TEND_DASHBOARD_DIR");
    let dist = match std::env::var_os("TEND_DASHBOARD_DIR") {
        Some(d) => PathBuf::from(d),
        None => manifest_dir
            .parent()
            .unwrap_or(manifest_dir)
            .join("frontend/dist"),
    };
    watch(&dist);
    let code = match files(&dist) {
        Some(files) => table(&dist, &files, out_dir),
        None => {
            println!(
                "cargo::warning=no dashboard in {} (no index.html): `tend` serves a notice instead; \
                 `cargo xtask run` builds it (or `cd frontend && npm ci && npm run build`)",
                dist.display()
            );
            "pub static DASHBOARD: Option<&[Asset]> = None;\n".to_string()
        }
    };
    let out = out_dir.join("dashboard.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// Rebuilds when the dashboard changes. Cargo reruns a build script on every build while a watched
/// path is missing, so without `dist` the nearest existing parent is watched: building the
/// dashboard creates `dist` in it, which rebuilds once.
fn watch(dist: &Path) {
    let mut watched = dist;
    while !watched.exists() {
        match watched.parent() {
            Some(p) if !p.as_os_str().is_empty() => watched = p,
            _ => return,
        }
    }
    println!("cargo::rerun-if-changed={}", watched.display());
}

/// The files under `dist`, as sorted `/`-separated relative paths; `None` without an `index.html`.
fn files(dist: &Path) -> Option<Vec<String>> {
    if !dist.join("index.html").is_file() {
        return None;
    }
    let mut out = Vec::new();
    walk(dist, "", &mut out);
    out.sort();
    Some(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            panic!("{} has a name that is not UTF-8", entry.path().display());
        };
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        if path.is_dir() {
            walk(&path, &format!("{rel}/"), out);
        } else {
            out.push(rel);
        }
    }
}

fn table(dist: &Path, files: &[String], out_dir: &Path) -> String {
    let mut code = String::from("pub static DASHBOARD: Option<&[Asset]> = Some(&[\n");
    let zipped = out_dir.join("dashboard");
    std::fs::create_dir_all(&zipped)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", zipped.display()));
    for (i, rel) in files.iter().enumerate() {
        let path = dist.join(rel);
        let path = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let raw =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let hash = Sha256::digest(&raw);
        let etag: String = hash[..10].iter().map(|b| format!("{b:02x}")).collect();
        let br = keep(&raw, brotli(&raw)).map(|b| write(&zipped, &format!("{i}.br"), &b));
        let gz = keep(&raw, gzip(&raw)).map(|b| write(&zipped, &format!("{i}.gz"), &b));
        let variant = |p: Option<PathBuf>| match p {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".to_string(),
        };
        writeln!(
            code,
            "    Asset {{ path: {rel:?}, etag: {etag:?}, identity: include_bytes!({:?}), brotli: {}, gzip: {} }},",
            path.display().to_string(),
            variant(br),
            variant(gz),
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("]);\n");
    code
}

/// A compressed variant worth serving: at least a tenth smaller than the original.
fn keep(raw: &[u8], packed: Vec<u8>) -> Option<Vec<u8>> {
    (packed.len() * 10 <= raw.len() * 9).then_some(packed)
}

fn brotli(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = ::brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    ::brotli::BrotliCompress(&mut &raw[..], &mut out, &params)
        .expect("compressing into memory cannot fail");
    out
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .expect("compressing into memory cannot fail")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}
