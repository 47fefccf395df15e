//! Restoring a fix by hand through the real daemon: `POST /api/fixes/{id}/restore` brings back the
//! files byte-exact (CRLF, non-UTF-8 bytes, the mode), deletes what the fix created, is recorded as a
//! `restore` fix that can itself be restored; and the CLI's `tend fixes`, `tend fix show`.

use std::os::unix::fs::PermissionsExt;

use tend_tests::json;

use crate::fix_apply::{
    fix_daemon, project, proposal, script, scripted_service, settled, sha, start_fix,
    wait_script_line,
};

#[test]
fn a_manual_restore_is_byte_exact_and_can_be_undone() {
    let d = fix_daemon("");
    let root = project(&d, "r");
    let crlf = b"a = 1\r\nb = 2\r\n".to_vec();
    let latin = b"na\xefve = 1\n".to_vec();
    std::fs::write(root.join("crlf.txt"), &crlf).unwrap();
    std::fs::write(root.join("latin.txt"), &latin).unwrap();
    std::fs::set_permissions(
        root.join("latin.txt"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let edits = vec![
        json!({"op": "replace", "path": "crlf.txt", "base_sha256": sha(&crlf), "old": "a = 1", "new": "a = 5"}),
        json!({"op": "replace", "path": "latin.txt", "base_sha256": sha(&latin), "old": "= 1", "new": "= 5"}),
        json!({"op": "create", "path": "made/new.txt", "content": "new\n", "executable": false}),
    ];
    script(&d, "r", &proposal(edits, vec![]));
    scripted_service(&d, "r", &root, "exec sleep 600", json!({}));
    wait_script_line(&d, "r");
    let id = start_fix(&d, "r");
    let f = settled(&d, &id);
    assert_eq!(f["status"], "verified", "{f}");
    let fixed_crlf = std::fs::read(root.join("crlf.txt")).unwrap();
    assert_eq!(fixed_crlf, b"a = 5\r\nb = 2\r\n");

    let (status, restore) = d.post_empty(&format!("/api/fixes/{id}/restore"));
    assert_eq!(status, 200, "{restore}");
    assert_eq!(restore["kind"], "restore", "{restore}");
    assert_eq!(restore["restores"], id.as_str(), "{restore}");
    assert_eq!(std::fs::read(root.join("crlf.txt")).unwrap(), crlf);
    assert_eq!(std::fs::read(root.join("latin.txt")).unwrap(), latin);
    let mode = std::fs::metadata(root.join("latin.txt"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
    assert!(!root.join("made").exists());
    let (_, original) = d.get(&format!("/api/fixes/{id}"));
    assert_eq!(original["status"], "restored", "{original}");
    // Twice is refused.
    let (status, e) = d.post_empty(&format!("/api/fixes/{id}/restore"));
    assert_eq!(status, 409, "{e}");

    // Restoring the restore brings the fixed state back.
    let rid = restore["id"].as_str().unwrap();
    let (status, undo) = d.post_empty(&format!("/api/fixes/{rid}/restore"));
    assert_eq!(status, 200, "{undo}");
    assert_eq!(std::fs::read(root.join("crlf.txt")).unwrap(), fixed_crlf);
    assert_eq!(std::fs::read(root.join("made/new.txt")).unwrap(), b"new\n");

    // The CLI shows the records and a fix with its diff.
    let out = d.cli(&["fixes", "r"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("restore of {id}")), "{text}");
    let out = d.cli(&["fix", "show", &id]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("+a = 5"), "{text}");
    assert!(text.contains("backup:"), "{text}");
}
