//! The data dir is checked at start: a dir others can write to, owned by someone else, a token others
//! can read, or a symlink where tend's own files go makes the daemon refuse with the path and the fix
//! (non-zero exit, nothing written); a symlink planted where a service's log file goes is not followed.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Output;

use tend_tests::{Daemon, run_with_deadline, secs, tend_cmd, wait_for};

/// `tend daemon` on `dir`; it must exit by itself (a refusal).
fn start_on(dir: &Path) -> Output {
    let mut cmd = tend_cmd();
    cmd.args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(dir);
    run_with_deadline(cmd, secs(20))
}

fn assert_refused(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the daemon started; stderr:\n{err}");
    for n in needles {
        assert!(err.contains(n), "stderr does not say {n:?}:\n{err}");
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_data_dir_others_can_write_is_refused_with_the_fix() {
    let root = tempfile::tempdir().unwrap();
    for mode in [0o777, 0o770, 0o702] {
        let dir = root.path().join(format!("data-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, mode);
        let out = start_on(&dir);
        let shown = dir.display().to_string();
        assert_refused(&out, &[&shown, "writable by group or others", "chmod 700"]);
        assert!(
            !dir.join("token").exists(),
            "nothing is written in a refused data dir"
        );
    }
}

#[test]
fn a_data_dir_owned_by_another_user_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let out = start_on(&dir);
    assert_refused(&out, &[&dir.display().to_string(), "uid 65534", "chown"]);
}

#[test]
fn a_token_others_can_read_is_refused_and_left_as_it_was() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o700);
    let token = dir.join("token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef").unwrap();
    chmod(&token, 0o644);
    let out = start_on(&dir);
    assert_refused(&out, &[&token.display().to_string(), "chmod 600"]);
    assert_eq!(
        std::fs::metadata(&token).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(!dir.join("daemon.json").exists());
    // Fixed as the message says, the daemon starts with the same token.
    chmod(&token, 0o600);
    let d = Daemon::builder().data_dir(&dir).start();
    assert_eq!(d.token(), "0123456789abcdef0123456789abcdef");
}

#[test]
fn symlinks_where_tends_files_go_are_refused_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let victim = root.path().join("victim");
    for name in ["token", "daemon.json.tmp", "tend.log", "daemon.lock"] {
        let dir = root.path().join(format!("data-{name}"));
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o700);
        symlink(&victim, dir.join(name)).unwrap();
        let out = start_on(&dir);
        let link = dir.join(name).display().to_string();
        assert_refused(&out, &[&link, "symlink"]);
        assert!(!victim.exists(), "{name}: the link was followed");
    }
}

#[test]
fn a_symlink_where_a_service_log_file_goes_is_not_followed() {
    let d = Daemon::start();
    let victim = d.scratch().join("victim");
    std::fs::write(&victim, "").unwrap();
    let logs = d.data_dir().join("logs/web");
    std::fs::create_dir_all(&logs).unwrap();
    symlink(&victim, logs.join("web.log")).unwrap();
    d.create(&d.service("web", "echo through-the-link; exec sleep 1000"));
    wait_for(secs(10), || {
        let tail = d.tail_text("web", 10);
        if tail.iter().any(|l| l == "through-the-link") {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "",
        "the daemon wrote through a symlink"
    );
}
