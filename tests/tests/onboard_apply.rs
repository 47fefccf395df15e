//! `POST /api/onboard` for real: fixture projects (copied into the test's dir) analysed, their data
//! dir created, setup steps run through the policy, services registered, started and confirmed; each
//! service `running` and answering 200 on the port the plan injected as `PORT` (the Procfile's worker
//! runs without one; crontab-jobs registers cron jobs only). The preview before it registers nothing.
//! An edited plan (a renamed service on another port) is applied as edited. Failures: a setup step the
//! policy denies fails the job before anything is registered; a service that exits at once fails the
//! job with what was registered still listed and the step saying why; a name already taken is 409 at
//! once, nothing registered.

use tend_tests::onboard::{
    OnboardDaemon, describe_steps, http_get, plan_of, planned_services, run_job, service_names,
    shell_step,
};
use tend_tests::{Daemon, Value, free_port, json, secs, wait_for};

/// The names a plan would register (services and cron jobs), sorted.
fn plan_names(plan: &Value) -> Vec<String> {
    let mut names: Vec<String> = planned_services(plan)
        .iter()
        .chain(plan["cron_jobs"].as_array().into_iter().flatten())
        .map(|s| s["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

/// Asserts the service is running, has `PORT` set to its port and answers `GET /` with 200 there.
fn assert_serves(d: &Daemon, name: &str, port: u16) {
    let view = d.wait_status(name, "running", secs(30));
    assert_eq!(
        view["env"]["PORT"],
        json!(port.to_string()),
        "{name}: PORT is the injected port: {view}"
    );
    let answer = wait_for(secs(30), || match http_get(port, "/") {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!("{status} {body}")),
        Err(e) => Err(e),
    });
    if let Err(e) = answer {
        panic!(
            "{name} does not answer 200 on 127.0.0.1:{port}: {e}\nlogs: {:?}",
            d.tail_text(name, 20)
        );
    }
}

/// Onboards fixture `fixture` (by absolute path, or by bare name when `by_name`) with no plan in the
/// request, after checking that its preview registers nothing; asserts the job succeeded and every
/// service runs and answers. Answers the daemon and the finished job.
fn onboard_runs(fixture: &str, by_name: bool) -> (OnboardDaemon, Value) {
    onboard_runs_edited(fixture, by_name, None)
}

/// [`onboard_runs`], with `edit` applied to the previewed plan, which the request then carries
/// (what a user reviewing the preview does).
fn onboard_runs_edited(
    fixture: &str,
    by_name: bool,
    edit: Option<fn(&mut Value)>,
) -> (OnboardDaemon, Value) {
    let d = OnboardDaemon::start("");
    let root = d.project(fixture);
    let mut plan = plan_of(&d, &root);
    assert!(
        service_names(&d).is_empty(),
        "the preview registered something"
    );
    assert!(
        !d.data_dir_of(fixture).exists(),
        "the preview created the data dir"
    );
    let project = if by_name { json!(fixture) } else { json!(root) };
    let body = match edit {
        Some(edit) => {
            edit(&mut plan);
            json!({"project": project, "plan": plan})
        }
        None => json!({"project": project}),
    };
    let job = run_job(&d, &body);
    assert_eq!(
        job["status"],
        "succeeded",
        "{fixture}: {}\nsteps:\n{}",
        job["message"],
        describe_steps(&job)
    );
    assert_eq!(job["root"], json!(root), "{job}");
    let applied = &job["plan"];
    let names = plan_names(applied);
    assert_eq!(
        names,
        plan_names(&plan),
        "the job applied the previewed plan"
    );
    let mut registered: Vec<String> = job["registered"]
        .as_array()
        .expect("registered")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    registered.sort();
    assert_eq!(registered, names, "{job}");
    let services = planned_services(applied);
    for s in &services {
        let name = s["name"].as_str().unwrap();
        match s["port"].as_u64() {
            Some(port) => assert_serves(&d, name, u16::try_from(port).unwrap()),
            None => {
                d.wait_status(name, "running", secs(30));
            }
        }
    }
    let listed = service_names(&d);
    for s in &services {
        assert!(listed.contains(&s["name"].as_str().unwrap().to_string()));
    }
    assert!(
        d.data_dir_of(fixture).is_dir(),
        "the data dir {} exists",
        d.data_dir_of(fixture).display()
    );
    assert!(
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "ok" || s["status"] == "skipped"),
        "{}",
        describe_steps(&job)
    );
    (d, job)
}

#[test]
fn py_script_runs_on_its_injected_port() {
    onboard_runs("py-script", false);
}

/// Marks every setup step `is_safe`: the review of a user who read them (the default policy denies
/// commands declared unsafe; the onboarder declared the Procfile's `release` so until main's dcf0f03,
/// after which this changes nothing).
fn approve_setup(plan: &mut Value) {
    for step in plan["setup"].as_array_mut().expect("setup") {
        step["command"]["is_safe"] = json!(true);
    }
}

#[test]
fn procfile_release_runs_web_and_a_portless_worker_after_the_release_step() {
    let (d, job) = onboard_runs_edited("procfile-release", false, Some(approve_setup));
    let services = planned_services(&job["plan"]);
    assert_eq!(services.len(), 2, "web and worker: {}", job["plan"]);
    let worker = services
        .iter()
        .find(|s| s["name"].as_str().unwrap().ends_with("worker"))
        .unwrap_or_else(|| panic!("a worker service: {}", job["plan"]));
    assert!(worker["port"].is_null(), "the worker listens on nothing");
    assert!(
        worker["env"].get("PORT").is_none(),
        "no PORT for the worker: {worker}"
    );
    let view = d.view(worker["name"].as_str().unwrap());
    assert_eq!(view["status"], "running", "{view}");
    // `release` is a setup step, and it ran before the services.
    let steps = job["steps"].as_array().unwrap();
    let setup = steps
        .iter()
        .position(|s| s["kind"] == "setup" && s["status"] == "ok")
        .unwrap_or_else(|| panic!("the release step ran:\n{}", describe_steps(&job)));
    let first_register = steps.iter().position(|s| s["kind"] == "register").unwrap();
    assert!(setup < first_register, "{}", describe_steps(&job));
    assert!(
        job["plan"]["setup"][0]["command"]["command"]
            .as_str()
            .is_some_and(|c| c.contains("migrate.py")),
        "{}",
        job["plan"]
    );
}

#[test]
fn env_secret_runs_with_its_env_file() {
    onboard_runs("env-secret", false);
}

#[test]
fn makefile_run_runs() {
    onboard_runs("makefile-run", false);
}

#[test]
fn node_start_runs() {
    onboard_runs("node-start", false);
}

#[test]
fn static_site_is_served() {
    onboard_runs("static-site", false);
}

#[test]
fn mono_py_node_runs_both_services_by_bare_name() {
    let (_d, job) = onboard_runs("mono-py-node", true);
    let services = planned_services(&job["plan"]);
    assert_eq!(services.len(), 2, "backend and frontend: {}", job["plan"]);
    let ports: Vec<u64> = services.iter().filter_map(|s| s["port"].as_u64()).collect();
    assert_eq!(ports.len(), 2, "both listen: {}", job["plan"]);
    assert_ne!(ports[0], ports[1]);
}

/// The preview's plan of a fresh py-script copy.
fn py_script(d: &OnboardDaemon) -> (std::path::PathBuf, Value) {
    let root = d.project("py-script");
    let plan = plan_of(d, &root);
    assert_eq!(planned_services(&plan).len(), 1, "{plan}");
    (root, plan)
}

/// Replaces the port `from` by `to` in the service's argv and env values.
fn move_port(service: &mut Value, from: u64, to: u16) {
    let (from, to) = (from.to_string(), to.to_string());
    if let Some(argv) = service["command"].as_array_mut() {
        for a in argv {
            *a = json!(a.as_str().unwrap().replace(&from, &to));
        }
    }
    if let Some(env) = service["env"].as_object_mut() {
        for v in env.values_mut() {
            *v = json!(v.as_str().unwrap().replace(&from, &to));
        }
    }
    service["port"] = json!(to.parse::<u16>().unwrap());
}

#[test]
fn an_edited_plan_is_applied_as_edited() {
    let d = OnboardDaemon::start("");
    let (root, mut plan) = py_script(&d);
    let old = plan["services"][0]["port"].as_u64().expect("a port");
    let port = free_port();
    let s = &mut plan["services"][0];
    s["name"] = json!("renamed-web");
    move_port(s, old, port);
    let job = run_job(&d, &json!({"project": root, "plan": plan}));
    assert_eq!(job["status"], "succeeded", "{}", describe_steps(&job));
    assert_eq!(job["registered"], json!(["renamed-web"]), "{job}");
    assert_eq!(service_names(&d), ["renamed-web"]);
    assert_serves(&d, "renamed-web", port);
    // No analysis: the plan came with the request.
    assert!(
        !job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "analyze"),
        "{}",
        describe_steps(&job)
    );
}

