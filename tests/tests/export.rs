//! `GET /api/export/{target}` and `tend export` against a live daemon, with the fixture plugin
//! `export-echo` (which echoes its input as documents, one warning per service) replacing the `k8s`
//! target (`[export] k8s = "echo"`): what the plugin sees is the API's specs, routes and the
//! options; selection by service and cron job (an unknown name is 404 naming it); warnings on
//! stderr and in the JSON; `--out` writes the files and an escaping path writes nothing; the
//! plugin's `err` is 422 / a non-zero exit, its trap 502; no token is 401, an unknown target 404; a
//! bad `[export]` setting stops the daemon naming it; the golden fixture loads and reaches the plugin. The real
//! plugins' goldens are `export_k8s.rs` and `export_nomad.rs`.

use std::path::Path;
use std::process::Output;

use reqwest::Method;
use tend_tests::output::{ok, stderr, stdout};
use tend_tests::{Daemon, Value, json, send};

/// Two services (one behind Caddy, with a route header) and two cron jobs; `echo` renders `k8s`.
const CONFIG: &str = r#"
[caddy]
enabled = false
base_domain = "example.test"

[export]
k8s = "echo"
nomad = "ghost"

[services.web]
command = ["sleep", "300"]
port = 18080
expose_caddy = true
caddy_subdomain = "shop"
caddy_headers = { X-Forwarded-Proto = "https" }
env = { MODE = "web" }

[services.worker]
command = "sleep 300"
restart = "on-failure"
depends_on = ["web"]

[cron.nightly]
command = "true"
schedule = "0 3 * * *"
timezone = "Europe/Berlin"

[cron.often]
command = ["true"]
schedule = "*/5 * * * *"
overlap = "queue"
"#;

fn daemon() -> Daemon {
    Daemon::builder()
        .plugin("export-echo", "echo")
        .config_toml(CONFIG)
        .start()
}

/// The documents of an answer, by path, each body parsed as the JSON text the plugin was given.
fn inputs(answer: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for d in answer["documents"].as_array().expect("documents") {
        let path = d["path"].as_str().expect("path").to_string();
        assert_eq!(d["media_type"], "application/json", "{d}");
        let body: Value = serde_json::from_str(d["body"].as_str().expect("body"))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        out.insert(path, body);
    }
    Value::Object(out)
}

