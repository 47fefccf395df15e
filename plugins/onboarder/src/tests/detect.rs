//! Detection over in-memory projects: each detector's choices (and near misses), the merge of
//! two detectors describing one process, naming, ports, monorepos, and how few calls a preview
//! of a large project makes.

use super::fakes::{FakeProject, Lines, Unreachable};
use crate::model::*;

const PORTS: &[u16] = &[41000, 41001, 41002];

fn plan_of(p: &FakeProject, name: &str) -> Plan {
    crate::analyze(p, name, PORTS, None, &mut Unreachable, &Lines::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn fastapi_runs_the_module_that_creates_the_app() {
    let p = FakeProject::new()
        .file("requirements.txt", "fastapi\nuvicorn\n")
        .file("app/__init__.py", "")
        .file(
            "app/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        )
        .file("tests/test_main.py", "app = FastAPI()\n");
    let plan = plan_of(&p, "shop");
    let svc = &plan.services[0];
    assert_eq!(svc.name, "shop");
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
    assert_eq!(svc.port, Some(41000));
    assert_eq!(svc.env["PORT"], "41000");
    assert_eq!(svc.health_path.as_deref(), Some("/docs"));
    assert!(
        svc.evidence.iter().any(|e| e.path == "app/main.py"),
        "{:?}",
        svc.evidence
    );
    assert_eq!(
        plan.setup
            .iter()
            .map(|s| s.command.as_str())
            .collect::<Vec<_>>(),
        [
            "python3 -m venv .venv",
            ".venv/bin/python -m pip install -r requirements.txt"
        ]
    );
    assert!(plan.setup.iter().all(|s| s.is_safe));
    assert_eq!(plan.source, "python");
    assert_eq!(plan.author, Author::Rule);
}

#[test]
fn a_src_layout_app_factory_less_app_and_a_declared_health_route() {
    let p = FakeProject::new()
        .file(
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\"fastapi\", \"uvicorn\"]\n",
        )
        .file(
            "src/svc/api.py",
            "api: FastAPI = FastAPI(docs_url=None)\n@api.get(\"/healthz\")\ndef h(): ...\n",
        );
    let svc = &plan_of(&p, "x").services[0];
    assert!(
        svc.argv.contains(&"svc.api:api".to_string()),
        "{:?}",
        svc.argv
    );
    assert_eq!(svc.env["PYTHONPATH"], "src");
    assert_eq!(svc.health_path.as_deref(), Some("/healthz"));
}

#[test]
fn an_existing_virtualenv_is_the_interpreter() {
    let p = FakeProject::new()
        .file("requirements.txt", "flask\n")
        .file(".venv/bin/python", "")
        .file(
            "app.py",
            "from flask import Flask\napp = Flask(__name__)\n@app.route(\"/\")\ndef i(): ...\n",
        );
    let plan = plan_of(&p, "f");
    let svc = &plan.services[0];
    assert_eq!(
        svc.argv,
        s(&[
            ".venv/bin/python",
            "-m",
            "flask",
            "--app",
            "app:app",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            "41000"
        ])
    );
    assert_eq!(svc.health_path.as_deref(), Some("/"));
    // No venv to create: the project has one.
    assert_eq!(plan.setup.len(), 1);
    assert_eq!(
        plan.setup[0].command,
        ".venv/bin/python -m pip install -r requirements.txt"
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("development server")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn django_follows_a_star_import_to_the_wsgi_module() {
    let p = FakeProject::new()
        .file(
            "manage.py",
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings.staging')\n",
        )
        .file(
            "site_cfg/settings/base.py",
            "WSGI_APPLICATION = 'site_cfg.wsgi.application'\n",
        )
        .file(
            "site_cfg/settings/staging.py",
            "from .base import *\nDEBUG = True\n",
        );
    let plan = plan_of(&p, "dj");
    let svc = &plan.services[0];
    assert_eq!(
        svc.argv,
        s(&[
            "python3",
            "manage.py",
            "runserver",
            "127.0.0.1:41000",
            "--noreload"
        ])
    );
    assert_eq!(
        svc.env["DJANGO_SETTINGS_MODULE"],
        "site_cfg.settings.staging"
    );
    assert!(
        svc.evidence
            .iter()
            .any(|e| e.path == "site_cfg/settings/base.py"),
        "{:?}",
        svc.evidence
    );
    let migrate = plan
        .setup
        .iter()
        .find(|s| s.command.contains("migrate"))
        .unwrap();
    assert!(!migrate.is_safe);
}

#[test]
fn procfile_wins_over_the_framework_and_names_are_sorted() {
    let p = FakeProject::new()
        .file("requirements.txt", "flask\ngunicorn\n")
        .file("app.py", "app = Flask(__name__)\n")
        .file("Procfile", "worker: python3 worker.py\nweb: gunicorn app:app\nclock: python3 clock.py --port $PORT\nrelease: python3 migrate.py\n");
    let plan = plan_of(&p, "proj");
    let names: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["proj-clock", "proj-web", "proj-worker"]);
    // Ports in name order to the services that listen.
    assert_eq!(plan.services[0].port, Some(41000));
    assert_eq!(
        plan.services[0].argv,
        s(&["sh", "-c", "python3 clock.py --port $PORT"])
    );
    assert_eq!(plan.services[1].port, Some(41001));
    // From the virtualenv setup makes and installs into; a shell line is left alone.
    assert_eq!(plan.services[1].argv, s(&[".venv/bin/gunicorn", "app:app"]));
    assert_eq!(
        plan.services[2].argv,
        s(&[".venv/bin/python3", "worker.py"])
    );
    assert_eq!(plan.services[2].port, None);
    assert!(!plan.services[2].env.contains_key("PORT"));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("kept procfile") && n.contains("own declaration")),
        "{:?}",
        plan.notes
    );
    // Install first, then the release phase.
    let cmds: Vec<&str> = plan.setup.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(cmds.last(), Some(&"python3 migrate.py"));
    assert!(cmds[0].contains("venv"));
    assert_eq!(plan.source, "procfile,python");
}

#[test]
fn a_listening_service_beyond_the_free_ports_gets_none_and_a_note() {
    let p = FakeProject::new().file(
        "Procfile",
        "a: x --port $PORT\nb: y --port $PORT\nweb: z -b 0.0.0.0:$PORT\n",
    );
    let plan =
        crate::analyze(&p, "n", &[41000], None, &mut Unreachable, &Lines::default()).unwrap();
    assert_eq!(plan.services[0].port, Some(41000));
    assert_eq!(plan.services[1].port, None);
    assert_eq!(plan.services[2].port, None);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("n-b listens on a port")),
        "{:?}",
        plan.notes
    );
    let binds_all = |n: &String| n.contains("`web` binds 0.0.0.0");
    assert!(plan.notes.iter().any(binds_all), "{:?}", plan.notes);
}

