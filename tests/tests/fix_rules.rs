//! The built-in `fixer`'s rules end to end, without a model (no `[llm]`): each failure is set up for
//! real in a project dir, the fix is asked for with `POST /api/services/{name}/fix`, applied at once
//! (rules default to `auto`) and verified; then the service runs, the backup is there and the files
//! are as expected. A port held by a leftover of the service (a process carrying the service's
//! `TEND_INSTANCE` marker) is freed; one held by a stranger is named and left alone; a missing
//! directory is created; a script gets its exec bit (and loses it again on restore); a module
//! declared in `requirements.txt` is installed offline into the project's venv; a variable the
//! service's `env_file` lacks is copied from `.env.example`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tend_tests::{Daemon, Value, free_port, json, pid_alive, python3, service_environ, wait_for};

use crate::fix_apply::{FIX_TIMEOUT, project, settled, start_fix};

/// A daemon with the built-in fixer, no model, no cooldown and a short stability window.
fn rules_daemon() -> Daemon {
    Daemon::builder()
        .config_toml("[autofix]\ncooldown_s = 0\nmax_attempts = 5\nverify_window_s = 1\n")
        .start()
}

/// A service running `command` (through `sh -c`) in `root`, never restarted by the supervisor.
fn service(d: &Daemon, name: &str, root: &Path, command: &str, patch: Value) {
    let spec = d.service_with(
        name,
        command,
        tend_tests::merge(json!({"working_dir": root, "restart": "never"}), patch),
    );
    d.create(&spec);
}