/// The view (`GET /api/services/{name}`, `GET /api/cron/{name}`) shows the spec's fields flattened
/// among its state: every field the plugin got is there with the same value, and the spec has the
/// defaults filled in (the fields the API always shows).
#[track_caller]
fn same_spec(spec: &Value, view: &Value) {
    let fields = spec.as_object().expect("a spec object");
    for key in ["name", "command", "enabled"] {
        assert!(fields.contains_key(key), "{key} missing from {spec}");
    }
    for (key, value) in fields {
        assert_eq!(
            &view[key], value,
            "{key}: the plugin got {spec}, the API shows {view}"
        );
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect()
}

#[track_caller]
fn export_ok(d: &Daemon, query: &str) -> Value {
    let (code, answer) = d.get(&format!("/api/export/k8s{query}"));
    assert_eq!(code, 200, "{query}: {answer}");
    answer
}

#[track_caller]
fn error(d: &Daemon, path: &str, code: u16, error: &str, field: &str) -> String {
    let (got, body) = d.get(path);
    assert_eq!(got, code, "{path}: {body}");
    assert_eq!(body["error"]["code"], error, "{path}: {body}");
    assert_eq!(body["error"]["field"], field, "{path}: {body}");
    body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string()
}

#[track_caller]
fn failed(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected a failure\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stderr(o)
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir");
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_plugin_gets_every_spec_route_and_option_as_the_api_shows_them() {
    let d = daemon();
    let answer = export_ok(&d, "");
    assert_eq!(answer["target"], "k8s");
    assert_eq!(answer["plugin"], "echo");
    let paths: Vec<&str> = answer["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "input/services.json",
            "input/cron.json",
            "input/routes.json",
            "input/options.json"
        ]
    );
    let seen = inputs(&answer);
    assert_eq!(names(&seen["input/services.json"]), ["web", "worker"]);
    assert_eq!(names(&seen["input/cron.json"]), ["nightly", "often"]);
    for (list, route) in [
        ("input/services.json", "services"),
        ("input/cron.json", "cron"),
    ] {
        for spec in seen[list].as_array().unwrap() {
            let (code, view) = d.get(&format!("/api/{route}/{}", spec["name"].as_str().unwrap()));
            assert_eq!(code, 200, "{view}");
            same_spec(spec, &view);
        }
    }
    assert_eq!(
        seen["input/services.json"][0]["caddy_headers"]["X-Forwarded-Proto"],
        "https"
    );
    assert_eq!(seen["input/cron.json"][0]["timezone"], "Europe/Berlin");
    let (code, caddy) = d.get("/api/caddy/config");
    assert_eq!(code, 200, "{caddy}");
    assert_eq!(
        seen["input/routes.json"],
        json!({"settings": caddy["settings"], "services": caddy["services"]})
    );
    assert_eq!(names(&seen["input/routes.json"]["services"]), ["web"]);
    assert_eq!(
        seen["input/options.json"],
        json!({
            "image": null, "gateway": false, "namespace": null, "kube_version": null,
            "datacenters": ["dc1"],
            "agent": {"config_path": "/etc/tend/tend.toml", "listen_port": 9902},
        })
    );
    assert_eq!(
        answer["warnings"],
        json!([
            {"object": "service/web", "field": "echo", "reason": "export-echo carries nothing over"},
            {"object": "service/worker", "field": "echo", "reason": "export-echo carries nothing over"},
        ])
    );
}

#[test]
fn naming_services_or_cron_jobs_exports_only_those() {
    let d = daemon();
    let only_web = inputs(&export_ok(&d, "?service=web"));
    assert_eq!(names(&only_web["input/services.json"]), ["web"]);
    assert_eq!(only_web["input/cron.json"], json!([]));
    assert_eq!(names(&only_web["input/routes.json"]["services"]), ["web"]);

    let only_worker = inputs(&export_ok(&d, "?service=worker"));
    assert_eq!(names(&only_worker["input/services.json"]), ["worker"]);
    assert_eq!(only_worker["input/routes.json"]["services"], json!([]));

    let only_cron = inputs(&export_ok(&d, "?cron=often"));
    assert_eq!(only_cron["input/services.json"], json!([]));
    assert_eq!(names(&only_cron["input/cron.json"]), ["often"]);

    // Repeated parameters, in any order: sorted by name, each once.
    let answer = export_ok(
        &d,
        "?service=worker&cron=nightly&service=web&service=web&image=registry.example/app:1&gateway=true&namespace=prod",
    );
    let both = inputs(&answer);
    assert_eq!(names(&both["input/services.json"]), ["web", "worker"]);
    assert_eq!(names(&both["input/cron.json"]), ["nightly"]);
    assert_eq!(
        both["input/options.json"]["image"],
        "registry.example/app:1"
    );
    assert_eq!(both["input/options.json"]["gateway"], true);
    assert_eq!(both["input/options.json"]["namespace"], "prod");

    let m = error(
        &d,
        "/api/export/k8s?service=web&service=nope",
        404,
        "not_found",
        "service",
    );
    assert!(m.contains("\"nope\""), "{m}");
    let m = error(&d, "/api/export/k8s?cron=nope", 404, "not_found", "cron");
    assert!(m.contains("\"nope\""), "{m}");
}

#[test]
fn bad_options_and_targets_are_refused_naming_them() {
    let d = daemon();
    error(
        &d,
        "/api/export/k8s?namespace=Not_A_Label",
        422,
        "invalid",
        "namespace",
    );
    error(
        &d,
        "/api/export/k8s?image=has%20space",
        422,
        "invalid",
        "image",
    );
    error(
        &d,
        "/api/export/k8s?gateway=maybe",
        422,
        "invalid",
        "gateway",
    );
    error(
        &d,
        "/api/export/k8s?services=web",
        422,
        "invalid",
        "services",
    );
    let m = error(&d, "/api/export/swarm", 404, "not_found", "target");
    // Every deploy-export plugin is a target under its own name too.
    assert!(m.contains("k8s, nomad, echo"), "{m}");
    assert_eq!(export_ok(&d, "").get("plugin"), Some(&json!("echo")));
    let (code, own) = d.get("/api/export/echo");
    assert_eq!(
        (code, &own["target"], &own["plugin"]),
        (200, &json!("echo"), &json!("echo"))
    );
    // `[export] nomad` names a plugin that is not loaded.
    let (code, body) = d.get("/api/export/nomad");
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"ghost\""),
        "{body}"
    );
    let (code, body) = send(d.request_anonymous(Method::GET, "/api/export/k8s"));
    assert_eq!(code, 401, "{body}");
}

