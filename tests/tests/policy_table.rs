//! The command-policy table (`tests/fixtures/policy/table.txt`, shared with the plugin crate's
//! native tests) against the REAL built-in plugin at the boundary: every row through
//! `POST /api/policy/evaluate` of a running daemon, each deny with its reason; the two rates; and
//! the allowed shell rows run for real as custom-restart pre-commands of a service in a scratch
//! root, with sentinel files and dirs outside the root that must not change (also through a
//! symlink in the root that points outside, which the host resolves for the policy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tend_tests::{Daemon, Value, json, wait_for};

const TABLE: &str = include_str!("../fixtures/policy/table.txt");

struct Row {
    allow: bool,
    command_type: String,
    /// `None`: the service's working dir.
    cwd: Option<String>,
    command: String,
    /// The deny reason's expected part; for allowed rows, `norun` keeps it out of the real run.
    reason: String,
}

fn rows(root: &str, data: &str, pid: u32) -> Vec<Row> {
    let fill = |s: &str| {
        s.replace("{ROOT}", root)
            .replace("{DATA}", data)
            .replace("{PID}", &pid.to_string())
            .replace('⏎', "\n")
    };
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 4, "bad table row {l:?}");
            Row {
                allow: f[0] == "allow",
                command_type: f[1].into(),
                cwd: (f[2] != "-").then(|| fill(f[2])),
                command: fill(f[3]),
                reason: f.get(4).map(|r| fill(r)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The service `app` in `<scratch>/app` with the table's environment (and `extra_env`).
fn app(d: &Daemon, extra_env: Value) -> PathBuf {
    let dir = d.scratch().join("app");
    std::fs::create_dir_all(dir.join("build")).expect("app dir");
    let mut env = json!({"BUILD": "build", "TARGET": "/", "FLAGS": "-rf /", "SUB": "build/cache", "HOME": "/home/tester"});
    if let (Some(env), Some(extra)) = (env.as_object_mut(), extra_env.as_object()) {
        env.extend(extra.clone());
    }
    let spec = d.service_with(
        "app",
        json!(["/bin/sh", "-c", "exec sleep 300", "svc"]),
        json!({"working_dir": dir, "restart": "never", "env": env}),
    );
    d.create(&spec);
    dir
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_table_through_the_real_plugin() {
    let d = Daemon::start();
    let root = canonical(&app(&d, json!({})));
    let data = canonical(d.data_dir());
    let rows = rows(&root, &data, d.pid());
    assert!(rows.len() >= 150, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    let (mut ops, mut ops_allowed, mut attacks, mut attacks_denied) = (0, 0, 0, 0);
    for r in &rows {
        let mut body = json!({
            "service": "app",
            "command": {"command_type": r.command_type, "command": r.command, "is_safe": true},
        });
        if let Some(cwd) = &r.cwd {
            body["cwd"] = cwd.as_str().into();
        }
        let (status, answer) = d.post("/api/policy/evaluate", &body);
        assert_eq!(status, 200, "{body} answered {answer}");
        let reason = answer["reason"].as_str().unwrap_or_default();
        let denied = answer["decision"] == "deny";
        if r.allow {
            ops += 1;
            ops_allowed += usize::from(!denied);
        } else {
            attacks += 1;
            attacks_denied += usize::from(denied);
        }
        let ok = if r.allow {
            !denied && answer["allowed"] == true
        } else {
            denied && reason.contains(&r.reason) && !reason.contains("policy plugin")
        };
        if !ok {
            failures.push(format!(
                "{} {:?}: wanted {}, got {} ({reason:?})",
                r.command_type,
                r.command,
                if r.allow {
                    "allow".to_string()
                } else {
                    format!("deny containing {:?}", r.reason)
                },
                answer["decision"]
            ));
        }
    }
    eprintln!(
        "operator corpus allowed: {ops_allowed}/{ops}; attack corpus denied: {attacks_denied}/{attacks}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    // Without a service the dry run judges the daemon's own working dir: no meaningful root.
    let (_, answer) = d.post(
        "/api/policy/evaluate",
        &json!({"command": {"command_type": "shell", "command": "rm -rf build", "is_safe": true}}),
    );
    let reason = answer["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("daemon's own working dir"), "{answer}");
}

/// Programs the real run must not need (no network, no toolchains): stubs that exit 0, first in
/// the service's PATH. Everything else (rm, find, cp, mv, tar, sed, chmod, ...) is the real one.
const STUBS: &[&str] = &[
    "make", "npm", "yarn", "pnpm", "cargo", "go", "python", "python3", "pip", "pip3", "bundle",
    "rake", "composer", "mvn", "gradle", "dotnet", "php", "curl", "git", "rsync", "node",
];

/// The project the allowed rows expect, in `dir`.
fn project(dir: &Path, archives: &BTreeMap<String, Vec<u8>>) {
    let files: &[(&str, &str)] = &[
        ("build/out.o", "o"),
        ("build/cache/c", "c"),
        ("dist/app.js", "js"),
        ("assets/app.css", "css"),
        ("public/.keep", ""),
        ("config.example.yml", "level: debug\n"),
        ("config.yml", "level: debug\n# comment\n"),
        ("scripts/deploy.sh", "#!/bin/sh\necho deployed\n"),
        ("scripts/worker.sh", "#!/bin/sh\necho working\n"),
        ("scripts/migrate.sh", "#!/bin/sh\necho migrated\n"),
        ("bin/rails", "#!/bin/sh\necho rails \"$@\"\n"),
        ("gradlew", "#!/bin/sh\necho gradle \"$@\"\n"),
        ("manage.py", "print('managed')\n"),
        ("artisan", "<?php\n"),
        ("requirements.txt", "\n"),
        ("package.json", "{\"version\": \"1.2.3\"}\n"),
        (".env.example", "X=1\n"),
        ("log.txt", "no shutdown here\n"),
        ("logs/app.log", "ERROR one\nINFO two\n"),
        ("src/main.txt", "TODO\n"),
        ("tmp/.keep", ""),
        ("a.pyc", "x"),
        ("b.tmp", "x"),
        ("c.bak", "x"),
        ("app.pid", "1"),
        ("release/.keep", ""),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    for exe in [
        "scripts/deploy.sh",
        "scripts/worker.sh",
        "scripts/migrate.sh",
        "bin/rails",
        "gradlew",
    ] {
        set_mode(&dir.join(exe), 0o755);
    }
    for (name, bytes) in archives {
        std::fs::write(dir.join(name), bytes).expect("archive");
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Every file and dir under `root` (but `skip`), with what would show a change.
fn snapshot(root: &Path, skip: &[PathBuf], out: &mut BTreeMap<PathBuf, String>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if skip.iter().any(|s| p.starts_with(s)) {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let content = if m.is_file() {
            std::fs::read(&p)
                .map(|b| format!("{b:?}"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        out.insert(
            p.clone(),
            format!("{:o} {} {} {content}", m.mode(), m.len(), m.mtime()),
        );
        if m.is_dir() {
            snapshot(&p, skip, out);
        }
    }
}

fn run_job(d: &Daemon, pre: Vec<Value>) -> Value {
    let (status, job) = d.post(
        "/api/services/app/custom-restart",
        &json!({"pre_commands": pre}),
    );
    assert_eq!(status, 202, "custom restart answered {job}");
    let id = job["id"].as_str().expect("job id").to_string();
    wait_for(Duration::from_secs(180), || {
        let (_, j) = d.get(&format!("/api/jobs/{id}"));
        match j["status"].as_str() {
            Some("queued" | "running") => Err(j.to_string()),
            _ => Ok(j),
        }
    })
    .unwrap_or_else(|e| panic!("job {id} did not finish: {e}"))
}

#[test]
fn the_allowed_rows_run_for_real_and_change_nothing_outside_the_root() {
    let d = Daemon::start();
    let scratch = d.scratch();
    // Sentinels outside the root: siblings named in the table, a home, the stubs themselves.
    let home = scratch.join("home");
    for dir in ["other", "other-app", "elsewhere", "copy", "x", "outside"] {
        let p = scratch.join(dir);
        std::fs::create_dir_all(p.join("sub")).expect("sentinel dir");
        std::fs::write(p.join("sentinel"), dir).expect("sentinel");
        std::fs::write(p.join("sub/sentinel"), dir).expect("sentinel");
    }
    std::fs::create_dir_all(&home).expect("home");
    std::fs::write(home.join(".bashrc"), "# sentinel\n").expect("home sentinel");
    let stubs = scratch.join("stubs");
    std::fs::create_dir_all(&stubs).expect("stubs");
    for s in STUBS {
        let p = stubs.join(s);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").expect("stub");
        set_mode(&p, 0o755);
    }
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", canonical(&stubs));
    let dir = app(&d, json!({"PATH": path, "HOME": home, "APP_ENV": "test"}));
    // Archives the rows unpack, made by allowed commands themselves (real tar and zip).
    project(&dir, &BTreeMap::new());
    std::fs::create_dir_all(dir.join("vendor")).expect("vendor");
    std::fs::write(dir.join("vendor/lib.txt"), "lib").expect("vendor file");
    let made = run_job(
        &d,
        vec![
            json!({"command_type": "shell", "command": "tar czf vendor.tgz vendor && tar czf release.tgz vendor && zip -q release.zip config.yml", "is_safe": true}),
        ],
    );
    assert_eq!(made["status"], "succeeded", "{made:#}");
    let mut archives = BTreeMap::new();
    for a in ["vendor.tgz", "release.tgz", "release.zip"] {
        archives.insert(a.to_string(), std::fs::read(dir.join(a)).expect("archive"));
    }

    let data = canonical(d.data_dir());
    let rows_all = rows(&canonical(&dir), &data, d.pid());
    let rows: Vec<&Row> = rows_all
        .iter()
        .filter(|r| r.allow && r.reason != "norun")
        .collect();
    // Each row in a fresh copy of the project (`case-N` under the root), all in one job.
    let mut pre = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let case = dir.join(format!("case-{i}"));
        project(&case, &archives);
        let command = match r.command_type.as_str() {
            // `cd case-N && ../x` would be refused (a `..` out of a dir entered by name): rows
            // with `..` run in the root itself.
            "shell" if !r.command.contains("..") => format!("cd case-{i} && {}", r.command),
            _ => r.command.clone(),
        };
        pre.push(json!({"command_type": r.command_type, "command": command, "is_safe": true}));
    }
    let mut before = BTreeMap::new();
    let skip = vec![dir.clone(), d.data_dir().to_path_buf()];
    snapshot(&scratch, &skip, &mut before);
    assert!(before.len() > 20, "{before:?}");

    // At most 32 pre-commands per custom restart: batches of 32.
    for batch in pre.chunks(32) {
        let job = run_job(&d, batch.to_vec());
        let failed: Vec<String> = job["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] != "succeeded")
            .map(|s| format!("{s}"))
            .collect();
        assert_eq!(job["status"], "succeeded", "failed steps: {failed:#?}");
    }

    // The denied rows aimed at the sentinels, submitted for real: each job stops at its denied
    // step, and nothing outside changes (before issue 11 several of these deleted `../x`).
    let aimed = rows_all
        .iter()
        .filter(|r| !r.allow && r.cwd.is_none() && r.command_type == "shell")
        .filter(|r| {
            ["../other", "../x", "../copy", "elsewhere"]
                .iter()
                .any(|s| r.command.contains(s))
        });
    let mut denied = 0;
    for r in aimed {
        let job = run_job(
            &d,
            vec![json!({"command_type": "shell", "command": r.command, "is_safe": true})],
        );
        assert_eq!(job["status"], "failed", "{:?} ran: {job:#}", r.command);
        denied += 1;
    }
    assert!(denied >= 10, "only {denied} rows aim at the sentinels");
    // A symlink that exists in the root and points outside: the host resolves it for the policy.
    std::os::unix::fs::symlink(scratch.join("outside"), dir.join("link")).expect("symlink");
    for command in ["rm -rf link/sub", "rm -rf link/*", "echo x > link/sentinel"] {
        let (_, answer) = d.post(
            "/api/policy/evaluate",
            &json!({"service": "app", "command": {"command_type": "shell", "command": command, "is_safe": true}}),
        );
        let reason = answer["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("outside the working dir"),
            "{command}: {answer}"
        );
        let job = run_job(
            &d,
            vec![json!({"command_type": "shell", "command": command, "is_safe": true})],
        );
        assert_eq!(job["status"], "failed", "{command} ran: {job:#}");
    }

    let mut after = BTreeMap::new();
    snapshot(&scratch, &skip, &mut after);
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| k.display().to_string())
        .collect();
    assert!(
        changed.is_empty(),
        "outside the root, these changed: {changed:#?}"
    );
    // The rows did their work inside the root (a few witnesses).
    assert!(!dir.join("case-9/build").exists(), "rm -rf ./build ran");
    assert!(dir.join("case-18/logs/archive").is_dir(), "mkdir -p ran");
}
