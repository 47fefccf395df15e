//! Processes cannot escape: a descendant that leaves the run's session (`setsid`) and clears its
//! environment (`env -i`, so no `TEND_INSTANCE` marker) is still stopped with its service (stop and
//! delete), with a cron execution (stop) and with a job's command (its end), with cgroup v2 containment (the default where a writable
//! `cgroup2` mount exists, as on these machines) and with `TEND_CONTAINMENT=process` (process group +
//! marker + ancestry + subreaper). `GET /api/status` and `tend status` say which is in use. The boot
//! sweep after a SIGKILLed daemon never signals a recorded process group that now belongs to an
//! unrelated process (pid reuse).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tend_tests::{Daemon, Value, json, pid_alive, secs, wait_for};

/// Shell text that starts a `setsid env -i` descendant (writing its pid to `pidfile`, then exec'ing
/// `sleep`) and then becomes `sleep` itself.
fn escaping(pidfile: &Path) -> String {
    format!(
        "setsid env -i /bin/sh -c 'echo $$ > {}; exec sleep 1000' & exec sleep 1000",
        pidfile.display()
    )
}

/// Like `escaping`, but the descendant is started from a subshell that exits at once (a double fork):
/// it is re-parented to the daemon before tend could have seen where it came from.
fn double_forked(pidfile: &Path) -> String {
    format!(
        "(setsid env -i /bin/sh -c 'echo $$ > {}; exec sleep 1000' &); exec sleep 1000",
        pidfile.display()
    )
}

/// A process that escaped tend's marker; killed when the test ends whatever the outcome, since the
/// fixture finds leftovers by their environment and this one has none.
struct Escapee(u32);

impl Drop for Escapee {
    fn drop(&mut self) {
        if pid_alive(self.0) {
            // SAFETY: kill(2) on the pid this test's service wrote; at worst a no-op.
            unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// The escapee's pid, once it runs `sleep` in a session of its own without tend's variables.
fn escapee(pidfile: &Path) -> Escapee {
    let pid: u32 = wait_for(secs(10), || {
        std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("{} not written yet", pidfile.display()))
    })
    .unwrap();
    let guard = Escapee(pid);
    wait_for(secs(10), || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let env = tend_tests::proc_environ(pid);
        let marked = env.iter().any(|kv| kv.starts_with("TEND_"));
        if comm.trim() == "sleep" && !marked && session_of(pid) == pid {
            Ok(())
        } else {
            Err(format!("comm {comm:?}, environment {env:?}"))
        }
    })
    .unwrap();
    guard
}

/// Session id (field 6 of /proc/<pid>/stat).
fn session_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0;
    };
    stat[close + 2..]
        .split(' ')
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn daemon(containment: &str) -> Daemon {
    Daemon::builder()
        .env("TEND_CONTAINMENT", containment)
        .start()
}

fn assert_gone(e: &Escapee, after: &str) {
    assert!(
        !pid_alive(e.0),
        "the setsid + env -i descendant {} survived {after}",
        e.0
    );
}

fn service_stop_kills_the_escapee(containment: &str) {
    let d = daemon(containment);
    let pidfile = d.scratch().join("escapee.pid");
    d.create(&d.service("x", escaping(&pidfile)));
    let e = escapee(&pidfile);
    let (code, body) = d.post_empty("/api/services/x/stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");
    assert_gone(&e, "POST /api/services/x/stop");

    // Started again, then deleted: the new escapee goes with it.
    std::fs::remove_file(&pidfile).unwrap();
    let (code, body) = d.post_empty("/api/services/x/start");
    assert_eq!(code, 200, "{body}");
    let e = escapee(&pidfile);
    let (code, body) = d.delete("/api/services/x");
    assert!(code == 200 || code == 204, "{code} {body}");
    assert_gone(&e, "DELETE /api/services/x");
}

#[test]
fn stop_and_delete_kill_a_setsid_env_cleared_descendant_with_cgroups() {
    service_stop_kills_the_escapee("auto");
}

#[test]
fn stop_and_delete_kill_a_setsid_env_cleared_descendant_without_cgroups() {
    service_stop_kills_the_escapee("process");
}