#[test]
fn the_plugins_refusal_is_422_and_a_trap_or_bad_path_502_with_nothing_written() {
    let d = daemon();
    let m = error(
        &d,
        "/api/export/k8s?namespace=fail",
        422,
        "invalid",
        "target",
    );
    assert_eq!(m, "export-echo fails as asked (namespace fail)");
    let m = error(
        &d,
        "/api/export/k8s?namespace=needs-image",
        422,
        "invalid",
        "image",
    );
    assert_eq!(m, "Kubernetes needs an image: web, worker");
    export_ok(&d, "?namespace=needs-image&image=app:1");
    let (code, body) = d.get("/api/export/k8s?namespace=trap");
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains("\"echo\" failed: plugin trapped"), "{m}");
    let (code, body) = d.get("/api/export/k8s?namespace=escape");
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"../escape\""),
        "{body}"
    );

    let out = d.scratch().join("manifests");
    let err = failed(&d.cli(&[
        "export",
        "k8s",
        "--namespace",
        "escape",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(err.contains("../escape"), "{err}");
    assert!(
        !out.exists(),
        "something was written: {:?}",
        files_under(&out)
    );

    let o = d.cli(&["export", "k8s", "--namespace", "fail"]);
    let err = failed(&o);
    assert!(err.contains("export-echo fails as asked"), "{err}");
    assert_eq!(stdout(&o), "");
    assert_eq!(o.status.code(), Some(1));
    let o = d.cli(&["export", "k8s", "--service", "nope"]);
    assert!(failed(&o).contains("\"nope\""), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(3), "404 is exit code 3");
}

#[test]
fn the_cli_prints_one_yaml_stream_and_the_warnings_on_stderr() {
    let d = daemon();
    let o = ok(d.cli(&["export", "k8s", "--service", "web", "--cron", "nightly"]));
    let err = stderr(&o);
    assert_eq!(
        err, "warning: service/web: echo: export-echo carries nothing over\n",
        "{err}"
    );
    let text = stdout(&o);
    let parts: Vec<&str> = text.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{text}");
    assert!(parts[0].starts_with("# input/services.json\n"), "{text}");
    assert!(parts[3].starts_with("# input/options.json\n"), "{text}");
    let services: Value =
        serde_json::from_str(parts[0].trim_start_matches("# input/services.json\n")).unwrap();
    assert_eq!(names(&services), ["web"]);
    let cron: Value =
        serde_json::from_str(parts[1].trim_start_matches("# input/cron.json\n")).unwrap();
    assert_eq!(names(&cron), ["nightly"]);

    let o = ok(d.cli(&[
        "--json",
        "export",
        "k8s",
        "--image",
        "app:2",
        "--gateway",
        "--namespace",
        "ns1",
    ]));
    let answer: Value = serde_json::from_str(&stdout(&o)).expect("--json prints JSON");
    assert_eq!(answer["warnings"].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(stderr(&o).lines().count(), 2, "{}", stderr(&o));
    let options = &inputs(&answer)["input/options.json"];
    assert_eq!(
        (
            &options["image"],
            &options["gateway"],
            &options["namespace"]
        ),
        (&json!("app:2"), &json!(true), &json!("ns1"))
    );
}

#[test]
fn out_writes_each_document_under_the_directory_and_replaces_old_ones() {
    let d = daemon();
    let out = d.scratch().join("deploy");
    std::fs::create_dir_all(out.join("input")).unwrap();
    std::fs::write(out.join("input/services.json"), "stale").unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = ok(d.cli(&["export", "k8s", "--out", out.to_str().unwrap()]));
    let answer = export_ok(&d, "");
    for doc in answer["documents"].as_array().unwrap() {
        let path = doc["path"].as_str().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(path)).unwrap(),
            doc["body"].as_str().unwrap(),
            "{path}"
        );
        assert!(
            stdout(&o).contains(&format!("wrote {}", out.join(path).display())),
            "{}",
            stdout(&o)
        );
    }
    assert_eq!(
        files_under(&out),
        [
            "input/cron.json",
            "input/options.json",
            "input/routes.json",
            "input/services.json",
            "keep.txt"
        ]
    );
    assert_eq!(stderr(&o).lines().count(), 2, "{}", stderr(&o));
}

/// The realistic set the goldens are made from (`tests/fixtures/export/tend.toml`) is accepted by the
/// daemon, and all of it reaches the plugin. The daemon refuses working dirs and env files that do
/// not exist, so its `/srv/...` paths are made here under a temporary dir.
#[test]
fn the_golden_fixture_loads_and_reaches_the_plugin_whole() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/export/tend.toml");
    let text = std::fs::read_to_string(&fixture).expect("the export fixture");
    let srv = tempfile::tempdir().expect("temp dir");
    for dir in ["app", "docs"] {
        std::fs::create_dir_all(srv.path().join(dir)).unwrap();
    }
    std::fs::write(srv.path().join("app/.env"), "SECRET_KEY=x\n").unwrap();
    let text = text.replace("\"/srv/", &format!("\"{}/", srv.path().display()));
    let d = Daemon::builder()
        .plugin("export-echo", "echo")
        .config_toml(&format!("{text}\n[export]\nk8s = \"echo\"\n"))
        .start();
    let seen = inputs(&export_ok(&d, ""));
    assert_eq!(
        names(&seen["input/services.json"]),
        ["db", "docs", "migrate", "web", "worker"]
    );
    assert_eq!(
        names(&seen["input/cron.json"]),
        ["backup", "cleanup", "report"]
    );
    assert_eq!(
        names(&seen["input/routes.json"]["services"]),
        ["docs", "web"]
    );
    assert_eq!(
        seen["input/services.json"][0]["k8s"],
        json!({"image": "postgres:17"})
    );
    assert_eq!(
        seen["input/routes.json"]["settings"]["base_domain"],
        "example.com"
    );
}

