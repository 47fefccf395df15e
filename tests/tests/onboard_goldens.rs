//! Onboarding goldens without an LLM: every fixture project of `tests/fixtures/onboard/` (none
//! skipped) previewed through `GET /api/onboard/preview?project=<absolute path>` and compared with
//! `tests/fixtures/onboard/<fixture>.plan.json`, after replacing what varies from run to run: the
//! root (`<root>`), the data dir (`<data>`) and each port the plan hands out (`<port:N>`, in the order
//! of its services). A golden holding `{"error": ...}` expects that 422 body (the `empty` fixture).
//! `TEND_UPDATE_GOLDENS=1` rewrites the goldens from what the daemon answers; review the diff.

use std::path::PathBuf;

use tend_tests::Value;
use tend_tests::onboard::{
    OnboardDaemon, fixture_names, fixtures_dir, normalise, preview, service_names,
};

fn golden_path(fixture: &str) -> PathBuf {
    fixtures_dir().join(format!("{fixture}.plan.json"))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON") + "\n"
}

#[test]
fn every_fixture_previews_as_its_golden() {
    let update = std::env::var_os("TEND_UPDATE_GOLDENS").is_some_and(|v| v == "1");
    let d = OnboardDaemon::start("");
    let before = d.list();
    let fixtures = fixture_names();
    assert!(
        fixtures.iter().any(|f| f == "empty"),
        "tests/fixtures/onboard has an `empty` fixture: {fixtures:?}"
    );
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let root = fixtures_dir().join(fixture);
        let (status, body) = preview(&d, root.to_str().expect("utf-8 path"), &[]);
        let actual = normalise(&body, &root, &d.data_dir_of(fixture));
        let path = golden_path(fixture);
        if update {
            assert!(
                status == 200 || status == 422,
                "{fixture}: preview answered {status} {body}"
            );
            std::fs::write(&path, pretty(&actual))
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{fixture}: no golden {}; write it with `TEND_UPDATE_GOLDENS=1 cargo test -p \
                 tend-tests -- onboard_goldens::` and review what it holds (the preview answered \
                 {status})",
                path.display()
            ));
            continue;
        };
        let golden: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let want_status = if golden.get("error").is_some() {
            422
        } else {
            200
        };
        if status != want_status || actual != golden {
            let diff = similar::TextDiff::from_lines(&pretty(&golden), &pretty(&actual))
                .unified_diff()
                .header("golden", "preview")
                .to_string();
            failures.push(format!(
                "{fixture}: preview answered {status} (golden expects {want_status}), differing \
                 from {} (TEND_UPDATE_GOLDENS=1 rewrites it):\n{diff}",
                path.display()
            ));
        }
    }
    // A golden whose fixture is gone is stale.
    for e in std::fs::read_dir(fixtures_dir())
        .expect("read fixtures")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(fixture) = name.strip_suffix(".plan.json")
            && !fixtures.iter().any(|f| f == fixture)
        {
            failures.push(format!("{name}: a golden without its fixture directory"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Previews register nothing and create no data dir.
    assert_eq!(d.list(), before, "a preview registered something");
    for fixture in &fixtures {
        assert!(
            !d.data_dir_of(fixture).exists(),
            "a preview created the data dir of {fixture}"
        );
    }
}

#[test]
fn the_empty_fixture_is_nothing_found_naming_the_project() {
    let d = OnboardDaemon::start("");
    let root = fixtures_dir().join("empty");
    let (status, e) = preview(&d, root.to_str().unwrap(), &[]);
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["code"], "invalid", "{e}");
    assert_eq!(e["error"]["field"], "project", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing found")),
        "{e}"
    );
    assert!(service_names(&d).is_empty(), "nothing registered");
    assert!(!d.data_dir_of("empty").exists());
}
