//! How a project is named and what a bad name gets: a bare name resolves under `[onboard]
//! projects_root`; a relative path (`../x`, `a/b`) is 422 naming `project`; a missing project 404;
//! an unknown model 422 naming `model`; an empty directory 422 "nothing found"; the same at once on
//! `POST /api/onboard` with nothing stored. `tend onboard --preview` prints the plan, `tend onboard`
//! of a runnable project exits 0, of an empty one non-zero with the reason.

use tend_tests::onboard::{OnboardDaemon, plan_of, planned_services, preview, service_names};
use tend_tests::{Value, json};

fn assert_invalid(status: u16, e: &Value, field: &str, what: &str) {
    assert_eq!(status, 422, "{what}: {e}");
    assert_eq!(e["error"]["code"], "invalid", "{what}: {e}");
    assert_eq!(e["error"]["field"], field, "{what}: {e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {e}"
    );
}

fn jobs(d: &OnboardDaemon) -> usize {
    let (status, jobs) = d.get("/api/onboard/jobs");
    assert_eq!(status, 200, "{jobs}");
    jobs.as_array()
        .or_else(|| jobs["jobs"].as_array())
        .unwrap_or_else(|| panic!("GET /api/onboard/jobs: {jobs}"))
        .len()
}

#[test]
fn a_bare_name_resolves_under_the_projects_root() {
    let d = OnboardDaemon::start("");
    let root = d.project("py-script");
    let (status, plan) = preview(&d, "py-script", &[]);
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["root"], json!(root), "{plan}");
    assert_eq!(plan["project"], "py-script");
    assert_eq!(plan["data_dir"], json!(d.data_dir_of("py-script")));
    // `name` renames the project, and so its data dir.
    let (status, plan) = preview(&d, "py-script", &[("name", "other")]);
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["project"], "other");
    assert_eq!(plan["data_dir"], json!(d.data_dir_of("other")));
}

#[test]
fn relative_paths_missing_projects_and_unknown_models_are_refused() {
    let d = OnboardDaemon::start("");
    d.project("py-script");
    // A project next to the root, reachable with `..`.
    std::fs::create_dir_all(d.projects.parent().unwrap().join("x")).unwrap();
    for bad in ["../x", "a/b", "py-script/..", ".."] {
        let (status, e) = preview(&d, bad, &[]);
        assert_invalid(status, &e, "project", bad);
        let (status, e) = d.post("/api/onboard", &json!({"project": bad}));
        assert_invalid(status, &e, "project", bad);
    }
    for missing in [
        "nope".to_string(),
        d.projects.join("gone").to_string_lossy().into_owned(),
    ] {
        let (status, e) = preview(&d, &missing, &[]);
        assert_eq!(status, 404, "{missing}: {e}");
        assert_eq!(e["error"]["code"], "not_found", "{e}");
        let (status, e) = d.post("/api/onboard", &json!({"project": missing}));
        assert_eq!(status, 404, "{missing}: {e}");
    }
    let (status, e) = preview(&d, "py-script", &[("model", "no-such-model")]);
    assert_invalid(status, &e, "model", "unknown model");
    let (status, e) = d.post(
        "/api/onboard",
        &json!({"project": "py-script", "model": "no-such-model"}),
    );
    assert_invalid(status, &e, "model", "unknown model");
    assert!(service_names(&d).is_empty());
    assert_eq!(jobs(&d), 0, "nothing stored");
    assert!(!d.data_dir_of("py-script").exists());
}

#[test]
fn an_empty_directory_is_nothing_found() {
    let d = OnboardDaemon::start("");
    let blank = d.projects.join("blank");
    std::fs::create_dir_all(&blank).unwrap();
    for project in ["blank".to_string(), blank.to_string_lossy().into_owned()] {
        let (status, e) = preview(&d, &project, &[]);
        assert_invalid(status, &e, "project", &project);
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("nothing found"),
            "{e}"
        );
    }
    // Applying it: refused at once or a failed job, and never anything registered.
    let (status, e) = d.post("/api/onboard", &json!({"project": "blank"}));
    if status == 202 {
        let job = tend_tests::onboard::settled_job(&d, e["id"].as_str().unwrap());
        assert_eq!(job["status"], "failed", "{job}");
        assert!(
            job["message"]
                .as_str()
                .is_some_and(|m| m.contains("nothing found")),
            "{job}"
        );
    } else {
        assert_invalid(status, &e, "project", "POST blank");
    }
    assert!(service_names(&d).is_empty());
    assert!(!d.data_dir_of("blank").exists());
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_cli_previews_applies_and_explains_nothing_found() {
    let d = OnboardDaemon::start("");
    let root = d.project("py-script");
    let plan = plan_of(&d, &root);
    let service = &planned_services(&plan)[0];
    let name = service["name"].as_str().unwrap();

    let out = d.cli(&["onboard", "--preview", root.to_str().unwrap()]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    for needle in [name, "server.py"] {
        assert!(printed.contains(needle), "{needle:?} in:\n{printed}");
    }
    assert!(
        printed.contains(&root.to_string_lossy().into_owned()) || printed.contains("py-script"),
        "{printed}"
    );
    assert!(service_names(&d).is_empty(), "--preview registers nothing");

    let out = d.cli(&["onboard", "py-script"]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains(name), "{printed}");
    assert_eq!(service_names(&d), [name.to_string()]);
    let view = d.view(name);
    assert_eq!(view["status"], "running", "{view}");
    assert!(view["env"]["PORT"].as_str().is_some(), "{view}");

    std::fs::create_dir_all(d.projects.join("blank")).unwrap();
    let out = d.cli(&["onboard", "blank"]);
    let printed = text(&out);
    assert!(!out.status.success(), "{printed}");
    assert!(printed.contains("nothing found"), "{printed}");
    assert_eq!(service_names(&d), [name.to_string()]);
}