#[test]
fn a_port_flag_without_a_port_is_dropped_not_left_as_a_placeholder() {
    let p = FakeProject::new()
        .file("requirements.txt", "fastapi\nuvicorn\n")
        .file("main.py", "app = FastAPI()\n");
    let plan = crate::analyze(&p, "n", &[], None, &mut Unreachable, &Lines::default()).unwrap();
    let argv = &plan.services[0].argv;
    assert!(
        !argv.iter().any(|a| a.contains("{port}") || a == "--port"),
        "{argv:?}"
    );
    assert!(argv.contains(&"main:app".to_string()));
}

#[test]
fn a_monorepo_runs_each_project_dir_relative_to_the_root() {
    let p = FakeProject::new()
        .file("README.md", "# mono\n")
        .file(
            "backend/server.py",
            "import os\nPORT = os.environ['PORT']\nif __name__ == '__main__': ...\n",
        )
        .file("services/api/Procfile", "web: python3 api.py\n")
        .file("services/api/api.py", "")
        .file("services/docs/README.md", "not a project\n")
        .file("docs/conf.py", "x = 1\n");
    let plan = plan_of(&p, "mono");
    let got: Vec<(&str, &str, Option<u16>)> = plan
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.working_dir.as_str(), s.port))
        .collect();
    assert_eq!(
        got,
        [
            ("mono-backend", "backend", Some(41000)),
            ("mono-web", "services/api", Some(41001))
        ]
    );
    assert_eq!(plan.services[0].argv, s(&["python3", "server.py"]));
}

#[test]
fn two_processes_of_the_same_name_in_two_dirs_get_the_dir_in_their_names() {
    let p = FakeProject::new()
        .file("a/Procfile", "web: one\n")
        .file("b/Procfile", "web: two\n");
    let names: Vec<String> = plan_of(&p, "m")
        .services
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["m-a-web", "m-b-web"]);
}

#[test]
fn names_are_sanitised_bounded_and_unique() {
    let long = "x".repeat(80);
    let p = FakeProject::new().file("Procfile", "web: a\nweb_2: b\n");
    let plan = plan_of(&p, &format!("my app/{long}"));
    // What tend registers: ^[a-z0-9][a-z0-9_-]{0,62}$.
    for s in &plan.services {
        assert!(s.name.len() <= 63, "{}", s.name);
        assert!(
            s.name
                .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c);
        assert!(s.name.chars().all(ok), "{}", s.name);
    }
    assert_ne!(plan.services[0].name, plan.services[1].name);
    let single = FakeProject::new().file("Procfile", "web: a\n");
    assert_eq!(
        plan_of(&single, "My.App  v2!").services[0].name,
        "my-app-v2"
    );
}