#[test]
fn a_bad_export_setting_stops_the_daemon_naming_it() {
    for (setting, key) in [
        ("agent_port = 0", "export.agent_port"),
        ("k8s = \"../x\"", "export.k8s"),
        ("datacenters = []", "export.datacenters"),
        ("kube_version = \"latest\"", "export.kube_version"),
        (
            "agent_config_path = \"tend.toml\"",
            "export.agent_config_path",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("tend.toml"),
            format!("[export]\n{setting}\n"),
        )
        .unwrap();
        let err = tend_tests::refused_start(dir.path());
        assert!(err.contains(key), "{setting}: {err}");
    }
}

/// `deploy-export` is new in 0.2.3: a component built against 0.1 (it imports 0.1's interfaces)
/// whose manifest claims it is refused saying so, and is no target.
#[test]
fn a_component_built_against_0_1_is_no_export_plugin() {
    let d = daemon();
    let old = tend_tests::fixture("probe-v01");
    let manifest = old
        .manifest()
        .replace("world = \"probe\"", "world = \"deploy-export\"");
    assert!(manifest.contains("deploy-export"), "{manifest}");
    tend_tests::plugins::install_raw(d.data_dir(), "old-export", &old.wasm_bytes(), &manifest);
    // The file watcher may have seen it first: the plugin's record tells either way.
    d.reload_plugins();
    let info = d.plugin("old-export");
    assert_eq!(info["state"], "rejected", "{info}");
    assert!(
        info["rejected"]
            .to_string()
            .contains("new in tend:plugin@0.2.3"),
        "{info}"
    );
    error(&d, "/api/export/old-export", 404, "not_found", "target");
}
