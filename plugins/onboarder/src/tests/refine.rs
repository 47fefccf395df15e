//! Refinement against a scripted model: the one request's shape (the protocol the host's black-box
//! test scripts), a valid answer replacing the plan, each validation rule rejecting an answer with
//! its reason and the deterministic plan kept, a failed call, and no call without a model.

use serde_json::{Value, json};

use super::fakes::{FakeProject, Lines, ScriptedLlm, Unreachable};
use crate::model::*;

const PORTS: &[u16] = &[41000, 41001];

fn project() -> FakeProject {
    FakeProject::new()
        .file(
            "Procfile",
            "web: python3 web.py\nworker: python3 worker.py\n",
        )
        .file("web.py", "")
        .file("jobs/nightly.py", "")
        .file(".env", "TOKEN=refine-secret-42\n")
}

fn run(
    p: &FakeProject,
    replies: Vec<Result<String, String>>,
) -> (Result<Plan, String>, ScriptedLlm) {
    let mut llm = ScriptedLlm::new(replies);
    let plan = crate::analyze(p, "app", PORTS, Some("opus"), &mut llm, &Lines::default());
    (plan, llm)
}

fn deterministic(p: &FakeProject) -> Plan {
    crate::analyze(p, "app", PORTS, None, &mut Unreachable, &Lines::default()).unwrap()
}

fn answer() -> Value {
    json!({
        "services": [
            {"name": "app-web", "argv": ["python3", "web.py", "--fast"], "working_dir": "",
             "port": 41001, "env": {"MODE": "prod"}, "health_path": "/", "reason": "faster"},
            {"name": "app-api", "argv": ["python3", "-m", "http.server"], "working_dir": "jobs",
             "port": null, "env": {}, "health_path": null, "reason": "a second server"}
        ],
        "cron_jobs": [
            {"name": "app-nightly", "schedule": "0 3 * * *", "argv": ["python3", "nightly.py"],
             "working_dir": "jobs", "reason": "the README says nightly"}
        ],
        "setup": [
            {"command_type": "exec", "command": "python3 -m compileall .", "working_dir": "",
             "reason": "warm up"}
        ],
        "notes": ["the worker was dropped: it is a stub"]
    })
}

#[test]
fn without_a_model_the_model_is_never_asked() {
    let p = project();
    let plan = crate::analyze(&p, "app", PORTS, None, &mut Unreachable, &Lines::default()).unwrap();
    assert_eq!(plan.author, Author::Rule);
}

#[test]
fn one_request_shows_listing_plan_and_ports_with_the_answer_schema() {
    let p = project();
    let (_, llm) = run(&p, vec![Ok(answer().to_string())]);
    assert_eq!(llm.requests.len(), 1);
    let r = &llm.requests[0];
    assert_eq!(r.model.as_deref(), Some("opus"));
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.messages[0].role, Role::System);
    assert_eq!(r.messages[1].role, Role::User);
    let user: Value = serde_json::from_str(&r.messages[1].content).unwrap();
    assert_eq!(user["project"], "app");
    assert_eq!(user["free_ports"], json!([41000, 41001]));
    let files: Vec<&str> = user["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [".env", "Procfile", "jobs/", "web.py", "jobs/nightly.py"]
    );
    let services = user["plan"]["services"].as_array().unwrap();
    assert_eq!(services[0]["name"], "app-web");
    assert_eq!(services[0]["port"], 41000);
    assert_eq!(services[0]["env"]["PORT"], "41000");
    assert!(user["plan"]["cron_jobs"].is_array() && user["plan"]["setup"].is_array());
    let schema: Value = serde_json::from_str(r.response_schema.as_deref().unwrap()).unwrap();
    assert_eq!(
        schema["required"],
        json!(["services", "cron_jobs", "setup", "notes"])
    );
    assert!(!format!("{r:?}").contains("refine-secret-42"));
}

#[test]
fn a_valid_answer_becomes_the_plan_keeping_detection_evidence() {
    let p = project();
    let before = deterministic(&p);
    let (plan, _) = run(&p, vec![Ok(answer().to_string())]);
    let plan = plan.unwrap();
    assert_eq!(plan.author, Author::Model);
    assert_eq!(plan.source, "model:opus");
    let names: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["app-api", "app-web"]);
    let web = &plan.services[1];
    assert_eq!(web.argv, ["python3", "web.py", "--fast"]);
    assert_eq!(web.port, Some(41001));
    assert_eq!(web.env["PORT"], "41001");
    assert_eq!(web.env["MODE"], "prod");
    assert_eq!(web.evidence, before.services[0].evidence);
    assert_eq!(web.env_file.as_deref(), Some(".env"));
    let api = &plan.services[0];
    assert!(api.evidence[0].reason.contains("a second server"));
    assert_eq!(plan.cron_jobs[0].schedule, "0 3 * * *");
    assert_eq!(plan.setup[0].command_type, CommandType::Exec);
    assert!(!plan.setup[0].is_safe);
    assert!(plan.notes.iter().any(|n| n.contains("worker was dropped")));
}

