//! Jobs as records: refused requests that change nothing, one job per service, listing with filters,
//! jobs across daemon restarts (finished ones kept, unfinished ones interrupted and their commands
//! stopped), and the `tend custom-restart` / `tend job` / `tend jobs` CLI.

use super::*;

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
        assert_eq!(status, 422, "{body}: {err}");
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
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "status");
    let (status, err) = d.get("/api/jobs?limit=0");
    assert_eq!(status, 422, "{err}");
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
