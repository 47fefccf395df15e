//! Custom-restart workflows through the real daemon: pre-commands in order, the restart with extra args
//! for that run only, post-commands that meet the new run; a failing, timed-out or denied pre-command
//! that leaves the old process running; jobs that are recorded, listed, survive a daemon restart and are
//! marked interrupted when the daemon stops under them; requests that are refused and change nothing;
//! and `tend custom-restart` / `tend job` / `tend jobs` end to end.
//!
//! Commands are judged by the daemon's built-in command policy, which allows ordinary commands declared
//! `is_safe` and denies destructive ones.

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

/// Waits until the job is over (succeeded, failed or interrupted); returns it.
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

/// A plain long-running service in the scratch dir.
fn sleeper(d: &Daemon, name: &str) -> u64 {
    let spec = d.service_with(name, "exec sleep 300", json!({"working_dir": d.scratch()}));
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
    assert_eq!(failed["output_tail"], "about to fail\noops\n");
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

/// A service that ignores SIGTERM, so a restart takes its whole `stop_timeout_s`. Returns once the
/// service says it ignores it.
fn slow_to_stop(d: &Daemon, name: &str, stop_timeout_s: u64) -> u64 {
    let ready = d.scratch().join(format!("{name}.ready"));
    let spec = d.service_with(
        name,
        json!([
            "/bin/sh",
            "-c",
            "trap '' TERM; echo $$ > \"$0\"; while :; do sleep 1; done",
            ready
        ]),
        json!({"stop_timeout_s": stop_timeout_s}),
    );
    d.create(&spec);
    let pid = pid_of(d, name);
    assert_eq!(wait_lines(&ready, 1), [pid.to_string()]);
    pid
}

#[test]
fn rejected_requests_change_nothing() {
    let d = Daemon::start();
    slow_to_stop(&d, "web", 5);
    let jobs_before = d.get("/api/jobs").1;
    let events_before = d.events("web").len();
    let pid_before = pid_of(&d, "web");

    let (status, body) = submit(&d, "nope", &json!({}));
    assert_eq!(status, 404, "{body}");

    let body = json!({"pre_commands": [
        shell("true"), shell("true"),
        {"command_type": "exec", "command": "echo 'unbalanced", "is_safe": true},
    ]});
    let (status, err) = submit(&d, "web", &body);
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "invalid");
    assert_eq!(err["error"]["field"], "pre_commands[2].command");

    for (body, field) in [
        (
            json!({"post_commands": [shell("")]}),
            "post_commands[0].command",
        ),
        (
            json!({"pre_commands": [{"command_type": "shell", "command": "true", "timeout_s": 0}]}),
            "pre_commands[0].timeout_s",
        ),
        (
            json!({"pre_commands": [{"command_type": "shell", "command": "true", "timeout_s": 86401}]}),
            "pre_commands[0].timeout_s",
        ),
        (json!({"args": vec!["x"; 65]}), "args"),
    ] {
        let (status, err) = submit(&d, "web", &body);
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    for (body, field) in [
        (
            json!({"pre_commands": [{"command_type": "python", "command": "x"}]}),
            "pre_commands[0].command_type",
        ),
        (json!({"args": [1]}), "args[0]"),
        (json!({"bogus": true}), "bogus"),
    ] {
        let (status, err) = submit(&d, "web", &body);
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    let (status, _) = send(
        d.request(reqwest::Method::POST, "/api/services/web/custom-restart")
            .body("{}"),
    );
    assert_eq!(status, 415);
    assert_eq!(
        d.get("/api/jobs").1,
        jobs_before,
        "a rejected request recorded a job"
    );
    assert_eq!(d.events("web").len(), events_before);
    assert_eq!(pid_of(&d, "web"), pid_before);

    // One job per service at a time: this restart takes the service's 5 s stop timeout.
    let first = start_job(&d, "web", &json!({"args": ["--first"]}));
    let (status, err) = submit(&d, "web", &json!({"args": ["--second"]}));
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&first),
        "{err}"
    );
    let j = finished_job(&d, &first);
    assert_eq!(j["status"], "succeeded", "{j:#}");
    let (_, page) = d.get("/api/jobs?service=web");
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["id"].as_str())
        .collect();
    assert_eq!(ids, [first.as_str()], "the refused job was recorded");

    let (status, _) = d.get("/api/jobs/999999");
    assert_eq!(status, 404);
    let (status, _) = d.get("/api/jobs/not-a-number");
    assert_eq!(status, 404);
    let (status, err) = d.get("/api/jobs?status=bogus");
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["field"], "status");
    let (status, err) = d.get("/api/jobs?limit=0");
    assert_eq!(status, 400, "{err}");
}

#[test]
fn jobs_are_listed_newest_first_with_filters() {
    let d = Daemon::start();
    sleeper(&d, "a");
    sleeper(&d, "b");
    let ja = start_job(&d, "a", &json!({}));
    finished_job(&d, &ja);
    let jb = start_job(&d, "b", &json!({"pre_commands": [shell("exit 1")]}));
    finished_job(&d, &jb);
    let ja2 = start_job(&d, "a", &json!({"args": ["x"]}));
    finished_job(&d, &ja2);

    let ids = |query: &str| -> Vec<String> {
        let (status, page) = d.get(&format!("/api/jobs{query}"));
        assert_eq!(status, 200, "{page}");
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(""), [ja2.as_str(), &jb, &ja]);
    assert_eq!(ids("?service=a"), [ja2.as_str(), &ja]);
    assert_eq!(ids("?status=failed"), [jb.as_str()]);
    assert_eq!(ids("?status=succeeded&limit=1"), [ja2.as_str()]);
}