fn cron_stop_kills_the_escapee(containment: &str) {
    let d = daemon(containment);
    let pidfile = d.scratch().join("escapee.pid");
    let spec = json!({
        "name": "held", "command": escaping(&pidfile), "schedule": "@yearly", "timezone": "UTC",
        "env_vars": {tend_tests::MARKER_VAR: d.marker()},
    });
    let (code, body) = d.post("/api/cron", &spec);
    assert_eq!(code, 201, "{body}");
    let (code, body) = d.post_empty("/api/cron/held/run");
    assert_eq!(code, 202, "{body}");
    let e = escapee(&pidfile);
    let (code, body) = d.post_empty("/api/cron/held/stop");
    assert_eq!(code, 200, "{body}");
    assert_gone(&e, "POST /api/cron/held/stop");
}

#[test]
fn a_cron_stop_kills_a_setsid_env_cleared_descendant_with_cgroups() {
    cron_stop_kills_the_escapee("auto");
}

#[test]
fn a_cron_stop_kills_a_setsid_env_cleared_descendant_without_cgroups() {
    cron_stop_kills_the_escapee("process");
}

/// The `cgroup2` mount point from /proc/self/mountinfo.
fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
        })
        .expect("these machines have a cgroup2 mount")
}

#[test]
fn status_says_cgroup2_and_each_run_is_in_a_cgroup_of_its_own() {
    let d = daemon("auto");
    let a = d.create(&d.service("a", "exec sleep 1000"));
    let b = d.create(&d.service("b", "exec sleep 1000"));
    let (code, status) = d.get("/api/status");
    assert_eq!(code, 200, "{status}");
    let c = &status["supervisor"]["containment"];
    assert_eq!(c["kind"], "cgroup2", "{status}");
    let root = PathBuf::from(c["root"].as_str().unwrap_or_else(|| panic!("no root: {c}")));
    assert!(
        root.starts_with(cgroup2_mount()) && root.join("cgroup.procs").is_file(),
        "{} is not a cgroup under the cgroup2 mount",
        root.display()
    );
    let cgroup_of = |v: &Value| {
        let pid = v["pid"].as_u64().unwrap();
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let rel = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap()
            .to_string();
        cgroup2_mount().join(rel.trim_start_matches('/'))
    };
    let (ca, cb) = (cgroup_of(&a), cgroup_of(&b));
    assert_eq!(ca.parent(), Some(root.as_path()), "{}", ca.display());
    assert_eq!(cb.parent(), Some(root.as_path()), "{}", cb.display());
    assert_ne!(ca, cb, "two services share a cgroup");

    let out = d.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("containment: cgroup2 ({})", root.display())),
        "{text}"
    );

    // Stopped: the run's cgroup is removed.
    let (code, body) = d.post_empty("/api/services/a/stop");
    assert_eq!(code, 200, "{body}");
    assert!(!ca.exists(), "{} is left after the stop", ca.display());
}

#[test]
fn status_says_process_containment_when_cgroups_are_off() {
    let d = Daemon::builder()
        .env("TEND_CONTAINMENT", "process")
        .control()
        .start();
    let (code, status) = d.get("/api/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        status["supervisor"]["containment"],
        json!({"kind": "process-group+marker+subreaper"}),
        "{status}"
    );
    let out = d.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("containment: process-group+marker+subreaper"),
        "{text}"
    );
    // The control port's `status` is the same answer.
    let line = d.control_authed().ok("status");
    assert_eq!(
        line["status"]["supervisor"]["containment"],
        json!({"kind": "process-group+marker+subreaper"}),
        "{line}"
    );
}