#[test]
fn nothing_found_names_what_was_looked_for() {
    let p = FakeProject::new()
        .file(".gitkeep", "")
        .file("README.md", "hello\n")
        .file(".env.example", "A=\n");
    let err = crate::analyze(
        &p,
        "blank",
        PORTS,
        None,
        &mut Unreachable,
        &Lines::default(),
    )
    .unwrap_err();
    assert!(
        err.starts_with("nothing found in blank: looked for "),
        "{err}"
    );
    assert!(
        err.contains("a Procfile") && err.contains("Python"),
        "{err}"
    );
}

#[test]
fn env_files_attach_by_name_and_templates_document_missing_ones() {
    let p = FakeProject::new()
        .file("Procfile", "web: a\n")
        .file(".env", "TOKEN=hidden-value-9\n")
        .file(".env.local", "X=1\n")
        .file("worker/Procfile", "worker: b\n")
        .file("worker/.env.example", "QUEUE_URL=\nWORKERS=4\n");
    let plan = plan_of(&p, "e");
    assert_eq!(plan.services[0].env_file.as_deref(), Some(".env"));
    assert_eq!(plan.services[1].env_file, None);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("worker/.env is missing") && n.contains("QUEUE_URL, WORKERS")),
        "{:?}",
        plan.notes
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains(".env.local is not read"))
    );
    let ev = plan.evidence.iter().find(|e| e.path == ".env").unwrap();
    assert!(ev.reason.contains("TOKEN"));
    assert!(!format!("{plan:?}").contains("hidden-value-9"));
}

#[test]
fn crontab_lines_macros_and_what_is_left_out() {
    let p = FakeProject::new()
        .file("crontab", "SHELL=/bin/sh\n@daily python3 report.py\n@reboot ./boot.sh\n0 * * * python3 short.py\n5 4 * * sun cd /srv && ./bin/rotate.sh > /dev/null\n")
        .file("nightly.cron", "0 2 * * * python3 report.py --full\n");
    let plan = plan_of(&p, "c");
    let got: Vec<(&str, &str)> = plan
        .cron_jobs
        .iter()
        .map(|c| (c.name.as_str(), c.schedule.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("c-report", "0 0 * * *"),
            ("c-report-2", "0 2 * * *"),
            ("c-rotate", "5 4 * * sun")
        ]
    );
    assert_eq!(plan.cron_jobs[2].argv[0], "sh");
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("crontab:1") && n.contains("SHELL"))
    );
    assert!(plan.notes.iter().any(|n| n.contains("@reboot")));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("crontab:4") && n.contains("not a cron line"))
    );
    assert!(plan.services.is_empty());
    assert_eq!(plan.confidence, 0.5);
}

#[test]
fn makefile_targets_are_a_low_confidence_guess_that_loses_to_a_framework() {
    let only = FakeProject::new().file(
        "Makefile",
        "VAR := 1\nbuild:\n\tcc x\nserve start: build\n\t./x\n",
    );
    let plan = plan_of(&only, "mk");
    assert_eq!(plan.services[0].argv, s(&["make", "start"]));
    assert_eq!(plan.services[0].confidence, 0.3);
    assert_eq!(plan.services[0].env["PORT"], "41000");
    assert_eq!(plan.confidence, 0.3);
    let both = FakeProject::new()
        .file("Makefile", "run:\n\tpython3 app.py\n")
        .file(
            "app.py",
            "import os\nif __name__ == '__main__': os.environ['PORT']\n",
        );
    let plan = plan_of(&both, "mk");
    assert_eq!(plan.services.len(), 1);
    assert_eq!(plan.services[0].argv, s(&["python3", "app.py"]));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("python is more specific than makefile"))
    );
}

#[test]
fn compose_hints_without_copying_values() {
    let p = FakeProject::new()
        .file(
            "compose.yaml",
            "services:\n  web:\n    build:\n      context: ./api\n    command: [\"python3\", \"serve.py\", \"--bind\", \"0.0.0.0:9000\"]\n    ports: [\"127.0.0.1:80:9000/tcp\"]\n    env_file: [missing.env, api.env]\n    environment:\n      API_KEY: compose-secret-value\n    healthcheck:\n      test: curl -f http://localhost:9000/status || exit 1\n  cache:\n    image: redis:7\n  proxy:\n    image: nginx\n  escape:\n    build: ../elsewhere\n    command: x\n",
        )
        .dir("api")
        .file("api.env", "API_KEY=from-the-env-file\n");
    let plan = plan_of(&p, "cmp");
    let web = &plan.services[0];
    assert_eq!(web.working_dir, "api");
    assert_eq!(
        web.argv,
        s(&["python3", "serve.py", "--bind", "127.0.0.1:41000"])
    );
    assert_eq!(web.health_path.as_deref(), Some("/status"));
    assert_eq!(web.env_file.as_deref(), Some("api.env"));
    assert_eq!(web.confidence, 0.5);
    let notes = plan.notes.join("\n");
    assert!(notes.contains("`cache` is redis:7"), "{notes}");
    assert!(notes.contains("`proxy` runs the image nginx"), "{notes}");
    assert!(notes.contains("outside the project"), "{notes}");
    assert!(notes.contains("compose sets API_KEY"), "{notes}");
    assert!(!format!("{plan:?}").contains("compose-secret-value"));
}