#[test]
fn a_setup_step_the_policy_denies_fails_the_job_before_anything_is_registered() {
    let d = OnboardDaemon::start("");
    let (root, mut plan) = py_script(&d);
    let other = root.parent().unwrap().join("other-app");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep"), "still here\n").unwrap();
    let command = "rm -rf ../other-app";
    plan["setup"]
        .as_array_mut()
        .expect("setup")
        .push(shell_step(command, &root));
    let job = run_job(&d, &json!({"project": root, "plan": plan}));
    assert_eq!(job["status"], "failed", "{}", describe_steps(&job));
    assert_eq!(job["registered"], json!([]), "{job}");
    assert!(service_names(&d).is_empty(), "nothing registered");
    assert_eq!(
        std::fs::read(other.join("keep")).unwrap(),
        b"still here\n",
        "the denied command never ran"
    );
    let steps = job["steps"].as_array().unwrap();
    let denied = steps
        .iter()
        .find(|s| s["kind"] == "setup" && s["status"] == "failed")
        .unwrap_or_else(|| panic!("a failed setup step:\n{}", describe_steps(&job)));
    assert!(
        denied["message"]
            .as_str()
            .is_some_and(|m| m.contains("polic") || m.contains("denied")),
        "the step says the policy denied it: {denied}"
    );
    assert!(
        !steps
            .iter()
            .any(|s| (s["kind"] == "register" || s["kind"] == "start") && s["status"] == "ok"),
        "{}",
        describe_steps(&job)
    );
    // The decision is audited with origin `agent`.
    let (status, audit) = d.get("/api/audit?decision=deny&origin=agent");
    assert_eq!(status, 200, "{audit}");
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["command"] == command),
        "{audit}"
    );
}

