//! The compiled-code cache: a restart does not recompile, and only files the daemon wrote and
//! recorded itself are ever deserialized.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::json;

use super::{Harness, fixture, target};
use crate::plugins::builtin::BUILTINS;
use crate::plugins::cache::{Cache, Compiler, sha256_hex};
use crate::plugins::{Outcome, engine};

fn cache_file(h: &Harness, wasm: &[u8]) -> PathBuf {
    let cache = Cache::open(
        &engine::new_engine(256).unwrap(),
        h.dir.path(),
        h.store.clone(),
        Compiler::InProcess,
    );
    h.dir
        .path()
        .join("plugin-cache")
        .join(cache.file_name(&sha256_hex(wasm)))
}

#[tokio::test]
async fn a_restart_loads_compiled_code_from_the_cache() {
    let h = Harness::new().await;
    h.install("trivial", "trivial");
    h.install("chatty", "chatty");
    let first = h.start().await;
    assert_eq!(first.compiles(), BUILTINS.len() as u64 + 2);
    assert!(!first.info("trivial").unwrap().from_cache);
    first.shutdown();

    let second = h.start().await;
    assert_eq!(second.compiles(), 0, "nothing recompiled after a restart");
    assert!(
        second.list().iter().all(|p| p.from_cache),
        "{:?}",
        second.list()
    );
    assert!(matches!(
        second.check("trivial", target(json!({}))).await,
        Outcome::Ok(_)
    ));

    let dir = h.dir.path().join("plugin-cache");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let (wasm, _) = fixture("trivial");
    let file = cache_file(&h, &wasm);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn tampered_cache_files_are_ignored_and_recompiled() {
    let h = Harness::new().await;
    h.install("trivial", "trivial");
    h.start().await.shutdown();
    let (wasm, _) = fixture("trivial");
    let file = cache_file(&h, &wasm);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let host = h.start().await;
    assert_eq!(host.compiles(), 1, "the changed file was not trusted");
    assert!(!host.info("trivial").unwrap().from_cache);
    assert!(matches!(
        host.check("trivial", target(json!({}))).await,
        Outcome::Ok(_)
    ));
}

#[tokio::test]
async fn files_the_daemon_did_not_write_are_never_deserialized() {
    // A genuine compiled artifact, but written by another daemon (another data dir and ledger).
    let other = Harness::new().await;
    other.install("trivial", "trivial");
    other.start().await.shutdown();
    let (wasm, _) = fixture("trivial");
    let genuine = std::fs::read(cache_file(&other, &wasm)).unwrap();

    for planted in [genuine, b"not a cwasm at all".to_vec()] {
        let h = Harness::new().await;
        h.install("trivial", "trivial");
        let file = cache_file(&h, &wasm);
        std::fs::write(&file, &planted).unwrap();
        let host = h.start().await;
        assert_eq!(
            host.compiles(),
            BUILTINS.len() as u64 + 1,
            "the planted file was compiled over"
        );
        assert!(!host.info("trivial").unwrap().from_cache);
        assert!(matches!(
            host.check("trivial", target(json!({}))).await,
            Outcome::Ok(_)
        ));
        assert_ne!(
            std::fs::read(&file).unwrap(),
            b"not a cwasm at all",
            "replaced by our own artifact"
        );
    }
}
