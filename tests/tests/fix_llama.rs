//! The built-in `fixer` with a real (weak) model: llama.cpp's server with SmolLM2-135M (see
//! `tend_tests::llama`), without tool support (the gateway's schema-constrained JSON fallback), on a
//! service that crashes whatever is edited (its command ends `exit 1` after the program), in
//! `propose` and in `auto` mode. Nothing is asserted on what the model says or whether it finds
//! anything: whatever it proposes, nothing outside the project changes (the parent dir is
//! snapshotted), every applied edit is in a backup, and since verification cannot pass, every
//! written file is restored byte-exact. A daily token budget bounds the agent's loop (it ends
//! `no-fix` when spent); answers are capped at 128 tokens.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tend_tests::llama::{LlamaOptions, LlamaServer};
use tend_tests::{Daemon, Value, json, wait_for};

use crate::fix_apply::{fix, start_fix};

/// One fix with a slow model: prompt processing alone takes tens of seconds on one thread.
const SLOW: Duration = Duration::from_secs(300);

const APP: &str = "import os\nPORT = 'abc'\nport = int(os.environ.get('APP_PORT', PORT))\nprint('listening on', port, flush=True)\n";

/// Path (relative to `dir`) -> (mode, bytes) of every file and dir under `dir`, symlinks as their
/// target, skipping `skip`.
fn snapshot(dir: &Path, skip: Option<&Path>) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if Some(p.as_path()) == skip {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, (mode, target.as_os_str().as_encoded_bytes().to_vec()));
            } else if meta.is_dir() {
                out.insert(rel, (mode, Vec::new()));
                todo.push(p);
            } else {
                out.insert(rel, (mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// A daemon whose only model is the llama server (no tools, 128-token answers, a budget that ends
/// the agent after a few calls); `models` is `[autofix] models`.
fn daemon(server: &LlamaServer, models: &str) -> Daemon {
    Daemon::builder()
        .config_toml(&format!(
            "[llm]\ndefault = \"local\"\n\n[llm.models.local]\nprovider = \"openai\"\n\
             base_url = \"{}\"\nmodel = \"smollm2\"\ntools = false\nmax_tokens = 128\n\
             timeout_s = 240\ndaily_token_budget = 6000\n\n\
             [autofix]\ncooldown_s = 0\nmax_attempts = 2\nverify_window_s = 1\nmodels = \"{models}\"\n",
            server.openai_url()
        ))
        .start()
}

/// `<scratch>/parent/project` (a CRLF file, a non-UTF-8 file) and files beside it.
fn layout(d: &Daemon) -> (PathBuf, PathBuf) {
    let parent = d.scratch().join("parent");
    let root = parent.join("project");
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::write(root.join("app.py"), APP).unwrap();
    std::fs::write(
        root.join("conf/settings.ini"),
        "port = abc\r\nmode = dev\r\n",
    )
    .unwrap();
    std::fs::write(root.join("notes.bin"), b"caf\xe9 \xff\x00\n").unwrap();
    std::fs::write(parent.join("sentinel.txt"), "outside\n").unwrap();
    std::fs::write(parent.join("app.py"), "# a sibling, not the project's\n").unwrap();
    std::fs::create_dir_all(parent.join("other")).unwrap();
    std::fs::write(parent.join("other/.env"), "SECRET=1\n").unwrap();
    (parent, root)
}

/// Creates the crashing service `name` in `root`, asks for a fix and waits until every fix of the
/// service (the first and any retry) settled.
fn fix_all(d: &Daemon, name: &str, root: &Path) -> Vec<Value> {
    let spec = d.service_with(
        name,
        "python3 app.py; exit 1",
        json!({"working_dir": root, "restart": "never"}),
    );
    d.create(&spec);
    d.wait_status(name, "exited", SLOW);
    let id = start_fix(d, name);
    let fixes = wait_for(SLOW, || {
        let (status, page) = d.get(&format!("/api/services/{name}/fixes"));
        assert_eq!(status, 200, "{page}");
        let fixes = page["fixes"].as_array().unwrap().clone();
        let moving = fixes.iter().any(|f| {
            matches!(
                f["status"].as_str(),
                Some("diagnosing" | "applying" | "verifying")
            )
        });
        if moving || fixes.is_empty() {
            Err(page.to_string())
        } else {
            Ok(fixes)
        }
    })
    .unwrap_or_else(|e| panic!("the fixes of {name} did not settle: {e}"));
    assert!(fixes.iter().any(|f| f["id"] == id.as_str()), "{fixes:?}");
    fixes
}

type Snapshot = BTreeMap<PathBuf, (u32, Vec<u8>)>;

/// What must hold whatever the model said.
fn check(
    d: &Daemon,
    parent: &Path,
    root: &Path,
    fixes: &[Value],
    outside: &Snapshot,
    inside: &Snapshot,
) {
    assert_eq!(
        &snapshot(parent, Some(root)),
        outside,
        "something outside the project changed: {fixes:?}"
    );
    for f in fixes {
        let f = fix(d, f["id"].as_str().unwrap());
        // Every file an applied fix wrote is in its backup.
        if let Some(dir) = f["backup"].as_str() {
            let manifest: Value = serde_json::from_slice(
                &std::fs::read(Path::new(dir).join("manifest.json")).unwrap(),
            )
            .unwrap();
            let backed: Vec<&str> = manifest["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["path"].as_str().unwrap())
                .collect();
            for diff in f["diffs"].as_array().unwrap() {
                let path = diff["path"].as_str().unwrap();
                let created = manifest.to_string().contains(path);
                assert!(
                    backed.contains(&path) || created,
                    "{path} written without a backup: {f}"
                );
            }
        }
        // Verification cannot pass (the command ends `exit 1`).
        assert_ne!(f["status"], "verified", "{f}");
        if f["status"] != "restored" {
            assert_eq!(f["backup"], Value::Null, "written but not restored: {f}");
        }
    }
    // Nothing applied stayed: the project is byte-exact (CRLF, non-UTF-8, modes).
    assert_eq!(&snapshot(root, None), inside, "{fixes:?}");
}

fn server() -> LlamaServer {
    LlamaServer::start(LlamaOptions {
        ctx: 4096,
        parallel: 1,
        ..LlamaOptions::default()
    })
}

#[test]
fn a_weak_model_changes_nothing_outside_and_every_write_is_undone() {
    let server = server();
    for (mode, name) in [("propose", "weakp"), ("auto", "weaka")] {
        let d = daemon(&server, mode);
        let (parent, root) = layout(&d);
        let outside = snapshot(&parent, Some(&root));
        let inside = snapshot(&root, None);
        let fixes = fix_all(&d, name, &root);
        for f in &fixes {
            if f["proposal"]["author"] == "model" {
                assert_eq!(f["mode"], mode, "{f}");
            }
            if mode == "propose" {
                assert_eq!(f["backup"], Value::Null, "propose writes nothing: {f}");
            }
        }
        check(&d, &parent, &root, &fixes, &outside, &inside);
        eprintln!(
            "fix_llama {mode}: {}",
            fixes
                .iter()
                .map(|f| format!(
                    "{} {} ({} calls, {} ms): {}",
                    f["id"], f["status"], f["llm_calls"], f["duration_ms"], f["reason"]
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}
