//! Auto-fix applying proposals through the real daemon, with the `fixer-script` fixture as the fixer:
//! the broken service prints `TEND-FIX-SCRIPT: <proposal json>` and the fixture proposes exactly that,
//! so what is tested is the host: the edit fixing a `PORT=abc` crash, stale bases, paths leaving the
//! project or passing a symlink (nothing written), a failed verification restored byte-exact with a
//! retry recorded, and the last 10 backups kept. The helpers are shared by `fix_modes` and
//! `fix_restore`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tend_tests::plugins::sha256_bytes;
use tend_tests::{Daemon, Value, free_port, json, wait_for};

pub(crate) const FIX_TIMEOUT: Duration = Duration::from_secs(90);

/// A daemon whose fixer is the `fixer-script` fixture, with no cooldown, room for many attempts
/// (unless `extra` sets `max_attempts`: TOML refuses a key twice) and a short stability window;
/// `extra` goes into `[autofix]`.
pub(crate) fn fix_daemon(extra: &str) -> Daemon {
    let attempts = if extra.contains("max_attempts") {
        ""
    } else {
        "max_attempts = 50\n"
    };
    Daemon::builder()
        .plugin("fixer-script", "fixer-script")
        .config_toml(&format!(
            "[autofix]\nplugin = \"fixer-script\"\ncooldown_s = 0\n{attempts}verify_window_s = 1\n{extra}"
        ))
        .start()
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    sha256_bytes(bytes)
}

