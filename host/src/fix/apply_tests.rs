//! Checks, writes, backups and restores on real temp directories.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::fix::backup;

fn replace(path: &str, base: &str, old: &str, new: &str) -> Edit {
    Edit::Replace {
        path: path.into(),
        base_sha256: base.into(),
        old: old.into(),
        new: new.into(),
    }
}

fn create(path: &str, content: &str) -> Edit {
    Edit::Create {
        path: path.into(),
        content: content.into(),
        executable: false,
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_replace_applies_keeping_the_mode_and_bytes_around_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bytes = b"PORT = 'abc'\r\n\xff\xfe tail\r\n".to_vec();
    fs::write(root.join("app.py"), &bytes).unwrap();
    fs::set_permissions(root.join("app.py"), fs::Permissions::from_mode(0o750)).unwrap();
    let plan = check(
        root,
        &[replace("app.py", &sha256_hex(&bytes), "'abc'", "'8080'")],
    )
    .unwrap();
    assert_eq!(plan.touched(), ["app.py"]);
    // Checked, not written.
    assert_eq!(fs::read(root.join("app.py")).unwrap(), bytes);
    plan.write(root).unwrap();
    assert_eq!(
        fs::read(root.join("app.py")).unwrap(),
        b"PORT = '8080'\r\n\xff\xfe tail\r\n"
    );
    assert_eq!(mode(&root.join("app.py")), 0o750);
    assert!(unified_diff(&plan.files[0]).contains("+PORT = '8080'"));
}

#[test]
fn a_stale_base_or_a_non_unique_match_rejects_everything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("a.txt"), "x = 1\nx = 1\n").unwrap();
    let hash = sha256_hex(b"x = 1\nx = 1\n");
    let stale = check(root, &[replace("a.txt", &sha256_hex(b"other"), "x", "y")]).unwrap_err();
    assert!(stale.reason.starts_with("stale"), "{stale}");
    let twice = check(root, &[replace("a.txt", &hash, "x = 1", "x = 2")]).unwrap_err();
    assert!(twice.reason.contains("exactly once"), "{twice}");
    let none = check(root, &[replace("a.txt", &hash, "zzz", "y")]).unwrap_err();
    assert!(none.reason.contains("0 times"), "{none}");
    // A good edit followed by a bad one: the whole proposal is refused.
    let mixed = check(
        root,
        &[create("new.txt", "hi"), replace("a.txt", "00", "x", "y")],
    )
    .unwrap_err();
    assert_eq!(mixed.index, 1);
    assert!(!root.join("new.txt").exists());
}

#[test]
fn paths_outside_the_root_or_through_a_symlink_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    fs::create_dir(&root).unwrap();
    fs::create_dir(dir.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere/f"), root.join("filelink")).unwrap();
    for (path, why) in [
        ("../outside", "`..`"),
        ("a/../../outside", "`..`"),
        ("/etc/passwd", "absolute"),
        ("", "empty"),
        (".", "root itself"),
        ("link/f.txt", "symlink"),
        ("filelink", "symlink"),
    ] {
        let err = check(&root, &[create(path, "x")]).unwrap_err();
        assert!(err.reason.contains(why), "{path}: {err}");
    }
    assert_eq!(
        fs::read_dir(dir.path().join("elsewhere")).unwrap().count(),
        0
    );
}

#[test]
fn create_makes_parents_and_refuses_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("here"), "x").unwrap();
    assert!(
        check(root, &[create("here", "y")])
            .unwrap_err()
            .reason
            .contains("exists")
    );
    let plan = check(
        root,
        &[
            create("a/b/c.sh", "#!/bin/sh\n"),
            Edit::CreateDir { path: "a/d".into() },
        ],
    )
    .unwrap();
    assert_eq!(plan.dirs, ["a", "a/b", "a/d"]);
    plan.write(root).unwrap();
    assert_eq!(fs::read(root.join("a/b/c.sh")).unwrap(), b"#!/bin/sh\n");
    assert!(root.join("a/d").is_dir());
}

#[test]
fn set_executable_adds_the_bits_where_read_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("run.sh"), "echo\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o640)).unwrap();
    let edit = Edit::SetExecutable {
        path: "run.sh".into(),
        base_sha256: sha256_hex(b"echo\n"),
        executable: true,
    };
    check(root, &[edit]).unwrap().write(root).unwrap();
    assert_eq!(mode(&root.join("run.sh")), 0o750);
}

#[test]
fn a_backup_restores_byte_exact_and_removes_what_the_fix_created() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let backups = dir.path().join("backups");
    fs::create_dir(&root).unwrap();
    let crlf = b"line one\r\nline two\r\n".to_vec();
    let latin = b"caf\xe9 = 1\n".to_vec();
    fs::write(root.join("crlf.txt"), &crlf).unwrap();
    fs::write(root.join("latin.txt"), &latin).unwrap();
    fs::set_permissions(root.join("latin.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    let plan = check(
        &root,
        &[
            replace("crlf.txt", &sha256_hex(&crlf), "one", "1"),
            replace("latin.txt", &sha256_hex(&latin), "= 1", "= 2"),
            create("new/dir/file.txt", "made"),
        ],
    )
    .unwrap();
    let bdir = backup::dir_of(&backups, "web", "7");
    let manifest = backup::snapshot(&bdir, "7", "web", &root, &plan.touched(), &plan.dirs).unwrap();
    plan.write(&root).unwrap();
    assert_ne!(fs::read(root.join("crlf.txt")).unwrap(), crlf);
    // The restore is itself backed up first, so it can be undone.
    let undo_dir = backup::dir_of(&backups, "web", "8");
    let paths: Vec<String> = manifest.files.iter().map(|f| f.path.clone()).collect();
    let dirs: Vec<String> = manifest.dirs.iter().map(|d| d.path.clone()).collect();
    let undo = backup::snapshot(&undo_dir, "8", "web", &root, &paths, &dirs).unwrap();
    backup::restore(&bdir, &backup::load(&bdir).unwrap()).unwrap();
    assert_eq!(fs::read(root.join("crlf.txt")).unwrap(), crlf);
    assert_eq!(fs::read(root.join("latin.txt")).unwrap(), latin);
    assert_eq!(mode(&root.join("latin.txt")), 0o600);
    assert!(!root.join("new").exists());
    // Restoring the restore brings the fixed state back.
    backup::restore(&undo_dir, &undo).unwrap();
    assert_eq!(
        fs::read(root.join("crlf.txt")).unwrap(),
        b"line 1\r\nline two\r\n"
    );
    assert_eq!(fs::read(root.join("new/dir/file.txt")).unwrap(), b"made");
}

#[test]
fn pruning_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    for id in 1..=12 {
        fs::create_dir_all(dir.path().join(id.to_string())).unwrap();
    }
    let gone = backup::prune(dir.path(), 10);
    assert_eq!(gone, ["1", "2"]);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 10);
}