fn rejected(mutate: impl FnOnce(&mut Value), why: &str) {
    let p = project();
    let mut a = answer();
    mutate(&mut a);
    let (plan, _) = run(&p, vec![Ok(a.to_string())]);
    let plan = plan.unwrap();
    let mut expected = deterministic(&p);
    let note = plan.notes.last().unwrap().clone();
    assert!(
        note.starts_with("the model's plan was rejected: ") && note.contains(why),
        "{note} (wanted {why})"
    );
    expected.notes.push(note);
    assert_eq!(plan, expected);
}

#[test]
fn answers_breaking_a_rule_are_rejected_with_the_reason() {
    rejected(
        |a| a["services"][0]["port"] = json!(8080),
        "port 8080 is not one of the free ports",
    );
    rejected(
        |a| a["services"][1]["port"] = json!(41001),
        "port 41001 is given twice",
    );
    rejected(
        |a| a["services"][1]["name"] = json!("app-web"),
        "`app-web` is used twice",
    );
    rejected(
        |a| a["services"][0]["name"] = json!("web app"),
        "name `web app` is not",
    );
    rejected(
        |a| a["services"][0]["name"] = json!("App.web"),
        "name `App.web` is not",
    );
    rejected(|a| a["services"][0]["argv"] = json!([]), "`argv` is empty");
    rejected(
        |a| a["services"][0]["working_dir"] = json!("../other"),
        "leaves the project",
    );
    rejected(
        |a| a["services"][0]["working_dir"] = json!("nowhere"),
        "is not a directory",
    );
    rejected(
        |a| a["cron_jobs"][0]["schedule"] = json!("daily"),
        "has 1 fields",
    );
    rejected(
        |a| a["services"][0]["env"]["TOKEN"] = json!("<redacted>"),
        "env TOKEN holds a redacted value",
    );
    rejected(
        |a| a["setup"][0]["command_type"] = json!("sudo"),
        "command_type `sudo`",
    );
    rejected(
        |a| {
            a["services"] = json!([]);
            a["cron_jobs"] = json!([]);
        },
        "no service and no cron job",
    );
    rejected(|a| *a = json!("a string"), "not a JSON object");
}

#[test]
fn not_json_and_failed_calls_keep_the_deterministic_plan() {
    let p = project();
    let (plan, _) = run(&p, vec![Ok("Sure! Here is the plan".into())]);
    assert!(
        plan.unwrap()
            .notes
            .last()
            .unwrap()
            .contains("the answer is not JSON")
    );
    let (plan, _) = run(&p, vec![Err("budget exceeded: onboard".into())]);
    let plan = plan.unwrap();
    assert_eq!(plan.author, Author::Rule);
    assert_eq!(
        plan.notes.last().unwrap(),
        "the model's plan was rejected: the model call failed: budget exceeded: onboard"
    );
}

#[test]
fn the_model_can_plan_what_detection_did_not_find() {
    let p = FakeProject::new().file("bin/serve", "#!/bin/sh\n");
    let a = json!({
        "services": [{"name": "odd", "argv": ["sh", "bin/serve"], "working_dir": "", "port": 41000,
                      "env": {}, "health_path": null, "reason": "bin/serve is the entry point"}],
        "cron_jobs": [], "setup": [], "notes": []
    });
    let (plan, llm) = run(&p, vec![Ok(a.to_string())]);
    let plan = plan.unwrap();
    assert_eq!(plan.services[0].name, "odd");
    assert_eq!(plan.author, Author::Model);
    let user: Value = serde_json::from_str(&llm.requests[0].messages[1].content).unwrap();
    assert_eq!(user["plan"]["services"], json!([]));

    let (err, _) = run(
        &p,
        vec![Ok(
            json!({"services": [], "cron_jobs": [], "setup": [], "notes": []}).to_string(),
        )],
    );
    let err = err.unwrap_err();
    assert!(err.starts_with("nothing found in app: looked for"), "{err}");
    assert!(
        err.contains("the model's plan was rejected: it proposes no service"),
        "{err}"
    );
}
