//! Onboarding's routes, end to end through the real daemon, without depending on what the built-in
//! `onboarder` detects: a preview of an empty directory is `invalid` naming `project` (the plugin
//! found nothing), names that climb out of `[onboard] projects_root` are refused, a preview
//! registers and writes nothing; and `POST /api/onboard` with a plan in the request (as the
//! dashboard sends an edited preview) runs the background job: a denied setup step fails it before
//! anything is registered, a service that listens is registered, started and confirmed, one that
//! exits fails the job and stays registered, named in the job. (The detectors' goldens and the
//! fixtures started through the plugin's own plans are `onboard_*` tests of their own.)

use std::path::{Path, PathBuf};
use std::time::Duration;

use tend_tests::{Daemon, Value, free_port, json, python3, wait_for};

/// Long enough for a loaded machine to start a Python server.
const JOB_TIMEOUT: Duration = Duration::from_secs(60);

struct Setup {
    d: Daemon,
    _tmp: tempfile::TempDir,
    /// `[onboard] projects_root`.
    code: PathBuf,
    /// `[onboard] data_root`.
    data: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
    let code = base.join("Code");
    let data = base.join("data");
    std::fs::create_dir_all(code.join("empty")).expect("empty project");
    std::fs::create_dir_all(&data).expect("data root");
    std::fs::create_dir_all(base.join("outside")).expect("outside dir");
    let d = Daemon::builder()
        .config_toml(&format!(
            "[onboard]\nprojects_root = {:?}\ndata_root = {:?}\nconfirm_timeout_s = 20\n",
            code.to_str().unwrap(),
            data.to_str().unwrap()
        ))
        .start();
    Setup {
        d,
        _tmp: tmp,
        code,
        data,
    }
}

fn assert_invalid(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

fn nothing_registered(s: &Setup) {
    assert_eq!(
        s.d.list().as_array().map(Vec::len),
        Some(0),
        "{}",
        s.d.list()
    );
    let (status, cron) = s.d.get("/api/cron");
    assert_eq!(status, 200, "{cron}");
    assert_eq!(cron.as_array().map(Vec::len), Some(0), "{cron}");
    let entries = std::fs::read_dir(&s.data).unwrap().count();
    assert_eq!(entries, 0, "the data root was written to");
}

#[test]
fn previews_refuse_empty_and_escaping_projects_and_register_nothing() {
    let s = setup();
    // The plugin finds nothing in an empty directory: its sentence, naming `project`.
    let (status, body) = s.d.get("/api/onboard/preview?project=empty");
    assert_invalid(status, &body, "project");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing found"),
        "{body}"
    );
    // The same by absolute path.
    let abs = s.code.join("empty");
    let (status, body) = s.d.get(&format!(
        "/api/onboard/preview?project={}",
        abs.to_str().unwrap()
    ));
    assert_invalid(status, &body, "project");
    // Names that climb out of the projects root, or are paths without being absolute.
    for bad in ["..", "../outside", "empty%2F..", "a/b"] {
        let (status, body) = s.d.get(&format!("/api/onboard/preview?project={bad}"));
        assert_invalid(status, &body, "project");
    }
    // A symlink out of the root is refused too.
    std::os::unix::fs::symlink(
        s.code.parent().unwrap().join("outside"),
        s.code.join("link"),
    )
    .unwrap();
    let (status, body) = s.d.get("/api/onboard/preview?project=link");
    assert_invalid(status, &body, "project");
    // Missing: 404 naming the path.
    let (status, body) = s.d.get("/api/onboard/preview?project=nope");
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("nope"),
        "{body}"
    );
    // An unknown model is the request's fault.
    let (status, body) = s.d.get("/api/onboard/preview?project=empty&model=opus");
    assert_invalid(status, &body, "model");
    // A bad POST is refused at once and stores no job.
    let (status, body) = s.d.post("/api/onboard", &json!({"project": ".."}));
    assert_invalid(status, &body, "project");
    let (status, jobs) = s.d.get("/api/onboard/jobs");
    assert_eq!(status, 200, "{jobs}");
    assert_eq!(jobs["jobs"], json!([]), "{jobs}");
    nothing_registered(&s);
}

/// A plan as the preview answers it, with one service running `argv` in `root` on `port`.
fn plan(s: &Setup, root: &Path, name: &str, argv: Value, port: u16) -> Value {
    json!({
        "project": name,
        "root": root,
        "data_dir": s.data.join(format!(".{name}")),
        "services": [{
            "name": name,
            "command": argv,
            "working_dir": root,
            "port": port,
            "env": {"PORT": port.to_string()},
            "data_dir": true,
            "confidence": 1.0,
            "evidence": [],
        }],
        "author": "rule",
    })
}