/// Waits until the service's log has a line containing `text`.
fn wait_log(d: &Daemon, name: &str, text: &str) {
    wait_for(FIX_TIMEOUT, || {
        let lines = d.tail_text(name, 100);
        if lines.iter().any(|l| l.contains(text)) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{name} never logged {text:?}: {e}"));
}

/// Fixes `name` by hand and asserts the fix was a rule's, applied and verified; the fix.
fn fix_verified(d: &Daemon, name: &str, rule: &str) -> Value {
    let id = start_fix(d, name);
    let f = settled(d, &id);
    assert_eq!(f["status"], "verified", "{f}");
    assert_eq!(f["mode"], "auto", "{f}");
    assert_eq!(f["proposal"]["author"], "rule", "{f}");
    assert_eq!(f["proposal"]["source"], rule, "{f}");
    assert_eq!(f["llm_calls"], 0, "{f}");
    assert_eq!(d.view(name)["status"], "running", "{f}");
    f
}

/// The backup of fix `f`: its dir (under `<data_dir>/backups/<name>/`) and its manifest.
fn backup(d: &Daemon, name: &str, f: &Value) -> (PathBuf, Value) {
    let dir = PathBuf::from(
        f["backup"]
            .as_str()
            .unwrap_or_else(|| panic!("no backup: {f}")),
    );
    assert!(
        dir.starts_with(d.data_dir().join("backups").join(name)),
        "{dir:?}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    (dir, manifest)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A Python program listening on 127.0.0.1:`port` with `env` added, started by the test; returns
/// once it listens.
fn listener(port: u16, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(python3());
    cmd.args([
        "-c",
        "import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\nprint('ready', flush=True)\ntime.sleep(600)\n",
        &port.to_string(),
    ])
    .stdout(Stdio::piped())
    .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the listener");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

const BIND_APP: &str = "import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\nprint('listening', flush=True)\nwhile True:\n    time.sleep(60)\n";

/// The node part of this daemon's `TEND_INSTANCE` markers (`<node>.<service>.<run>`), read off a
/// running service.
fn node_of(d: &Daemon, root: &Path) -> String {
    service(d, "probe", root, "exec sleep 600", json!({}));
    let view = d.wait_status("probe", "running", FIX_TIMEOUT);
    let pid = view["pid"].as_u64().unwrap_or_else(|| panic!("{view}")) as u32;
    let instance = service_environ(pid)
        .into_iter()
        .find_map(|v| v.strip_prefix("TEND_INSTANCE=").map(str::to_string))
        .expect("TEND_INSTANCE in the service's environment");
    instance
        .split_once(".probe.")
        .unwrap_or_else(|| panic!("{instance}"))
        .0
        .to_string()
}

#[test]
fn a_leftover_holding_the_port_is_stopped_and_the_service_starts() {
    let d = rules_daemon();
    let root = project(&d, "web");
    std::fs::write(root.join("app.py"), BIND_APP).unwrap();
    let port = free_port();
    // What an earlier run of `web` left behind when its daemon died: a listener with the run's marker.
    let node = node_of(&d, &root);
    let mut leftover = listener(port, &[("TEND_INSTANCE", &format!("{node}.web.7"))]);
    service(
        &d,
        "web",
        &root,
        &format!("exec python3 app.py {port}"),
        json!({"port": port}),
    );
    wait_log(&d, "web", "Address already in use");
    d.wait_status("web", "exited", FIX_TIMEOUT);
    let f = fix_verified(&d, "web", "port-in-use");
    let holder = &f["incident"]["port_holder"];
    assert_eq!(holder["pid"], leftover.id(), "{f}");
    assert_eq!(holder["leftover"], true, "{f}");
    assert_eq!(
        f["proposal"]["commands"][0]["command"],
        format!("kill {}", leftover.id()),
        "{f}"
    );
    assert_eq!(f["decisions"][0]["decision"], "allow", "{f}");
    wait_for(FIX_TIMEOUT, || match leftover.try_wait() {
        Ok(Some(st)) => Ok(st),
        other => Err(format!("{other:?}")),
    })
    .expect("the leftover was stopped");
    wait_log(&d, "web", "listening");
}

#[test]
fn a_stranger_holding_the_port_is_named_and_left_alone() {
    let d = rules_daemon();
    let root = project(&d, "web");
    std::fs::write(root.join("app.py"), BIND_APP).unwrap();
    let port = free_port();
    let mut stranger = listener(port, &[]);
    service(
        &d,
        "web",
        &root,
        &format!("exec python3 app.py {port}"),
        json!({"port": port}),
    );
    wait_log(&d, "web", "Address already in use");
    d.wait_status("web", "exited", FIX_TIMEOUT);
    let f = settled(&d, &start_fix(&d, "web"));
    assert_eq!(f["status"], "no-fix", "{f}");
    assert_eq!(f["incident"]["port_holder"]["leftover"], false, "{f}");
    let reason = f["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("pid {}", stranger.id())),
        "the reason names the holder: {f}"
    );
    assert_eq!(f["backup"], Value::Null, "{f}");
    assert!(pid_alive(stranger.id()), "the stranger was left alone");
    assert_eq!(d.view("web")["status"], "exited");
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[test]
fn a_missing_directory_is_created() {
    let d = rules_daemon();
    let root = project(&d, "writer");
    std::fs::write(
        root.join("app.py"),
        "import time\nwith open('data/x/out.txt', 'w') as f:\n    f.write('ok\\n')\nprint('wrote', flush=True)\ntime.sleep(600)\n",
    )
    .unwrap();
    service(&d, "writer", &root, "exec python3 app.py", json!({}));
    wait_log(&d, "writer", "No such file or directory");
    d.wait_status("writer", "exited", FIX_TIMEOUT);
    let f = fix_verified(&d, "writer", "missing-directory");
    assert!(root.join("data/x").is_dir());
    assert_eq!(
        std::fs::read_to_string(root.join("data/x/out.txt")).unwrap(),
        "ok\n"
    );
    let (_, manifest) = backup(&d, "writer", &f);
    assert!(
        manifest.to_string().contains("data"),
        "the created dir is in the backup's manifest: {manifest}"
    );
}

#[test]
fn a_script_gets_its_exec_bit_and_restore_takes_it_away() {
    let d = rules_daemon();
    let root = project(&d, "script");
    let script = root.join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho started\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    service(&d, "script", &root, "./run.sh", json!({}));
    wait_log(&d, "script", "Permission denied");
    d.wait_status("script", "exited", FIX_TIMEOUT);
    let f = fix_verified(&d, "script", "not-executable");
    assert_eq!(mode(&script) & 0o100, 0o100, "exec bit set");
    wait_log(&d, "script", "started");
    let (dir, manifest) = backup(&d, "script", &f);
    assert_eq!(manifest["files"][0]["path"], "run.sh", "{manifest}");
    assert_eq!(manifest["files"][0]["mode"], 0o644, "{manifest}");
    let blob = manifest["files"][0]["blob"].as_str().unwrap();
    assert_eq!(
        std::fs::read(dir.join(blob)).unwrap(),
        std::fs::read(&script).unwrap()
    );
    // Restore: the old mode comes back.
    let id = f["id"].as_str().unwrap();
    let (status, restore) = d.post_empty(&format!("/api/fixes/{id}/restore"));
    assert_eq!(status, 200, "{restore}");
    let rid = restore["id"].as_str().unwrap();
    assert_eq!(settled(&d, rid)["status"], "verified");
    assert_eq!(mode(&script), 0o644);
}

/// Writes `tinymod-1.0-py3-none-any.whl` (a minimal wheel, built by hand: no network, no build
/// backend) into `dir`.
fn tiny_wheel(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    // No `\` line continuations: they would eat the indentation Python needs.
    let script = concat!(
        "import sys, zipfile\n",
        "with zipfile.ZipFile(sys.argv[1] + '/tinymod-1.0-py3-none-any.whl', 'w') as z:\n",
        "    z.writestr('tinymod/__init__.py', 'VALUE = 42\\n')\n",
        "    z.writestr('tinymod-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: tinymod\\nVersion: 1.0\\n')\n",
        "    z.writestr('tinymod-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: tend-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n",
        "    z.writestr('tinymod-1.0.dist-info/RECORD', 'tinymod/__init__.py,,\\ntinymod-1.0.dist-info/METADATA,,\\ntinymod-1.0.dist-info/WHEEL,,\\ntinymod-1.0.dist-info/RECORD,,\\n')\n",
    );
    let st = Command::new(python3())
        .args(["-c", script, dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn a_declared_python_module_is_installed_offline_into_the_venv() {
    let d = rules_daemon();
    let root = project(&d, "py");
    let st = Command::new(python3())
        .args(["-m", "venv", ".venv"])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(st.success(), "python3 -m venv");
    tiny_wheel(&root.join("wheels"));
    std::fs::write(root.join("requirements.txt"), "tinymod\n").unwrap();
    std::fs::write(
        root.join("app.py"),
        "import time\nimport tinymod\nprint('tinymod', tinymod.VALUE, flush=True)\ntime.sleep(600)\n",
    )
    .unwrap();
    service(&d, "py", &root, "exec .venv/bin/python app.py", json!({}));
    wait_log(&d, "py", "No module named 'tinymod'");
    d.wait_status("py", "exited", FIX_TIMEOUT);
    let f = fix_verified(&d, "py", "python-module-missing");
    let command = f["proposal"]["commands"][0]["command"].as_str().unwrap();
    assert!(command.contains("--no-index"), "{f}");
    assert_eq!(f["commands"][0]["status"], "ok", "{f}");
    wait_log(&d, "py", "tinymod 42");
}

#[test]
fn a_missing_variable_is_copied_from_the_example_into_the_env_file() {
    let d = rules_daemon();
    let root = project(&d, "envy");
    std::fs::write(root.join(".env.example"), "OTHER=2\nGREETING=hello\n").unwrap();
    std::fs::write(root.join(".env"), "OTHER=1\n").unwrap();
    std::fs::write(
        root.join("app.py"),
        "import os, time\nprint('greeting', os.environ['GREETING'], flush=True)\ntime.sleep(600)\n",
    )
    .unwrap();
    service(
        &d,
        "envy",
        &root,
        "exec python3 app.py",
        json!({"env_file": root.join(".env")}),
    );
    wait_log(&d, "envy", "KeyError: 'GREETING'");
    d.wait_status("envy", "exited", FIX_TIMEOUT);
    let f = fix_verified(&d, "envy", "missing-env-var");
    let env = std::fs::read_to_string(root.join(".env")).unwrap();
    // `.env` reads redacted to the plugin, so the line goes before the last `NAME=` it can anchor on.
    let mut lines: Vec<&str> = env.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["GREETING=hello", "OTHER=1"], "{env:?}");
    wait_log(&d, "envy", "greeting hello");
    let (dir, manifest) = backup(&d, "envy", &f);
    assert_eq!(manifest["files"][0]["path"], ".env", "{manifest}");
    let blob = manifest["files"][0]["blob"].as_str().unwrap();
    assert_eq!(std::fs::read(dir.join(blob)).unwrap(), b"OTHER=1\n");
}
