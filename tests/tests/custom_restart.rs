//! Custom-restart workflows through the real daemon: pre-commands in order, the restart with extra args
//! for that run only, post-commands that meet the new run; a failing, timed-out or denied pre-command
//! that leaves the old process running. Jobs as records (refused requests, listing, daemon restarts) and
//! the CLI are in `custom_restart/jobs.rs`, cancelling jobs and their events in `custom_restart/cancel.rs`;
//! the helpers shared by them are here.
//!
//! Commands are judged by the daemon's built-in command policy, which allows ordinary commands declared
//! `is_safe` and denies destructive ones.

mod cancel;
mod jobs;

use std::path::Path;
use std::time::Duration;

use tend_tests::{
    Daemon, Value, free_port, json, pid_alive, processes_with_env, secs, send, wait_for, wait_until,
};

const JOB_TIMEOUT: Duration = Duration::from_secs(60);

fn shell(command: &str) -> Value {
    json!({"command_type": "shell", "command": command, "is_safe": true})
}

/// POST /api/services/{name}/custom-restart.
fn submit(d: &Daemon, name: &str, body: &Value) -> (u16, Value) {
    d.post(&format!("/api/services/{name}/custom-restart"), body)
}

/// Submits and asserts 202; returns the job id.
fn start_job(d: &Daemon, name: &str, body: &Value) -> String {
    let (status, job) = submit(d, name, body);
    assert_eq!(status, 202, "custom restart of {name} answered {job}");
    job["id"]
        .as_str()
        .unwrap_or_else(|| panic!("job without id: {job}"))
        .to_string()
}

fn job(d: &Daemon, id: &str) -> Value {
    let (status, body) = d.get(&format!("/api/jobs/{id}"));
    assert_eq!(status, 200, "GET job {id}: {body}");
    body
}

/// Waits until the job is over (succeeded, failed, interrupted or cancelled); returns it.
fn finished_job(d: &Daemon, id: &str) -> Value {
    wait_for(JOB_TIMEOUT, || {
        let j = job(d, id);
        match j["status"].as_str() {
            Some("queued" | "running") => Err(j.to_string()),
            _ => Ok(j),
        }
    })
    .unwrap_or_else(|e| panic!("job {id} did not finish: {e}"))
}

/// The step of `phase` (`pre`, `restart`, `post`) at `index`.
fn step<'a>(job: &'a Value, phase: &str, index: u64) -> &'a Value {
    job["steps"]
        .as_array()
        .and_then(|s| {
            s.iter()
                .find(|s| s["phase"] == phase && s["index"].as_u64() == Some(index))
        })
        .unwrap_or_else(|| panic!("no step {phase}[{index}] in {job:#}"))
}