#[test]
fn a_service_that_exits_at_once_fails_the_job_and_stays_registered_and_explained() {
    let d = OnboardDaemon::start("");
    let (root, mut plan) = py_script(&d);
    let name = plan["services"][0]["name"].as_str().unwrap().to_string();
    plan["services"][0]["command"] = json!(["sh", "-c", "echo boom-onboard-exit; exit 3"]);
    let job = run_job(&d, &json!({"project": root, "plan": plan}));
    assert_eq!(job["status"], "failed", "{}", describe_steps(&job));
    assert_eq!(job["registered"], json!([name]), "{job}");
    assert_eq!(
        service_names(&d),
        std::slice::from_ref(&name),
        "still registered"
    );
    let failed = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap_or_else(|| panic!("a failed step:\n{}", describe_steps(&job)))
        .clone();
    assert_eq!(failed["target"], json!(name), "{failed}");
    assert!(
        failed["kind"] == "start" || failed["kind"] == "confirm",
        "{failed}"
    );
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("boom-onboard-exit")),
        "the step shows the service's last lines: {failed}"
    );
    assert!(
        job["message"].as_str().is_some_and(|m| m.contains(&name)),
        "the job's message says what stays registered: {job}"
    );
}

#[test]
fn a_name_already_taken_is_409_naming_it_and_registers_nothing() {
    let d = OnboardDaemon::start("");
    let (root, plan) = py_script(&d);
    let name = plan["services"][0]["name"].as_str().unwrap().to_string();
    d.create(&d.service(&name, "sleep 60"));
    for body in [
        json!({"project": root}),
        json!({"project": root, "plan": plan}),
    ] {
        let (status, e) = d.post("/api/onboard", &body);
        assert_eq!(status, 409, "{body}: {e}");
        assert_eq!(e["error"]["code"], "conflict", "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&name)),
            "the error names {name}: {e}"
        );
    }
    assert_eq!(service_names(&d), [name], "nothing else registered");
    assert!(!d.data_dir_of("py-script").exists());
    let (status, jobs) = d.get("/api/onboard/jobs");
    assert_eq!(status, 200, "{jobs}");
    let jobs = jobs.as_array().or_else(|| jobs["jobs"].as_array()).cloned();
    assert_eq!(jobs.map(|j| j.len()), Some(0), "no job stored");
}

#[test]
fn crontab_jobs_registers_its_cron_jobs_with_their_schedules() {
    let (d, job) = onboard_runs("crontab-jobs", false);
    let planned = job["plan"]["cron_jobs"]
        .as_array()
        .expect("cron_jobs")
        .clone();
    assert_eq!(planned.len(), 2, "{}", job["plan"]);
    let (status, cron) = d.get("/api/cron");
    assert_eq!(status, 200, "{cron}");
    let listed = cron.as_array().expect("a list of jobs");
    for c in &planned {
        let found = listed
            .iter()
            .find(|l| l["name"] == c["name"])
            .unwrap_or_else(|| panic!("{} is registered: {cron}", c["name"]));
        assert_eq!(found["schedule"], c["schedule"], "{found}");
        assert_eq!(found["command"], c["command"], "{found}");
        assert_eq!(found["working_dir"], c["working_dir"], "{found}");
    }
    assert!(service_names(&d).is_empty(), "no service: {}", job["plan"]);
}
