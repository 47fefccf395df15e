//! The `env-secret` fixture keeps `SECRET_TOKEN=<value>` in its `.env`: the plan names the file
//! (`env_file`), never the value. The value appears in no preview, no job, no service view, no event
//! of `GET /api/events`, not in the daemon's log, any file of its data dir or the CLI's output; the
//! service itself gets it through `env_file` when it runs (its process environment holds it).

use std::path::Path;

use tend_tests::onboard::{
    OnboardDaemon, describe_steps, http_get, plan_of, planned_services, run_job,
};
use tend_tests::{json, proc_environ, secs, wait_for};

const SECRET: &str = "s3cr3t-onboard-value-1234";

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} holds the secret:\n{text}");
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn the_secret_is_in_no_answer_log_or_output_but_the_service_has_it() {
    let d = OnboardDaemon::start("");
    let root = d.project("env-secret");
    assert!(
        std::fs::read_to_string(root.join(".env"))
            .unwrap()
            .contains(SECRET),
        "the fixture holds the secret"
    );

    let plan = plan_of(&d, &root);
    assert_hidden("the preview", &plan.to_string());
    let services = planned_services(&plan);
    assert!(
        services
            .iter()
            .any(|s| s["env_file"] == json!(root.join(".env"))),
        "a service reads the .env file: {plan}"
    );

    let out = d.cli(&["onboard", "--preview", root.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_hidden(
        "`tend onboard --preview`",
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_hidden(
        "`tend onboard --preview` (stderr)",
        &String::from_utf8_lossy(&out.stderr),
    );
    let out = d.cli(&["onboard", "--preview", "--json", root.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_hidden(
        "`tend onboard --preview --json`",
        &String::from_utf8_lossy(&out.stdout),
    );

    let job = run_job(&d, &json!({"project": root}));
    assert_eq!(job["status"], "succeeded", "{}", describe_steps(&job));
    assert_hidden("the job", &job.to_string());
    let (_, jobs) = d.get("/api/onboard/jobs");
    assert_hidden("the job list", &jobs.to_string());

    // The service runs with the value in its environment, read from the file by tend.
    let name = services.iter().find(|s| !s["env_file"].is_null()).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let view = d.wait_status(&name, "running", secs(30));
    assert_hidden("the service's view", &view.to_string());
    let pid = u32::try_from(view["pid"].as_u64().expect("a pid")).unwrap();
    let env = wait_for(secs(5), || {
        let env = proc_environ(pid);
        if env.iter().any(|kv| kv.starts_with("TEND_INSTANCE=")) {
            Ok(env)
        } else {
            Err(format!("{env:?}"))
        }
    })
    .expect("the service's environment");
    assert!(
        env.contains(&format!("SECRET_TOKEN={SECRET}")),
        "the service gets SECRET_TOKEN from its env_file"
    );
    // The fixture says whether it got the variable, never its value.
    wait_for(secs(30), || {
        let lines = d.tail_text(&name, 50);
        if lines.iter().any(|l| l.contains("secret token set: True")) {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .expect("the service reports SECRET_TOKEN is set");
    if let Some(port) = view["port"].as_u64().or(services[0]["port"].as_u64()) {
        let (status, body) = http_get(u16::try_from(port).unwrap(), "/").expect("GET /");
        assert_eq!(status, 200, "{body}");
        assert_hidden("the service's own answer", &body);
    }

    // A last event marks the end of the history the stream replays.
    d.create(&d.service("zz-end-of-history", "sleep 30"));
    let sse = d.sse("/api/events?after=0");
    let mut seen: Vec<String> = Vec::new();
    sse.wait_for(secs(30), |ev| {
        seen.push(format!("{} {}", ev.event, ev.data));
        ev.data.contains("zz-end-of-history")
    })
    .expect("the event history up to the marker");
    assert!(
        seen.iter().any(|e| e.starts_with("agent ")),
        "the job published its progress: {seen:?}"
    );
    assert_hidden("GET /api/events", &seen.join("\n"));
    let (_, audit) = d.get("/api/audit");
    assert_hidden("GET /api/audit", &audit.to_string());
    assert_hidden("the daemon's log", &d.stderr());
    for file in walk(d.data_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the secret",
            file.display()
        );
    }
}

#[test]
fn the_cli_applying_env_secret_prints_no_secret() {
    let d = OnboardDaemon::start("");
    let root = d.project("env-secret");
    let out = d.cli(&["onboard", root.to_str().unwrap()]);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert_hidden("`tend onboard`", &printed);
}
