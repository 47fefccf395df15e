//! The `project` interface through a real fixer component (`fixer-jail`) in a real directory tree:
//! every jail rule (`..`, absolute paths, NUL, symlinks out of the root for files and directories),
//! what stays allowed (a symlink inside the root), the file answer (sha256, truncation, the
//! executable bit), `.env` redaction, listing and grep, and denials recorded in the stats. The
//! rules themselves are unit-tested in `crate::project`.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Harness;
use super::fix::incident;
use crate::wire;

const APP: &str = "import os\nPORT = 'abc'\n";
const ENV: &str = "# settings\nPORT=8080\nAPI_TOKEN=s3cr3t\n";

/// `<tmp>/project` (the root) next to `<tmp>/outside` (what must stay unreachable).
fn tree(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("project");
    let outside = tmp.join("outside");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("node_modules/left-pad")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "root:outside secret\n").unwrap();
    std::fs::write(root.join("app.py"), APP).unwrap();
    std::fs::write(root.join(".env"), ENV).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("src/main.py"), "print(PORT)\n").unwrap();
    std::fs::write(root.join("node_modules/left-pad/index.js"), "PORT\n").unwrap();
    symlink(&outside, root.join("escape")).unwrap();
    symlink("/etc/passwd", root.join("passwd-link")).unwrap();
    symlink("app.py", root.join("inner-link")).unwrap();
    root
}

fn err(v: &Value) -> &str {
    v["err"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

#[tokio::test]
async fn the_project_interface_is_jailed_to_the_incidents_root() {
    let h = Harness::new().await;
    h.install("fixer-jail", "jail");
    let host = h.start().await;
    let root = tree(h.dir.path());
    let call = host
        .propose_fix("jail", incident("web", &root), &root)
        .await;
    let Ok(wire::FixAnswer::NoSafeFix { reason }) = &call.answer else {
        panic!("expected the fixture's report, got {:?}", call.answer)
    };
    let seen: Value = serde_json::from_str(reason).unwrap();

    for (label, needle) in [
        ("dotdot", "denied: ../outside/secret.txt contains `..`"),
        (
            "dotdot_inner",
            "denied: src/../../outside/secret.txt contains `..`",
        ),
        ("absolute", "denied: /etc/passwd is absolute"),
        ("nul", "denied: \"app.py\\0x\" contains a NUL byte"),
        (
            "symlink_escape",
            "denied: escape/secret.txt leads outside the project root through a symlink",
        ),
        (
            "symlink_file_escape",
            "denied: passwd-link leads outside the project root through a symlink",
        ),
        (
            "list_escape",
            "denied: escape leads outside the project root through a symlink",
        ),
        (
            "grep_escape",
            "denied: escape leads outside the project root through a symlink",
        ),
        ("missing", "not-found: nope.txt: no such file or directory"),
        ("grep_bad", "invalid: pattern \"(\""),
    ] {
        assert!(
            err(&seen[label]).starts_with(needle),
            "{label}: {}",
            seen[label]
        );
    }
    assert!(!reason.contains("outside secret"), "nothing outside leaked");

    let sha = format!("{:x}", Sha256::digest(APP.as_bytes()));
    assert_eq!(
        seen["app"]["ok"],
        json!({ "path": "app.py", "content": APP, "sha256": sha, "size": APP.len(),
                "truncated": false, "redacted": false, "binary": false, "executable": false })
    );
    assert_eq!(
        seen["app_head"]["ok"]["content"], "impo",
        "max-bytes caps the content"
    );
    assert_eq!(seen["app_head"]["ok"]["truncated"], true);
    assert_eq!(
        seen["app_head"]["ok"]["sha256"], sha,
        "the hash is of the whole file"
    );
    assert_eq!(
        seen["symlink_inside"]["ok"]["content"], APP,
        "a symlink inside the root is followed"
    );
    assert_eq!(
        seen["env"]["ok"]["content"],
        "# settings\nPORT=<redacted>\nAPI_TOKEN=<redacted>\n"
    );
    assert_eq!(seen["env"]["ok"]["redacted"], true);
    assert_eq!(
        seen["env"]["ok"]["sha256"],
        format!("{:x}", Sha256::digest(ENV.as_bytes())),
        "the hash is of the bytes on disk"
    );

    assert_eq!(
        seen["list"]["ok"],
        json!([
            [".env", "file", ENV.len(), false],
            ["app.py", "file", APP.len(), false],
            ["escape", "symlink", 0, false],
            ["inner-link", "symlink", 0, false],
            ["node_modules", "dir", 0, false],
            ["passwd-link", "symlink", 0, false],
            ["run.sh", "file", 10, true],
            ["src", "dir", 0, false],
            ["src/main.py", "file", 12, false],
        ]),
        "sorted, two levels, node_modules and symlinks not entered"
    );
    assert_eq!(
        seen["grep"]["ok"],
        json!([
            [".env", 2, "PORT=<redacted>"],
            [".env", 3, "API_TOKEN=<redacted>"],
            ["app.py", 2, "PORT = 'abc'"],
            ["src/main.py", 1, "print(PORT)"],
        ])
    );
    let stats = host.info("jail").unwrap().stats;
    assert_eq!(stats.denials, 8, "{:?}", stats.last_errors);
    assert_eq!(stats.ok, 1);
}

#[tokio::test]
async fn a_missing_root_is_not_found_and_nothing_else() {
    let h = Harness::new().await;
    h.install("fixer-jail", "jail");
    let host = h.start().await;
    let root = h.dir.path().join("gone");
    let call = host
        .propose_fix("jail", incident("web", &root), &root)
        .await;
    let Ok(wire::FixAnswer::NoSafeFix { reason }) = &call.answer else {
        panic!("{:?}", call.answer)
    };
    let seen: Value = serde_json::from_str(reason).unwrap();
    let missing = format!(
        "not-found: the project root {} does not exist",
        root.display()
    );
    assert_eq!(err(&seen["app"]), missing);
    assert_eq!(err(&seen["list"]), missing);
    assert!(
        err(&seen["dotdot"]).starts_with("denied"),
        "lexical checks still refuse"
    );
}
