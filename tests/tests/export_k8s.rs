//! `tend export k8s` with the built-in `k8s` plugin against a live daemon: the realistic fixture
//! (tests/fixtures/export/tend.toml) gives the goldens in tests/fixtures/export/k8s/ (and its
//! warnings, `k8s-warnings.json`; `TEND_UPDATE_GOLDENS=1` rewrites them), which pass
//! `kubernetes-validate --strict` at the newest Kubernetes its schemas cover and, exported for it,
//! the oldest tend supports, while a broken object fails it; no image is an error naming every
//! service and cron job without one; `--gateway` gives HTTPRoutes; every field of the API's service
//! and cron job schemas, set alone, either changes the output or is a warning (never an unknown
//! field).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tend_tests::output::{ok, stderr};
use tend_tests::tools::tool;
use tend_tests::{Daemon, Value, json};

/// The newest Kubernetes the pinned kubernetes-validate ships schemas for (the plugin's default),
/// and the oldest tend supports (everything it emits is GA there; `CronJob.spec.timeZone`: 1.27).
const NEWEST: &str = "1.37.0";
const OLDEST: &str = "1.27";
const IMAGE: &str = "registry.example.com/shop:1.4";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/export")
}

/// The fixture's daemon. It refuses working dirs and env files that do not exist, so the fixture's
/// `/srv/...` paths are made under `srv` (a temp dir); `unsrv` turns the output's paths back.
fn daemon(srv: &Path, extra: &str) -> Daemon {
    let text =
        std::fs::read_to_string(fixture_dir().join("tend.toml")).expect("the export fixture");
    for dir in ["app", "docs"] {
        std::fs::create_dir_all(srv.join(dir)).unwrap();
    }
    std::fs::write(srv.join("app/.env"), "SECRET_KEY=x\n").unwrap();
    let text = text.replace("\"/srv/", &format!("\"{}/", srv.display()));
    Daemon::builder()
        // The fixture's custom probe: any probe plugin of that name loads the config (the export
        // never runs it); the small `trivial` compiles at boot within the start timeout, the 18 MB
        // Python `json-status` does not on a loaded machine.
        .plugin("trivial", "json-status")
        .config_toml(&format!("{text}\n{extra}"))
        .start()
}

fn unsrv(srv: &Path, text: &str) -> String {
    text.replace(&format!("{}/", srv.display()), "/srv/")
}

/// `tend export k8s --out DIR ARGS...`; the files written, by name.
fn export(d: &Daemon, srv: &Path, dir: &Path, args: &[&str]) -> (Output, BTreeMap<String, String>) {
    let mut argv = vec!["export", "k8s", "--out", dir.to_str().unwrap()];
    argv.extend_from_slice(args);
    let o = d.cli(&argv);
    let mut files = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let text = unsrv(srv, &std::fs::read_to_string(e.path()).unwrap());
            // Validated as the goldens read.
            std::fs::write(e.path(), &text).unwrap();
            files.insert(name, text);
        }
    }
    (o, files)
}

/// `kubernetes-validate --strict -k VERSION FILES...`.
fn validate(version: &str, files: &[PathBuf]) -> Output {
    Command::new(tool("kubernetes-validate"))
        .args(["--strict", "-k", version])
        .args(files)
        .output()
        .expect("run kubernetes-validate")
}

fn paths(dir: &Path, files: &BTreeMap<String, String>) -> Vec<PathBuf> {
    files.keys().map(|f| dir.join(f)).collect()
}

#[track_caller]
fn valid(version: &str, files: &[PathBuf]) {
    let o = validate(version, files);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "kubernetes-validate -k {version}:\n{text}"
    );
    assert!(!text.contains("ERROR"), "{text}");
    for f in files {
        assert!(
            text.contains(&*f.to_string_lossy()),
            "{} not checked:\n{text}",
            f.display()
        );
    }
}

fn update() -> bool {
    std::env::var_os("TEND_UPDATE_GOLDENS").is_some_and(|v| v == "1")
}

