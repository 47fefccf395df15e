//! Every fixture project of `tests/fixtures/onboard/` analysed through a `std::fs` project with
//! free ports 41000, 41001...: the key facts of the fixtures of these detectors, and for all of
//! them (other detectors' fixtures too) no panic and no secret in the plan.

use std::path::PathBuf;

use super::fakes::{FsProject, Lines, ScriptedLlm, Unreachable};
use crate::model::*;

const SECRET: &str = "s3cr3t-onboard-value-1234";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onboard")
}

fn ports() -> Vec<u16> {
    (41000..41010).collect()
}

fn analyze(fixture: &str) -> Result<Plan, String> {
    let project = FsProject {
        root: root().join(fixture),
    };
    crate::analyze(
        &project,
        fixture,
        &ports(),
        None,
        &mut Unreachable,
        &Lines::default(),
    )
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn one(plan: &Plan) -> &Service {
    assert_eq!(plan.services.len(), 1, "{plan:#?}");
    &plan.services[0]
}

#[test]
fn every_fixture_plans_without_a_secret() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let result = analyze(&name);
        let shown = format!("{result:?}");
        assert!(!shown.contains(SECRET), "{name}: {shown}");
        assert!(!shown.contains("compose-db-password"), "{name}: {shown}");
        if let Ok(plan) = &result {
            for s in &plan.services {
                assert!(
                    !s.argv.iter().any(|a| a.contains("{port}")),
                    "{name}: {s:?}"
                );
            }
        }
        seen += 1;
    }
    assert!(seen >= 10, "{seen} fixtures");
}

#[test]
fn py_fastapi_app() {
    let plan = analyze("py-fastapi-app").unwrap();
    let svc = one(&plan);
    assert_eq!(svc.name, "py-fastapi-app");
    assert_eq!(
        svc.argv,
        s(&[
            ".venv/bin/python",
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            "41000"
        ])
    );
    assert_eq!(svc.working_dir, "");
    assert_eq!(svc.env["PORT"], "41000");
    assert_eq!(svc.health_path.as_deref(), Some("/health"));
    assert!(svc.evidence.iter().any(|e| e.path == "app/main.py"));
    assert_eq!(plan.setup.len(), 2);
    assert_eq!(plan.source, "python");
}

#[test]
fn py_flask_gunicorn() {
    let plan = analyze("py-flask-gunicorn").unwrap();
    let svc = one(&plan);
    assert_eq!(
        svc.argv,
        s(&[
            ".venv/bin/python",
            "-m",
            "gunicorn",
            "-b",
            "127.0.0.1:41000",
            "shop:app"
        ])
    );
    assert_eq!(svc.health_path.as_deref(), Some("/"));
    assert_eq!(svc.port, Some(41000));
}

#[test]
fn py_django_settings() {
    let plan = analyze("py-django-settings").unwrap();
    let svc = one(&plan);
    assert_eq!(
        svc.argv,
        s(&[
            ".venv/bin/python",
            "-m",
            "gunicorn",
            "-b",
            "127.0.0.1:41000",
            "config.wsgi:application"
        ])
    );
    assert_eq!(svc.env["DJANGO_SETTINGS_MODULE"], "config.settings.prod");
    assert!(
        svc.evidence
            .iter()
            .any(|e| e.path == "config/settings/prod.py")
    );
    let cmds: Vec<&str> = plan.setup.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(
        cmds,
        [
            "python3 -m venv .venv",
            ".venv/bin/python -m pip install -r requirements.txt",
            ".venv/bin/python manage.py migrate --noinput"
        ]
    );
}

#[test]
fn py_script() {
    let plan = analyze("py-script").unwrap();
    let svc = one(&plan);
    assert_eq!(svc.argv, s(&["python3", "server.py"]));
    assert_eq!(svc.port, Some(41000));
    assert_eq!(svc.env["PORT"], "41000");
    assert!(plan.setup.is_empty());
}