/// A project of a few thousand files: the preview lists a few directories, never the whole tree,
/// and greps only where a framework is declared.
#[test]
fn a_large_project_takes_a_handful_of_calls() {
    let mut p = FakeProject::new()
        .file("requirements.txt", "fastapi\nuvicorn\n")
        .file("svc/main.py", "app = FastAPI()\n");
    for i in 0..20 {
        for j in 0..20 {
            for k in 0..10 {
                p = p.file(&format!("pkg{i}/mod{j}/f{k}.txt"), "x");
            }
        }
    }
    let plan = plan_of(&p, "big");
    assert_eq!(plan.services[0].argv[3], "svc.main:app");
    let calls = p.calls.borrow();
    let lists = calls.iter().filter(|c| c.starts_with("list_dir")).count();
    let greps = calls.iter().filter(|c| c.starts_with("grep")).count();
    assert_eq!(lists, 1, "{calls:?}");
    assert!(greps <= 2, "{calls:?}");
}

/// A root too wide to list two levels deep falls back to one level and conventional names.
#[test]
fn a_root_too_wide_for_two_levels_still_plans() {
    let mut p = FakeProject::new()
        .file("README.md", "")
        .file("backend/Procfile", "web: python3 app.py\n");
    for i in 0..70 {
        for j in 0..30 {
            p = p.file(&format!("data{i}/d{j}/x"), "x");
        }
    }
    let plan = plan_of(&p, "wide");
    assert_eq!(plan.services[0].working_dir, "backend");
    let calls = p.calls.borrow();
    let lists = calls.iter().filter(|c| c.starts_with("list_dir")).count();
    assert!(lists <= 4, "{calls:?}");
}

#[test]
fn setup_runs_installs_then_builds_then_the_rest() {
    let p = FakeProject::new()
        .file("pyproject.toml", "[project]\ndependencies = [\"flask\"]\n")
        .file("uv.lock", "")
        .file("app.py", "app = Flask(__name__)\n")
        .file(
            "Procfile",
            "release: python3 manage_assets.py build\nweb: flask run\n",
        );
    let plan = plan_of(&p, "u");
    let cmds: Vec<&str> = plan.setup.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(cmds, ["uv sync --frozen", "python3 manage_assets.py build"]);
    // The Procfile's program comes from the virtualenv setup installs into.
    assert_eq!(plan.services[0].argv, s(&[".venv/bin/flask", "run"]));
}

#[test]
fn render_blueprint_cron_services_are_cron_jobs() {
    let p = FakeProject::new()
        .file(
            "render.yaml",
            "services:\n  - type: web\n    name: site\n    startCommand: gunicorn app:app\n  - type: cron\n    name: Nightly Report\n    schedule: \"0 2 * * *\"\n    startCommand: python3 report.py\n    rootDir: tools\n  - type: cron\n    name: broken\n    schedule: daily\n    startCommand: x\n",
        )
        .file("tools/report.py", "");
    let plan = plan_of(&p, "r");
    assert_eq!(plan.cron_jobs.len(), 1);
    let c = &plan.cron_jobs[0];
    assert_eq!(c.name, "r-nightly-report");
    assert_eq!(c.schedule, "0 2 * * *");
    assert_eq!(c.argv, s(&["python3", "report.py"]));
    assert_eq!(c.working_dir, "tools");
    assert!(
        plan.notes.iter().any(|n| n.contains("`broken`")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn app_factories_are_called_the_way_each_server_calls_them() {
    let fastapi = FakeProject::new()
        .file("requirements.txt", "fastapi\nuvicorn\n")
        .file(
            "svc/factory.py",
            "from fastapi import FastAPI\n\n\ndef create_app():\n    app = None\n    return FastAPI(title='x')\n",
        );
    let argv = &plan_of(&fastapi, "f").services[0].argv;
    assert_eq!(&argv[3], "svc.factory:create_app");
    assert_eq!(argv.last().map(String::as_str), Some("--factory"));
    let flask = FakeProject::new()
        .file("requirements.txt", "flask\ngunicorn\n")
        .file(
            "web/__init__.py",
            "def make():\n    return Flask(__name__)\n",
        );
    let argv = &plan_of(&flask, "f").services[0].argv;
    assert_eq!(argv.last().map(String::as_str), Some("web:make()"));
}