#[test]
fn goldens_validate_at_the_newest_and_oldest_version_and_a_broken_object_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let d = daemon(&srv, "");
    let out = tmp.path().join("k8s");
    let (o, files) = export(&d, &srv, &out, &["--image", IMAGE]);
    let o = ok(o);
    // Every warning is on stderr; the API's answer carries the same, compared with the golden.
    let err = stderr(&o);
    for needle in [
        "service/web",
        "backoff.jitter",
        "cron/report",
        "schedule",
        "health.probe",
    ] {
        assert!(err.contains(needle), "{needle} missing from stderr:\n{err}");
    }
    let (status, answer) = d.get(&format!("/api/export/k8s?image={IMAGE}"));
    assert_eq!(status, 200, "{answer}");
    let warnings: Value =
        serde_json::from_str(&unsrv(&srv, &answer["warnings"].to_string())).unwrap();

    let goldens = fixture_dir().join("k8s");
    let warnings_golden = fixture_dir().join("k8s-warnings.json");
    if update() {
        let _ = std::fs::remove_dir_all(&goldens);
        std::fs::create_dir_all(&goldens).unwrap();
        for (name, body) in &files {
            std::fs::write(goldens.join(name), body).unwrap();
        }
        let text = serde_json::to_string_pretty(&warnings).unwrap() + "\n";
        std::fs::write(&warnings_golden, text).unwrap();
    }
    let mut expected = BTreeMap::new();
    for e in std::fs::read_dir(&goldens).expect("goldens (TEND_UPDATE_GOLDENS=1 writes them)") {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        expected.insert(name, std::fs::read_to_string(e.path()).unwrap());
    }
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "TEND_UPDATE_GOLDENS=1 rewrites {}",
        goldens.display()
    );
    for (name, body) in &files {
        assert_eq!(
            body,
            &expected[name],
            "{name} differs; TEND_UPDATE_GOLDENS=1 rewrites {}",
            goldens.display()
        );
    }
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&warnings_golden).unwrap()).unwrap();
    assert_eq!(warnings, golden, "TEND_UPDATE_GOLDENS=1 rewrites it");
    // Each workload names its lost fields (the web service loses the most).
    assert!(files["service-web.yaml"].contains("tend.dev/unmapped: "));

    valid(NEWEST, &paths(&out, &files));
    // The same definitions exported for the oldest version pass its schemas; the newest version's
    // output does not (lifecycle.stopSignal is 1.33+), so the version matters.
    let d_old = daemon(&srv, &format!("[export]\nkube_version = \"{OLDEST}\"\n"));
    let out_old = tmp.path().join("k8s-old");
    let (o, files_old) = export(&d_old, &srv, &out_old, &["--image", IMAGE]);
    let o = ok(o);
    assert!(stderr(&o).contains("stop_signal"), "{}", stderr(&o));
    valid(&format!("{OLDEST}.0"), &paths(&out_old, &files_old));
    let o = validate(&format!("{OLDEST}.0"), &[out.join("service-db.yaml")]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("stopSignal"));

    // A deliberately broken object: a misspelt field and a string where a number belongs.
    let broken = tmp.path().join("broken.yaml");
    let web = files["service-web.yaml"].replacen("replicas: 1", "replicas: one\n  replica: 1", 1);
    assert_ne!(web, files["service-web.yaml"]);
    std::fs::write(&broken, web).unwrap();
    let o = validate(NEWEST, &[broken]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("deployment/web") && text.contains("replica"),
        "{text}"
    );
}

#[test]
fn without_an_image_the_export_fails_naming_each_service_and_job_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let d = daemon(&srv, "");
    let out = tmp.path().join("k8s");
    let (o, files) = export(&d, &srv, &out, &[]);
    assert!(!o.status.success(), "{o:?}");
    let err = stderr(&o);
    // db and backup have their own image.
    assert!(
        err.contains(
            "no image is set for service docs, service migrate, service web, service worker, \
             cron job cleanup, cron job report"
        ),
        "{err}"
    );
    assert!(files.is_empty(), "nothing is written: {files:?}");
}

/// With `--gateway` the routes are HTTPRoutes, which carry the request headers and strip the path
/// prefix as Caddy does (so neither is a warning); `--namespace` reaches every object.
#[test]
fn gateway_gives_http_routes_and_the_namespace_reaches_every_object() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = tmp.path().join("srv");
    let d = daemon(&srv, "");
    let out = tmp.path().join("gw");
    let args = ["--image", IMAGE, "--gateway", "--namespace", "shop"];
    let (o, files) = export(&d, &srv, &out, &args);
    let o = ok(o);
    let web = &files["service-web.yaml"];
    assert!(
        web.contains("kind: HTTPRoute") && !web.contains("kind: Ingress"),
        "{web}"
    );
    assert!(web.contains("type: RequestHeaderModifier"), "{web}");
    assert!(files["service-docs.yaml"].contains("replacePrefixMatch: /"));
    let err = stderr(&o);
    assert!(
        !err.contains("caddy_headers") && !err.contains("caddy_path"),
        "{err}"
    );
    for (name, body) in &files {
        let objects = body.matches("\nkind: ").count() + usize::from(body.starts_with("kind: "));
        assert_eq!(
            body.matches("namespace: shop").count(),
            objects,
            "{name}:\n{body}"
        );
    }
}