/// Starts `setsid sleep 1000` outside tend with exactly pid `want` (through ns_last_pid; other
/// processes on the machine may take the pid first, so this tries again).
fn foreign_group_leader_with_pid(want: u32) -> Child {
    for _ in 0..200 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (want - 1).to_string())
            .expect("writing ns_last_pid (these tests run as root)");
        let mut child = Command::new("setsid")
            .args(["sleep", "1000"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        if child.id() == want {
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("could not start a process with pid {want}");
}

fn reused_group_survives_the_boot_sweep(containment: &str) {
    let mut d = daemon(containment);
    let view = d.create(&d.service("web", "exec sleep 1000"));
    let old = view["pid"].as_u64().unwrap() as u32;
    // Reading the events flushes the recorder: the run's pid and start time are stored.
    d.events("web");
    d.kill9();
    // The service outlived its daemon; it ends, and its pid (and so its group id) is reused by a
    // process that has nothing to do with tend.
    assert!(pid_alive(old));
    // SAFETY: kill(2) on the service's pid, checked alive just before.
    unsafe { libc::kill(old as libc::pid_t, libc::SIGKILL) };
    wait_for(secs(10), || {
        if Path::new(&format!("/proc/{old}")).exists() {
            Err(format!("{old} not reaped yet"))
        } else {
            Ok(())
        }
    })
    .unwrap();
    let mut foreign = foreign_group_leader_with_pid(old);
    wait_for(secs(10), || match session_of(old) {
        s if s == old => Ok(()),
        s => Err(format!("the foreign process {old} is in session {s}")),
    })
    .unwrap();
    d.restart();
    d.wait_status("web", "running", secs(10));
    let alive = foreign.try_wait().unwrap().is_none();
    let _ = foreign.kill();
    let _ = foreign.wait();
    assert!(
        alive,
        "the restarted daemon killed an unrelated process that reused the recorded pid/group {old}"
    );
}

#[test]
fn the_boot_sweep_spares_a_reused_process_group_with_cgroups() {
    reused_group_survives_the_boot_sweep("auto");
}

#[test]
fn the_boot_sweep_spares_a_reused_process_group_without_cgroups() {
    reused_group_survives_the_boot_sweep("process");
}

#[test]
fn a_job_command_that_ends_takes_its_setsid_env_cleared_descendant_with_it() {
    let d = daemon("auto");
    // The job's command writes its pid file in the service's working dir (the command policy allows
    // writes inside it only).
    d.create(&d.service_with(
        "web",
        "exec sleep 1000",
        json!({"working_dir": d.scratch()}),
    ));
    d.wait_status("web", "running", secs(10));
    let pidfile = d.scratch().join("escapee.pid");
    // The command ends once its background descendant is up; that one must not outlive it.
    let command = format!(
        "{} while [ ! -s {} ]; do sleep 0.05; done; echo started",
        escaping(&pidfile).replace(" & exec sleep 1000", " &"),
        pidfile.display()
    );
    let (code, body) = d.post(
        "/api/services/web/custom-restart",
        &json!({"pre_commands": [{"command_type": "shell", "command": command, "is_safe": true}]}),
    );
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let job = wait_for(secs(60), || {
        let (_, j) = d.get(&format!("/api/jobs/{id}"));
        match j["status"].as_str() {
            Some("queued" | "running") => Err(j.to_string()),
            _ => Ok(j),
        }
    })
    .unwrap();
    assert_eq!(job["steps"][0]["status"], "ok", "{job:#}");
    let e = Escapee(
        std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
    assert_gone(&e, "the end of the job's command");
}

#[test]
fn leftovers_of_a_killed_daemon_are_found_by_their_cgroup_directory() {
    let mut d = daemon("auto");
    let pidfile = d.scratch().join("escapee.pid");
    d.create(&d.service("x", escaping(&pidfile)));
    let e = escapee(&pidfile);
    d.kill9();
    assert!(pid_alive(e.0), "the escapee outlives a SIGKILLed daemon");
    d.restart();
    // The boot sweep is over before the API answers.
    assert_gone(&e, "the restart of a SIGKILLed daemon");
}

fn double_forked_escapee_is_stopped(containment: &str) {
    let d = daemon(containment);
    let pidfile = d.scratch().join("escapee.pid");
    d.create(&d.service("x", double_forked(&pidfile)));
    let e = escapee(&pidfile);
    let ppid = std::fs::read_to_string(format!("/proc/{}/stat", e.0)).unwrap();
    let ppid: u32 = ppid[ppid.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, d.pid(), "the escapee was re-parented to the daemon");
    let (code, body) = d.post_empty("/api/services/x/stop");
    assert_eq!(code, 200, "{body}");
    assert_gone(&e, "POST /api/services/x/stop");
}

#[test]
fn a_double_forked_env_cleared_descendant_is_stopped_with_cgroups() {
    double_forked_escapee_is_stopped("auto");
}

#[test]
fn a_double_forked_env_cleared_descendant_is_stopped_without_cgroups() {
    double_forked_escapee_is_stopped("process");
}

#[test]
fn a_program_that_cannot_start_leaves_no_cgroup_behind() {
    let d = daemon("auto");
    let spec = json!({"max_restarts": 2, "backoff": {"initial_delay_ms": 50, "jitter": 0.0}});
    d.create(&d.service_with("ghost", json!(["/definitely/not/here"]), spec));
    d.wait_status("ghost", "fatal", secs(10));
    let (_, status) = d.get("/api/status");
    let root = PathBuf::from(
        status["supervisor"]["containment"]["root"]
            .as_str()
            .unwrap(),
    );
    let runs: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run-"))
        .collect();
    assert!(runs.is_empty(), "{runs:?} left in {}", root.display());
}