/// `<scratch>/<name>`: a project directory.
pub(crate) fn project(d: &Daemon, name: &str) -> PathBuf {
    let p = d.scratch().join(name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A replace edit as the wire spells it, its base the file's current bytes.
pub(crate) fn replace(root: &Path, path: &str, old: &str, new: &str) -> Value {
    let bytes = std::fs::read(root.join(path)).unwrap_or_default();
    json!({"op": "replace", "path": path, "base_sha256": sha(&bytes), "old": old, "new": new})
}

pub(crate) fn proposal(edits: Vec<Value>, commands: Vec<Value>) -> Value {
    json!({"diagnosis": "scripted", "confidence": 0.9, "edits": edits, "commands": commands,
           "restart": true, "author": "rule", "source": "test"})
}

/// Writes the proposal the service will print (outside the project).
pub(crate) fn script(d: &Daemon, name: &str, proposal: &Value) {
    std::fs::write(
        d.scratch().join(format!("{name}.proposal")),
        proposal.to_string(),
    )
    .unwrap();
}

/// A service in `root` that prints its scripted proposal, then runs `then` (a shell line); it is
/// never restarted by the supervisor (so only fixes restart it).
pub(crate) fn scripted_service(d: &Daemon, name: &str, root: &Path, then: &str, patch: Value) {
    let file = d.scratch().join(format!("{name}.proposal"));
    // `printf '%s'`, not `echo`: dash's echo turns the JSON's `\n` escapes into line breaks.
    let line = format!(
        "printf 'TEND-FIX-SCRIPT: %s\\n' \"$(cat '{}')\"; {then}",
        file.display()
    );
    let spec = d.service_with(
        name,
        json!(["/bin/sh", "-c", line]),
        tend_tests::merge(json!({"working_dir": root, "restart": "never"}), patch),
    );
    d.create(&spec);
}

/// Waits until the service's log has the script line.
pub(crate) fn wait_script_line(d: &Daemon, name: &str) {
    wait_for(FIX_TIMEOUT, || {
        let lines = d.tail_text(name, 50);
        if lines.iter().any(|l| l.contains("TEND-FIX-SCRIPT:")) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{name} never printed its script: {e}"));
}

/// POST /api/services/{name}/fix, asserting 202; the fix's id.
pub(crate) fn start_fix(d: &Daemon, name: &str) -> String {
    let (status, fix) = d.post_empty(&format!("/api/services/{name}/fix"));
    assert_eq!(status, 202, "fix of {name}: {fix}");
    fix["id"].as_str().unwrap().to_string()
}

pub(crate) fn fix(d: &Daemon, id: &str) -> Value {
    let (status, f) = d.get(&format!("/api/fixes/{id}"));
    assert_eq!(status, 200, "GET fix {id}: {f}");
    f
}

/// Waits until fix `id` stops moving (a final status or awaiting approval).
pub(crate) fn settled(d: &Daemon, id: &str) -> Value {
    wait_for(FIX_TIMEOUT, || {
        let f = fix(d, id);
        match f["status"].as_str() {
            Some("diagnosing" | "applying" | "verifying") => Err(f.to_string()),
            _ => Ok(f),
        }
    })
    .unwrap_or_else(|e| panic!("fix {id} did not settle: {e}"))
}

/// The service's fixes, newest first.
pub(crate) fn fixes(d: &Daemon, name: &str) -> Vec<Value> {
    let (status, page) = d.get(&format!("/api/services/{name}/fixes"));
    assert_eq!(status, 200, "{page}");
    page["fixes"].as_array().unwrap().clone()
}

const BROKEN_APP: &str = "import http.server, sys\nPORT = 'abc'\nport = int(PORT)\nsrv = http.server.HTTPServer(('127.0.0.1', port), http.server.SimpleHTTPRequestHandler)\nprint('listening on', port, flush=True)\nsrv.serve_forever()\n";

#[test]
fn a_scripted_edit_fixes_a_port_crash_and_leaves_a_backup() {
    let d = fix_daemon("");
    let root = project(&d, "web");
    std::fs::write(root.join("app.py"), BROKEN_APP).unwrap();
    let port = free_port();
    script(
        &d,
        "web",
        &proposal(
            vec![replace(
                &root,
                "app.py",
                "PORT = 'abc'",
                &format!("PORT = '{port}'"),
            )],
            vec![],
        ),
    );
    scripted_service(
        &d,
        "web",
        &root,
        "exec python3 app.py",
        json!({"port": port}),
    );
    d.wait_status("web", "exited", FIX_TIMEOUT);
    wait_script_line(&d, "web");
    let id = start_fix(&d, "web");
    let f = settled(&d, &id);
    assert_eq!(f["status"], "verified", "{f}");
    assert_eq!(f["trigger"], "manual", "{f}");
    assert!(
        f["diffs"][0]["diff"]
            .as_str()
            .unwrap()
            .contains(&format!("+PORT = '{port}'")),
        "{f}"
    );
    assert!(
        f["incident"]["log_tail"].to_string().contains("ValueError"),
        "{f}"
    );
    assert_eq!(d.view("web")["status"], "running");
    // The backup holds the file as it was.
    let backup = PathBuf::from(f["backup"].as_str().unwrap());
    assert!(
        backup.starts_with(d.data_dir().join("backups").join("web")),
        "{backup:?}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["files"][0]["path"], "app.py", "{manifest}");
    assert_eq!(
        manifest["files"][0]["sha256"],
        sha(BROKEN_APP.as_bytes()),
        "{manifest}"
    );
    let blob = manifest["files"][0]["blob"].as_str().unwrap();
    assert_eq!(
        std::fs::read(backup.join(blob)).unwrap(),
        BROKEN_APP.as_bytes()
    );
    // The fix ran as a background job.
    let job = f["job_id"].as_str().unwrap();
    let (_, j) = d.get(&format!("/api/jobs/{job}"));
    assert_eq!(j["kind"], "fix", "{j}");
    assert_eq!(j["status"], "succeeded", "{j}");
}

/// Sets up a project with `app.sh` (exits 1 after printing the script) and one file `data.txt`.
fn broken_project(d: &Daemon, name: &str) -> PathBuf {
    let root = project(d, name);
    std::fs::write(root.join("data.txt"), "value = 1\n").unwrap();
    root
}

#[test]
fn refused_proposals_write_nothing() {
    let d = fix_daemon("");
    let outside = d.scratch().join("outside");
    std::fs::write(&outside, "sentinel\n").unwrap();
    let root = broken_project(&d, "svc");
    std::os::unix::fs::symlink(d.scratch(), root.join("up")).unwrap();
    let stale = json!({"op": "replace", "path": "data.txt", "base_sha256": sha(b"value = 0\n"),
                       "old": "value = 1", "new": "value = 2"});
    let cases = [
        ("stale", vec![stale], "stale"),
        (
            "outside",
            vec![
                replace(&root, "data.txt", "value = 1", "value = 2"),
                json!({"op": "create", "path": "../outside2", "content": "x", "executable": false}),
                replace(&root, "../outside", "sentinel", "owned"),
            ],
            "`..`",
        ),
        (
            "symlink",
            vec![
                json!({"op": "replace", "path": "up/outside", "base_sha256": sha(b"sentinel\n"),
                        "old": "sentinel", "new": "owned"}),
            ],
            "symlink",
        ),
        (
            "twice",
            vec![replace(&root, "data.txt", " ", "_")],
            "exactly once",
        ),
    ];
    for (i, (what, edits, why)) in cases.into_iter().enumerate() {
        let name = format!("svc{i}");
        script(&d, &name, &proposal(edits, vec![]));
        scripted_service(&d, &name, &root, "exit 1", json!({}));
        wait_script_line(&d, &name);
        let id = start_fix(&d, &name);
        let f = settled(&d, &id);
        assert_eq!(f["status"], "failed", "{what}: {f}");
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{what}: {reason}");
        assert!(f.get("backup").is_none(), "{what}: {f}");
        assert_eq!(
            std::fs::read(root.join("data.txt")).unwrap(),
            b"value = 1\n",
            "{what}"
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"sentinel\n", "{what}");
        assert!(!d.scratch().join("outside2").exists(), "{what}");
    }
}

#[test]
fn a_failed_verification_restores_byte_exact_and_retries() {
    let d = fix_daemon("max_attempts = 2\n");
    let root = project(&d, "job");
    let crlf = b"first = 1\r\nsecond = 2\r\n".to_vec();
    let latin = b"caf\xe9 = 1\n\xff\xfe\n".to_vec();
    std::fs::write(root.join("crlf.txt"), &crlf).unwrap();
    std::fs::write(root.join("latin.txt"), &latin).unwrap();
    let edits = vec![
        json!({"op": "replace", "path": "crlf.txt", "base_sha256": sha(&crlf), "old": "first = 1", "new": "first = 9"}),
        json!({"op": "replace", "path": "latin.txt", "base_sha256": sha(&latin), "old": " = 1", "new": " = 9"}),
        json!({"op": "create", "path": "new/made.txt", "content": "made\n", "executable": false}),
    ];
    script(&d, "job", &proposal(edits, vec![]));
    // Never fixed by these edits: it exits at once, so verification fails.
    scripted_service(&d, "job", &root, "exit 3", json!({}));
    wait_script_line(&d, "job");
    let id = start_fix(&d, "job");
    let first = settled(&d, &id);
    assert_eq!(first["status"], "restored", "{first}");
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{first}"
    );
    assert_eq!(std::fs::read(root.join("crlf.txt")).unwrap(), crlf);
    assert_eq!(std::fs::read(root.join("latin.txt")).unwrap(), latin);
    assert!(!root.join("new").exists());
    // The retry got this attempt's history, proposed the same again and was stopped as a loop.
    let retry = wait_for(FIX_TIMEOUT, || {
        let all = fixes(&d, "job");
        match all.iter().find(|f| f["attempt"] == 2) {
            Some(f)
                if !matches!(
                    f["status"].as_str(),
                    Some("diagnosing" | "applying" | "verifying")
                ) =>
            {
                Ok(f.clone())
            }
            _ => Err(format!("{all:?}")),
        }
    })
    .unwrap();
    assert_eq!(retry["status"], "skipped", "{retry}");
    assert!(
        retry["reason"].as_str().unwrap().contains("same proposal"),
        "{retry}"
    );
    assert_eq!(
        retry["incident"]["previous"][0]["outcome"], "verify-failed",
        "{retry}"
    );
    assert_eq!(std::fs::read(root.join("crlf.txt")).unwrap(), crlf);
}

#[test]
fn twelve_fixes_leave_ten_backups() {
    let d = fix_daemon("");
    let root = project(&d, "many");
    scripted_service(&d, "many", &root, "exec sleep 600", json!({}));
    for n in 0..12 {
        script(
            &d,
            "many",
            &proposal(
                vec![
                    json!({"op": "create", "path": format!("notes/{n}.txt"), "content": "n", "executable": false}),
                ],
                vec![],
            ),
        );
        let (status, _) = d.post_empty("/api/services/many/restart");
        assert_eq!(status, 200);
        let needle = format!("notes/{n}.txt");
        wait_for(FIX_TIMEOUT, || {
            let lines = d.tail_text("many", 5);
            match lines.iter().rev().find(|l| l.contains("TEND-FIX-SCRIPT")) {
                Some(l) if l.contains(&needle) => Ok(()),
                _ => Err(format!("{lines:?}")),
            }
        })
        .unwrap();
        let id = start_fix(&d, "many");
        assert_eq!(settled(&d, &id)["status"], "verified");
    }
    let backups: Vec<String> = std::fs::read_dir(d.data_dir().join("backups/many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(backups.len(), 10, "{backups:?}");
    for n in 0..12 {
        assert!(root.join(format!("notes/{n}.txt")).exists());
    }
}