/// A non-default value for a field of the API's `ServiceSpec` / `CronJobSpec` (the schemas of
/// GET /api/openapi.json). A field missing here fails the test until the export handles it.
fn variant(kind: &str, field: &str, env_file: &str) -> Option<Value> {
    Some(match (kind, field) {
        // Kubernetes names have no `_`: renamed, with a warning.
        (_, "name") => json!({"name": "under_score"}),
        (_, "command") => json!({"command": "sleep 301"}),
        (_, "working_dir") => json!({"working_dir": "/tmp"}),
        (_, "env_file") => json!({"env_file": env_file}),
        (_, "enabled") => json!({"enabled": true}),
        (_, "autofix") => json!({"autofix": "auto"}),
        (_, "k8s") => json!({"k8s": {"image": "other:2"}}),
        ("service", "env") => json!({"env": {"A": "1"}}),
        ("service", "port") => json!({"port": 18081}),
        ("service", "restart") => json!({"restart": "never"}),
        ("service", "max_restarts") => json!({"max_restarts": 2}),
        ("service", "backoff") => json!({"backoff": {"jitter": 0.3}}),
        ("service", "stop_signal") => json!({"stop_signal": "SIGINT"}),
        ("service", "stop_timeout_s") => json!({"stop_timeout_s": 30}),
        ("service", "watch_dirs") => json!({"watch_dirs": ["/tmp"]}),
        ("service", "max_memory_mb") => json!({"max_memory_mb": 64}),
        ("service", "expose_caddy") => json!({"expose_caddy": true}),
        ("service", "caddy_subdomain") => json!({"caddy_subdomain": "x"}),
        ("service", "caddy_path") => json!({"caddy_path": "/x"}),
        ("service", "caddy_headers") => json!({"caddy_headers": {"X-A": "1"}}),
        ("service", "health") => json!({"health": {"probe": "tcp"}}),
        ("service", "health_check_url") => {
            json!({"health_check_url": "http://127.0.0.1:18080/"})
        }
        ("service", "depends_on") => json!({"depends_on": ["dep"]}),
        ("service", "depends_timeout_s") => json!({"depends_on": ["dep"], "depends_timeout_s": 5}),
        ("cron", "schedule") => json!({"schedule": "@hourly"}),
        ("cron", "timeout") => json!({"timeout": 60}),
        ("cron", "env_vars") => json!({"env_vars": {"A": "1"}}),
        ("cron", "timezone") => json!({"timezone": "Europe/Berlin"}),
        ("cron", "overlap") => json!({"overlap": "allow"}),
        ("cron", "catch_up") => json!({"catch_up": "latest"}),
        ("cron", "jitter_s") => json!({"jitter_s": 5}),
        ("cron", "retries") => json!({"retries": 1}),
        ("cron", "retry_delay_s") => json!({"retry_delay_s": 1}),
        _ => return None,
    })
}

#[test]
fn every_field_of_the_specs_maps_or_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("x.env");
    std::fs::write(&env_file, "A=1\n").unwrap();
    let env_file = env_file.to_str().unwrap();
    let d = Daemon::builder()
        .config_toml("[caddy]\nenabled = false\nbase_domain = \"example.test\"\n")
        .start();
    let (status, api) = d.get("/api/openapi.json");
    assert_eq!(status, 200);
    let (status, dep) = d.post(
        "/api/services",
        &json!({"name": "dep", "command": ["sleep", "300"], "port": 18090, "enabled": false}),
    );
    assert!(status < 300, "{dep}");
    for (kind, schema, base) in [
        (
            "service",
            "ServiceSpec",
            json!({"command": ["sleep", "300"], "port": 18080, "enabled": false}),
        ),
        (
            "cron",
            "CronJobSpec",
            json!({"command": ["true"], "schedule": "0 3 * * *", "timezone": "UTC", "enabled": false}),
        ),
    ] {
        let fields = api["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} in the OpenAPI document"));
        assert!(fields.len() > 10, "{schema}: {fields:?}");
        let path = if kind == "service" {
            "services"
        } else {
            "cron"
        };
        let mut n = 0;
        let mut render = |extra: &Value| {
            n += 1;
            let mut spec = base.clone();
            spec["name"] = json!(format!("x{n}"));
            for (k, v) in extra.as_object().unwrap() {
                spec[k] = v.clone();
            }
            let name = spec["name"].as_str().unwrap().to_string();
            let (status, body) = d.post(&format!("/api/{path}"), &spec);
            assert!(status < 300, "{spec}: {body}");
            let (status, answer) = d.get(&format!("/api/export/k8s?{kind}={name}&image=i:1"));
            assert_eq!(status, 200, "{spec}: {answer}");
            let (status, body) = d.delete(&format!("/api/{path}/{name}"));
            assert!(status < 300, "{body}");
            // The generated name is in the output: compare with it made neutral.
            let docs = answer["documents"].to_string().replace(&name, "NAME");
            (docs, answer["warnings"].as_array().unwrap().clone())
        };
        let (base_docs, base_warnings) = render(&json!({}));
        assert_eq!(base_warnings, Vec::<Value>::new(), "{kind} base");
        for field in fields.keys() {
            let extra = variant(kind, field, env_file).unwrap_or_else(|| {
                panic!("{schema}.{field} is new: give it a variant here and map or warn about it in plugins/k8s")
            });
            let (docs, warnings) = render(&extra);
            assert!(
                !warnings.iter().any(|w| w["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("does not know the field")),
                "{schema}.{field}: {warnings:?}"
            );
            assert!(
                docs != base_docs || !warnings.is_empty(),
                "{schema}.{field} neither changes the output nor warns"
            );
        }
    }
}