#[test]
fn procfile_release() {
    let plan = analyze("procfile-release").unwrap();
    let got: Vec<(&str, Vec<String>, Option<u16>)> = plan
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.argv.clone(), s.port))
        .collect();
    assert_eq!(
        got,
        [
            (
                "procfile-release-web",
                s(&["python3", "web.py"]),
                Some(41000)
            ),
            (
                "procfile-release-worker",
                s(&["python3", "worker.py"]),
                None
            ),
        ]
    );
    assert_eq!(plan.setup.len(), 1);
    assert_eq!(plan.setup[0].command, "python3 migrate.py");
    assert_eq!(plan.setup[0].command_type, CommandType::Shell);
    assert_eq!(plan.source, "procfile");
}

#[test]
fn env_secret() {
    let plan = analyze("env-secret").unwrap();
    let svc = one(&plan);
    assert_eq!(svc.argv, s(&["python3", "server.py"]));
    assert_eq!(svc.env_file.as_deref(), Some(".env"));
    assert!(!svc.env.contains_key("SECRET_TOKEN"));
    assert!(
        plan.evidence
            .iter()
            .any(|e| e.path == ".env" && e.reason.contains("SECRET_TOKEN"))
    );
    assert!(!format!("{plan:?}").contains(SECRET));
}

/// With a model, neither the request nor the plan it gives carries the secret.
#[test]
fn env_secret_never_reaches_the_model() {
    let project = FsProject {
        root: root().join("env-secret"),
    };
    let answer = serde_json::json!({
        "services": [{"name": "env-secret", "argv": ["python3", "server.py"], "working_dir": "",
                      "port": 41000, "env": {}, "health_path": "/", "reason": "ok"}],
        "cron_jobs": [], "setup": [], "notes": []
    });
    let mut llm = ScriptedLlm::new(vec![Ok(answer.to_string())]);
    let plan = crate::analyze(
        &project,
        "env-secret",
        &ports(),
        Some("m"),
        &mut llm,
        &Lines::default(),
    )
    .unwrap();
    assert_eq!(plan.author, Author::Model);
    assert_eq!(plan.services[0].env_file.as_deref(), Some(".env"));
    assert!(!format!("{plan:?}").contains(SECRET));
    assert!(!format!("{:?}", llm.requests).contains(SECRET));
    assert!(format!("{:?}", llm.requests).contains(".env"));
}

#[test]
fn makefile_run() {
    let plan = analyze("makefile-run").unwrap();
    let svc = one(&plan);
    assert_eq!(svc.argv, s(&["make", "run"]));
    assert_eq!(svc.env["PORT"], "41000");
    assert_eq!(svc.confidence, 0.3);
}

#[test]
fn compose_hints() {
    let plan = analyze("compose-hints").unwrap();
    let svc = one(&plan);
    assert_eq!(svc.name, "compose-hints");
    assert_eq!(
        svc.argv,
        s(&[
            "python3",
            "api.py",
            "--host",
            "127.0.0.1",
            "--port",
            "41000"
        ])
    );
    assert_eq!(svc.health_path.as_deref(), Some("/healthz"));
    let notes = plan.notes.join("\n");
    assert!(notes.contains("`db` is postgres:16-alpine"), "{notes}");
    assert!(notes.contains("DATABASE_URL, LOG_LEVEL"), "{notes}");
    assert!(notes.contains("container port 8000"), "{notes}");
}

#[test]
fn crontab_jobs() {
    let plan = analyze("crontab-jobs").unwrap();
    assert!(plan.services.is_empty());
    let got: Vec<(&str, &str, Vec<String>)> = plan
        .cron_jobs
        .iter()
        .map(|c| (c.name.as_str(), c.schedule.as_str(), c.argv.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "crontab-jobs-backup",
                "30 3 * * 1-5",
                s(&["sh", "scripts/backup.sh"])
            ),
            (
                "crontab-jobs-cleanup",
                "*/15 * * * *",
                s(&["python3", "jobs/cleanup.py"])
            ),
        ]
    );
    assert_eq!(plan.source, "cron");
}

#[test]
fn empty() {
    let err = analyze("empty").unwrap_err();
    assert!(
        err.starts_with("nothing found in empty: looked for"),
        "{err}"
    );
}