#[test]
fn jobs_survive_a_daemon_restart_and_unfinished_ones_are_interrupted() {
    let mut d = Daemon::start();
    sleeper(&d, "web");
    let done = start_job(&d, "web", &json!({"args": ["--kept"]}));
    let before = finished_job(&d, &done);
    assert_eq!(before["status"], "succeeded");

    // A job still in its restart step when the daemon is asked to stop.
    slow_to_stop(&d, "slow", 4);
    let cut = start_job(&d, "slow", &json!({"args": ["--cut"]}));
    wait_until(secs(10), "the job runs its restart step", || {
        step(&job(&d, &cut), "restart", 0)["status"] == "running"
    })
    .unwrap();
    d.restart();

    assert_eq!(
        job(&d, &done),
        before,
        "a finished job changed across a restart"
    );
    let j = job(&d, &cut);
    assert_eq!(j["status"], "interrupted", "{j:#}");
    assert!(
        j["error"]
            .as_str()
            .unwrap_or_default()
            .contains("shut down"),
        "{j:#}"
    );
    assert!(j["finished_at"].is_string());
    // The service is simply back, under its normal command.
    d.wait_status("slow", "running", secs(20));
}

#[test]
fn a_job_cut_by_a_killed_daemon_is_interrupted_and_its_command_stopped() {
    let mut d = Daemon::start();
    let old_pid = sleeper(&d, "web");
    let mark = format!("TT_KILLED_MARK={}", d.marker());
    let id = start_job(
        &d,
        "web",
        &json!({"pre_commands": [shell(&format!("export {mark}; exec sleep 300"))]}),
    );
    let leader = wait_for(secs(20), || {
        match processes_with_env(|env| env.contains(&mark)).as_slice() {
            [pid] => Ok(*pid),
            other => Err(format!("{other:?}")),
        }
    })
    .unwrap();
    d.kill9();
    assert!(pid_alive(leader), "the command died with the daemon");
    d.restart();
    wait_until(secs(20), "the old command is stopped", || {
        !pid_alive(leader)
    })
    .unwrap();
    let j = job(&d, &id);
    assert_eq!(j["status"], "interrupted", "{j:#}");
    assert_eq!(statuses(&j), ["pre:failed", "restart:skipped"], "{j:#}");
    assert!(
        j["error"]
            .as_str()
            .unwrap_or_default()
            .contains("daemon stopped"),
        "{j:#}"
    );
    assert!(
        !pid_alive(old_pid as u32),
        "the old daemon's service was left running"
    );
}

#[test]
fn the_cli_runs_and_follows_a_custom_restart() {
    let d = Daemon::start();
    let spec = d.service_with(
        "web",
        json!([
            "/bin/sh",
            "-c",
            "echo \"$*\" >> argv.log; exec sleep 300",
            "svc"
        ]),
        json!({"working_dir": d.scratch()}),
    );
    d.create(&spec);
    let argv_log = d.scratch().join("argv.log");
    wait_lines(&argv_log, 1);

    let out = d.cli(&[
        "custom-restart",
        "web",
        "--pre",
        "echo cleaning > pre.txt",
        "--post",
        "echo done",
        "--",
        "--config",
        "production.yaml",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("pre[0]") && stdout.contains("restart") && stdout.contains("post[0]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| done"),
        "the post-command's output is shown: {stdout}"
    );
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert_eq!(wait_lines(&argv_log, 2)[1], "--config production.yaml");
    assert_eq!(
        std::fs::read_to_string(d.scratch().join("pre.txt")).unwrap(),
        "cleaning\n"
    );

    let (_, page) = d.get("/api/jobs?service=web");
    let j = &page["jobs"][0];
    assert_eq!(j["origin"], "cli");
    assert_eq!(step(j, "pre", 0)["command_type"], "shell");
    let id = j["id"].as_str().unwrap().to_string();

    // A failing pre-command: exit 1 and the reason on stderr; the service is untouched.
    let pid = pid_of(&d, "web");
    let out = d.cli(&[
        "custom-restart",
        "web",
        "--pre-exec",
        "sh -c 'exit 3'",
        "--",
        "--never",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("failed") && stderr.contains("code 3"),
        "{stderr}"
    );
    assert_eq!(pid_of(&d, "web"), pid);
    assert_eq!(lines(&argv_log).len(), 2);

    // Refused requests exit like every other API error.
    let out = d.cli(&["custom-restart", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    let out = d.cli(&["custom-restart", "web", "--pre-exec", "echo 'open"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pre_commands[0].command"));

    // --detach --json answers the queued job at once; `tend job` and `tend jobs` show jobs.
    let out = d.cli(&["--json", "custom-restart", "web", "--detach"]);
    assert_eq!(out.status.code(), Some(0));
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    let detached = queued["id"].as_str().unwrap().to_string();
    finished_job(&d, &detached);
    let out = d.cli(&["job", &id]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        shown.contains(&format!("job {id}"))
            && shown.contains("succeeded")
            && shown.contains("| done"),
        "{shown}"
    );
    let out = d.cli(&["jobs", "--service", "web"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        table.lines().count() == 4 && table.contains("failed"),
        "{table}"
    );
    let out = d.cli(&["job", "424242"]);
    assert_eq!(out.status.code(), Some(3));
}