fn statuses(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    format!(
                        "{}:{}",
                        s["phase"].as_str().unwrap_or("?"),
                        s["status"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pid_of(d: &Daemon, name: &str) -> u64 {
    let v = d.wait_status(name, "running", secs(20));
    v["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {v}"))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `path` has at least `n` lines; returns them.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    wait_for(secs(20), || {
        let l = lines(path);
        if l.len() >= n {
            Ok(l)
        } else {
            Err(format!("{l:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{} never had {n} lines: {e}", path.display()))
}

/// A plain long-running service in the scratch dir; extra args of a custom restart become its
/// positional parameters (ignored), so it survives any.
fn sleeper(d: &Daemon, name: &str) -> u64 {
    let spec = d.service_with(
        name,
        json!(["/bin/sh", "-c", "exec sleep 300", "svc"]),
        json!({"working_dir": d.scratch()}),
    );
    d.create(&spec);
    pid_of(d, name)
}

/// A service whose every run appends `start <pid>` to `order.log` and then listens on a port, with a
/// tcp health check: the restart step waits until the new run is healthy.
fn listening_service(d: &Daemon, name: &str) -> u16 {
    let script = d.scratch().join("svc.py");
    std::fs::write(
        &script,
        "import os, socket, sys\n\
         with open('order.log', 'a') as f:\n    f.write('start %d\\n' % os.getpid())\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', int(sys.argv[1])))\n\
         s.listen(16)\n\
         while True:\n    c, _ = s.accept()\n    c.close()\n",
    )
    .unwrap();
    let port = free_port();
    let spec = d.service_with(
        name,
        json!(["python3", script, port.to_string()]),
        json!({
            "working_dir": d.scratch(), "port": port,
            "health": {"probe": "tcp", "interval_s": 1, "retries": 3},
        }),
    );
    d.create(&spec);
    port
}

#[test]
fn steps_run_in_order_and_post_commands_meet_the_new_run() {
    let d = Daemon::start();
    listening_service(&d, "web");
    let log = d.scratch().join("order.log");
    let first = wait_lines(&log, 1);
    let old_pid = pid_of(&d, "web");
    assert_eq!(first, [format!("start {old_pid}")]);

    let resp = d
        .request(reqwest::Method::POST, "/api/services/web/custom-restart")
        .json(&json!({
            "pre_commands": [shell("echo pre1 >> order.log"), shell("echo pre2 >> order.log")],
            "post_commands": [shell("echo \"post $TEND_SERVICE_PID\" >> order.log; echo post-output $TEND_SERVICE_PID")],
        }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let queued: Value = resp.json().unwrap();
    assert_eq!(
        location,
        format!("/api/jobs/{}", queued["id"].as_str().unwrap())
    );
    assert_eq!(queued["status"], "queued", "{queued}");
    assert_eq!(queued["kind"], "custom-restart");
    assert_eq!(queued["service"], "web");
    assert_eq!(queued["origin"], "rest");
    let id = queued["id"].as_str().unwrap().to_string();
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "succeeded", "{j:#}");
    assert_eq!(
        statuses(&j),
        ["pre:ok", "pre:ok", "restart:ok", "post:ok"],
        "{j:#}"
    );

    let new_pid = pid_of(&d, "web");
    assert_ne!(new_pid, old_pid);
    assert_eq!(step(&j, "restart", 0)["pid"].as_u64(), Some(new_pid));
    assert!(
        !pid_alive(old_pid as u32),
        "the old run survived the restart"
    );
    assert_eq!(
        lines(&log),
        [
            format!("start {old_pid}"),
            "pre1".into(),
            "pre2".into(),
            format!("start {new_pid}"),
            format!("post {new_pid}"),
        ]
    );
    let post = step(&j, "post", 0);
    assert_eq!(post["decision"], "allow");
    assert_eq!(post["exit_code"], 0);
    assert_eq!(post["output_tail"], format!("post-output {new_pid}\n"));
    assert_eq!(post["command_type"], "shell");
    assert!(post["duration_ms"].is_u64(), "{post}");
    assert_eq!(
        step(&j, "pre", 1)["argv"],
        json!(["/bin/sh", "-c", "echo pre2 >> order.log"])
    );
    for field in ["created_at", "started_at", "finished_at"] {
        assert!(j[field].is_string(), "{field} missing: {j:#}");
    }

    let reasons: Vec<String> = d
        .events("web")
        .iter()
        .filter_map(|e| e["reason"].as_str().map(str::to_string))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r == &format!("custom-restart job {id}")),
        "no restart event names the job: {reasons:?}"
    );
}

#[test]
fn args_apply_to_the_custom_run_only() {
    let d = Daemon::start();
    // An argv service: the extra args become its positional parameters.
    let spec = d.service_with(
        "argv",
        json!([
            "/bin/sh",
            "-c",
            "echo \"$#:$*\" >> argv.log; exec sleep 300",
            "svc"
        ]),
        json!({"working_dir": d.scratch()}),
    );
    d.create(&spec);
    // A string service: the extra args are appended, shell-quoted, to its command line.
    let spec = d.service_with(
        "line",
        "exec sh -c 'echo \"$#:$*\" >> line.log; exec sleep 300' svc",
        json!({"working_dir": d.scratch()}),
    );
    d.create(&spec);
    let argv_log = d.scratch().join("argv.log");
    let line_log = d.scratch().join("line.log");
    assert_eq!(wait_lines(&argv_log, 1), ["0:"]);
    assert_eq!(wait_lines(&line_log, 1), ["0:"]);

    let args = json!(["--config", "production.yaml", "a b; touch pwned"]);
    for name in ["argv", "line"] {
        let id = start_job(&d, name, &json!({"args": args}));
        let j = finished_job(&d, &id);
        assert_eq!(j["status"], "succeeded", "{j:#}");
        assert_eq!(j["request"]["args"], args);
        let restart = step(&j, "restart", 0);
        let argv = restart["argv"].as_array().unwrap();
        assert!(argv.len() >= 3, "{restart}");
    }
    let expected = "3:--config production.yaml a b; touch pwned";
    assert_eq!(wait_lines(&argv_log, 2)[1], expected);
    assert_eq!(wait_lines(&line_log, 2)[1], expected);
    assert!(
        !d.scratch().join("pwned").exists(),
        "an arg was run as shell syntax"
    );
    assert_eq!(
        d.view("argv")["command"],
        json!([
            "/bin/sh",
            "-c",
            "echo \"$#:$*\" >> argv.log; exec sleep 300",
            "svc"
        ]),
        "the spec must not change"
    );

    // A plain restart, and a crash restart, use the normal command again.
    for name in ["argv", "line"] {
        let (status, body) = d.post_empty(&format!("/api/services/{name}/restart"));
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(wait_lines(&argv_log, 3)[2], "0:");
    assert_eq!(wait_lines(&line_log, 3)[2], "0:");
    let pid = pid_of(&d, "argv");
    // SAFETY: kill(2) on the service's own pid.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(wait_lines(&argv_log, 4)[3], "0:");
}

#[test]
fn a_new_run_that_dies_at_once_fails_the_restart_step() {
    let d = Daemon::start();
    // Dies with code 4 when given `--bad`, runs otherwise.
    let spec = d.service_with(
        "picky",
        json!([
            "/bin/sh",
            "-c",
            "[ \"$1\" = --bad ] && exit 4; exec sleep 300",
            "svc"
        ]),
        json!({"restart": "never"}),
    );
    d.create(&spec);
    d.wait_status("picky", "running", secs(10));
    let marker = d.scratch().join("post-ran");
    let id = start_job(
        &d,
        "picky",
        &json!({
            "args": ["--bad"],
            "post_commands": [shell(&format!("touch {}", marker.display()))],
        }),
    );
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "failed", "{j:#}");
    let restart = step(&j, "restart", 0);
    assert_eq!(restart["status"], "failed", "{j:#}");
    let message = restart["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("did not stay up") && message.contains("code 4"),
        "{restart}"
    );
    assert_eq!(step(&j, "post", 0)["status"], "skipped", "{j:#}");
    assert!(
        !marker.exists(),
        "a post-command ran after a failed restart"
    );

    // Without `--bad` the same service passes the step once it has stayed up.
    let id = start_job(&d, "picky", &json!({}));
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "succeeded", "{j:#}");
    assert_eq!(step(&j, "restart", 0)["status"], "ok", "{j:#}");
}

#[test]
fn a_failing_pre_command_leaves_the_old_process_running() {
    let d = Daemon::start();
    let old_pid = sleeper(&d, "web");
    let id = start_job(
        &d,
        "web",
        &json!({
            "pre_commands": [shell("echo first"), shell("echo about to fail; echo oops >&2; exit 3"), shell("touch never-ran")],
            "post_commands": [shell("touch post-never-ran")],
            "args": ["--x"],
        }),
    );
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "failed", "{j:#}");
    assert_eq!(
        statuses(&j),
        [
            "pre:ok",
            "pre:failed",
            "pre:skipped",
            "restart:skipped",
            "post:skipped"
        ],
        "{j:#}"
    );
    let failed = step(&j, "pre", 1);
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(failed["decision"], "allow");
    // Both streams are kept; two pipes give no order between them.
    let mut tail: Vec<&str> = failed["output_tail"].as_str().unwrap().lines().collect();
    tail.sort_unstable();
    assert_eq!(tail, ["about to fail", "oops"], "{failed}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("pre_commands[1]") && error.contains("code 3"),
        "{error}"
    );
    assert_eq!(pid_of(&d, "web"), old_pid, "the service was touched");
    assert!(pid_alive(old_pid as u32));
    assert!(!d.scratch().join("never-ran").exists());
    assert!(!d.scratch().join("post-never-ran").exists());
    assert!(
        !d.events("web").iter().any(|e| e["to"] == "stopping"),
        "the service was stopped"
    );
}

#[test]
fn a_pre_command_past_its_timeout_loses_its_whole_tree() {
    let d = Daemon::start();
    let old_pid = sleeper(&d, "web");
    let mark = format!("TT_TIMEOUT_MARK={}", d.marker());
    // A child in the group and one that left it with setsid: both must go.
    let command = format!("export {mark}; sleep 300 & setsid sleep 301 & echo started; wait");
    let id = start_job(
        &d,
        "web",
        &json!({"pre_commands": [{"command_type": "shell", "command": command, "is_safe": true, "timeout_s": 1}]}),
    );
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "failed", "{j:#}");
    assert_eq!(statuses(&j), ["pre:timed_out", "restart:skipped"], "{j:#}");
    let pre = step(&j, "pre", 0);
    assert!(
        pre["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{pre}"
    );
    assert_eq!(pre["output_tail"], "started\n");
    let left = processes_with_env(|env| env.contains(&mark));
    assert!(
        left.is_empty(),
        "processes of the timed-out command survive: {left:?}"
    );
    assert_eq!(pid_of(&d, "web"), old_pid);
}

#[test]
fn a_denied_command_never_executes() {
    let d = Daemon::start();
    let old_pid = sleeper(&d, "web");
    let cases = [
        // Destructive: denied by the policy's rules, though declared safe.
        json!({"command_type": "shell", "command": "touch side-effect && rm -rf /", "is_safe": true}),
        // Declared unsafe: denied unless the daemon allows unsafe commands.
        json!({"command_type": "exec", "command": "touch side-effect-2", "is_safe": false}),
    ];
    for (i, denied) in cases.iter().enumerate() {
        let id = start_job(
            &d,
            "web",
            &json!({"pre_commands": [denied], "post_commands": [shell("touch post-ran")]}),
        );
        let j = finished_job(&d, &id);
        assert_eq!(j["status"], "failed", "case {i}: {j:#}");
        assert_eq!(
            statuses(&j),
            ["pre:denied", "restart:skipped", "post:skipped"],
            "case {i}"
        );
        let pre = step(&j, "pre", 0);
        assert_eq!(pre["decision"], "deny", "{pre}");
        assert!(
            !pre["reason"].as_str().unwrap_or_default().is_empty(),
            "a denial must say why: {pre}"
        );
        assert!(pre["pid"].is_null() && pre["exit_code"].is_null(), "{pre}");
        assert!(
            j["error"].as_str().unwrap_or_default().contains("denied"),
            "{j:#}"
        );
    }
    for file in ["side-effect", "side-effect-2", "post-ran"] {
        assert!(
            !d.scratch().join(file).exists(),
            "{file} exists: a denied or skipped command ran"
        );
    }
    assert_eq!(pid_of(&d, "web"), old_pid);
}