fn project(s: &Setup, name: &str) -> PathBuf {
    let root = s.code.join(name);
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// Waits for the job to end; the job.
fn ended(d: &Daemon, id: &str) -> Value {
    let mut last = Value::Null;
    wait_for(JOB_TIMEOUT, || {
        let (status, job) = d.get(&format!("/api/onboard/jobs/{id}"));
        assert_eq!(status, 200, "{job}");
        last = job.clone();
        match job["status"].as_str() {
            Some("succeeded" | "failed") => Ok(()),
            _ => Err(job.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("job {id} never ended: {e}"));
    last
}

#[test]
fn an_edited_plan_is_applied_confirmed_or_failed_visibly() {
    let s = setup();
    let py = python3();
    // A setup step the policy denies (not declared safe): the job fails before anything is
    // registered, and the step says why.
    let root = project(&s, "denied");
    let mut p = plan(&s, &root, "denied", json!([py, "-c", "pass"]), free_port());
    p["setup"] = json!([{
        "command": {"command_type": "exec", "command": "true", "is_safe": false,
                    "allowed_in_production": false, "reason": "r"},
        "working_dir": root,
    }]);
    let (status, job) =
        s.d.post("/api/onboard", &json!({"project": "denied", "plan": p}));
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "queued", "{job}");
    let job = ended(&s.d, job["id"].as_str().unwrap());
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["registered"], json!([]), "{job}");
    let setup = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["kind"] == "setup")
        .unwrap();
    assert_eq!(setup["status"], "failed", "{job}");
    assert!(
        setup["message"]
            .as_str()
            .unwrap()
            .contains("denied by the command policy"),
        "{job}"
    );
    assert!(s.d.list().as_array().unwrap().is_empty());

    // A service that listens on its port: registered, started, confirmed.
    let root = project(&s, "web");
    let port = free_port();
    let argv = json!([
        py,
        "-m",
        "http.server",
        port.to_string(),
        "--bind",
        "127.0.0.1"
    ]);
    let (status, job) = s.d.post(
        "/api/onboard",
        &json!({"project": "web", "plan": plan(&s, &root, "web", argv.clone(), port)}),
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let job = ended(&s.d, &id);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["registered"], json!(["web"]), "{job}");
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| st["status"] == "ok"),
        "{job}"
    );
    let view = s.d.view("web");
    assert_eq!(view["status"], "running", "{view}");
    assert_eq!(view["port"], port, "{view}");
    assert_eq!(
        view["env"]["DATA_DIR"],
        s.data.join(".web").to_str().unwrap(),
        "{view}"
    );
    assert!(s.data.join(".web").is_dir());
    // The same plan again: its name is taken, refused at once (409) and nothing is stored.
    let (status, body) = s.d.post(
        "/api/onboard",
        &json!({"project": "web", "plan": plan(&s, &root, "web", argv, free_port())}),
    );
    assert_eq!(status, 409, "{body}");
    let (_, jobs) = s.d.get("/api/onboard/jobs");
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2, "{jobs}");
    assert_eq!(jobs["jobs"][0]["id"], id.as_str(), "newest first: {jobs}");

    // A service that exits at once: the job fails at its confirmation, with the exit and the last
    // log line, and the service stays registered, named in the job.
    let root = project(&s, "crash");
    let argv = json!([
        py,
        "-c",
        "import sys; print('boom: no config'); sys.exit(3)"
    ]);
    let mut p = plan(&s, &root, "crash", argv, free_port());
    p["services"][0]["health_path"] = json!("/health");
    let (status, job) =
        s.d.post("/api/onboard", &json!({"project": "crash", "plan": p}));
    assert_eq!(status, 202, "{job}");
    let job = ended(&s.d, job["id"].as_str().unwrap());
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["registered"], json!(["crash"]), "{job}");
    let message = job["message"].as_str().unwrap();
    assert!(message.contains("left registered: crash"), "{job}");
    let confirm = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["kind"] == "confirm")
        .unwrap();
    assert_eq!(confirm["status"], "failed", "{job}");
    assert!(
        confirm["message"]
            .as_str()
            .unwrap()
            .contains("boom: no config"),
        "{job}"
    );
    assert!(s.d.view("crash")["name"] == "crash");
}

#[test]
fn a_job_cut_short_by_a_crash_ends_failed_on_the_next_start() {
    let mut s = setup();
    let root = project(&s, "slow");
    let mut p = plan(
        &s,
        &root,
        "slow",
        json!([python3(), "-c", "pass"]),
        free_port(),
    );
    p["setup"] = json!([{
        "command": {"command_type": "exec", "command": "sleep 30", "is_safe": true,
                    "allowed_in_production": true, "reason": "a long install"},
        "working_dir": root,
    }]);
    let (status, job) =
        s.d.post("/api/onboard", &json!({"project": "slow", "plan": p}));
    assert_eq!(status, 202, "{job}");
    let path = format!("/api/onboard/jobs/{}", job["id"].as_str().unwrap());
    wait_for(JOB_TIMEOUT, || {
        let (_, job) = s.d.get(&path);
        let running = job["steps"].as_array().is_some_and(|st| {
            st.iter()
                .any(|st| st["kind"] == "setup" && st["status"] == "running")
        });
        if running {
            Ok(())
        } else {
            Err(job.to_string())
        }
    })
    .expect("the setup step runs");
    s.d.kill9();
    s.d.restart();
    let (status, job) = s.d.get(&path);
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["message"]
            .as_str()
            .unwrap()
            .contains("interrupted by a daemon restart"),
        "{job}"
    );
    assert_eq!(job["registered"], json!([]), "{job}");
    assert!(job["ended_at"].is_string(), "{job}");
}
