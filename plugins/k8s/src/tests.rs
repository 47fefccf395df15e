//! Native unit tests of the mapping (input JSON -> documents + warnings): each field Kubernetes cannot
//! carry gives exactly its warning and annotation (a table), every field of a spec either changes the
//! output or warns, and the mappings the issue lists.

use serde_json::{Value, json};

use crate::model::{CRON_FIELDS, SERVICE_FIELDS};
use crate::{Input, Warning, common, export};

fn input(services: Value, cron: Value, options: Value) -> Input {
    Input {
        services: services.to_string(),
        cron: cron.to_string(),
        routes: json!({"settings": {"base_domain": "example.com"}, "services": []}).to_string(),
        options: options.to_string(),
    }
}

fn with(mut base: Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// A service that maps without a warning.
fn svc(extra: Value) -> Value {
    with(
        json!({"name": "app", "command": ["run"], "port": 8000}),
        &extra,
    )
}

/// A dependency the base service may name.
fn db() -> Value {
    json!({"name": "db", "command": ["db"], "port": 5432})
}

/// A cron job that maps without a warning.
fn job(extra: Value) -> Value {
    with(
        json!({"name": "job", "command": ["run"], "schedule": "0 3 * * *", "timezone": "UTC"}),
        &extra,
    )
}

fn run_with(services: Value, cron: Value, options: Value) -> (String, Vec<Warning>) {
    let mut options = options;
    options["image"] = json!("img:1");
    let (docs, warnings) = export(&input(services, cron, options)).unwrap();
    let body = docs
        .into_iter()
        .map(|d| format!("# {}\n{}", d.path, d.body))
        .collect();
    (body, warnings)
}

fn run(services: Value, cron: Value) -> (String, Vec<Warning>) {
    run_with(services, cron, json!({}))
}

fn fields(warnings: &[Warning], object: &str) -> Vec<String> {
    warnings
        .iter()
        .filter(|w| w.object == object)
        .map(|w| w.field.clone())
        .collect()
}

fn annotation(body: &str) -> Option<String> {
    body.lines()
        .find_map(|l| l.trim().strip_prefix("tend.dev/unmapped: "))
        .map(str::to_string)
}

#[test]
fn the_bases_map_without_warnings() {
    let (_, warnings) = run(json!([svc(json!({})), db()]), json!([job(json!({}))]));
    assert_eq!(warnings, vec![]);
}

/// Each field Kubernetes cannot carry, set on the base: exactly its warning, named in the
/// workload's annotation.
#[test]
fn each_lost_field_is_exactly_its_warning_and_annotation() {
    let services: Vec<(Value, &str, Value)> = vec![
        (
            json!({"backoff": {"initial_delay_ms": 5000}}),
            "backoff",
            json!({}),
        ),
        (
            json!({"backoff": {"multiplier": 3.0}}),
            "backoff",
            json!({}),
        ),
        (
            json!({"backoff": {"jitter": 0.5}}),
            "backoff.jitter",
            json!({}),
        ),
        (
            json!({"backoff": {"reset_after_s": 5}}),
            "backoff.reset_after_s",
            json!({}),
        ),
        (json!({"max_restarts": 3}), "max_restarts", json!({})),
        (json!({"watch_dirs": ["/srv"]}), "watch_dirs", json!({})),
        (json!({"autofix": "auto"}), "autofix", json!({})),
        (json!({"env_file": "/srv/.env"}), "env_file", json!({})),
        (
            json!({"health": {"probe": "json-status"}}),
            "health.probe",
            json!({}),
        ),
        (
            json!({"health": {"probe": "http", "config": {"expect_status": [200, 299]}}}),
            "health.config.expect_status",
            json!({}),
        ),
        (
            json!({"health": {"probe": "http", "config": {"body_contains": "ok"}}}),
            "health.config.body_contains",
            json!({}),
        ),
        (
            json!({"health": {"probe": "http", "config": {"url": "http://example.org/x"}}}),
            "health.config.url",
            json!({}),
        ),
        (
            json!({"health": {"probe": "tcp", "config": {"tls": true}}}),
            "health.config.tls",
            json!({}),
        ),
        (
            json!({"health": {"probe": "tcp"}, "port": null}),
            "health",
            json!({}),
        ),
        (
            json!({"depends_on": {"db": {"condition": "completed"}}}),
            "depends_on.db",
            json!({}),
        ),
        (
            json!({"depends_on": {"db": {"restart": true}}}),
            "depends_on.db.restart",
            json!({}),
        ),
        (
            json!({"depends_on": ["elsewhere"]}),
            "depends_on.elsewhere",
            json!({}),
        ),
        (
            json!({"expose_caddy": true, "port": null}),
            "expose_caddy",
            json!({}),
        ),
        (
            json!({"expose_caddy": true, "caddy_headers": {"X-A": "1"}}),
            "caddy_headers",
            json!({}),
        ),
        (
            json!({"expose_caddy": true, "caddy_path": "/app"}),
            "caddy_path",
            json!({}),
        ),
        (
            json!({"caddy_subdomain": "x"}),
            "caddy_subdomain",
            json!({}),
        ),
        (
            json!({"stop_signal": "SIGINT"}),
            "stop_signal",
            json!({"kube_version": "1.32"}),
        ),
        (json!({"name": "my_app"}), "name", json!({})),
        (json!({"future_field": 1}), "future_field", json!({})),
    ];
    for (extra, field, options) in services {
        let s = svc(extra.clone());
        let object = format!("service/{}", s["name"].as_str().unwrap());
        let (body, warnings) = run_with(json!([s, db()]), json!([]), options);
        assert_eq!(
            fields(&warnings, &object),
            vec![field],
            "{extra}: {warnings:?}"
        );
        assert_eq!(fields(&warnings, "service/db"), Vec::<String>::new());
        let app = body.split("# service-db.yaml").next().unwrap();
        assert_eq!(annotation(app).as_deref(), Some(field), "{extra}");
    }
    let jobs: Vec<(Value, &str)> = vec![
        (json!({"schedule": "30 0 3 * * *"}), "schedule"),
        (json!({"schedule": "*/10 * * * * *"}), "schedule"),
        (json!({"schedule": "0 0 3 * * * 2030"}), "schedule"),
        (json!({"schedule": "@reboot"}), "schedule"),
        (json!({"timezone": null}), "timezone"),
        (json!({"overlap": "queue"}), "overlap"),
        (json!({"catch_up": "latest"}), "catch_up"),
        (json!({"jitter_s": 30}), "jitter_s"),
        (json!({"retry_delay_s": 30}), "retry_delay_s"),
        (json!({"retries": 2}), "retry_delay_s"),
        (json!({"autofix": "propose"}), "autofix"),
        (json!({"env_file": ".env"}), "env_file"),
        (json!({"future_field": true}), "future_field"),
        (json!({"name": "j".repeat(53)}), "name"),
    ];
    for (extra, field) in jobs {
        let j = job(extra.clone());
        let object = format!("cron/{}", j["name"].as_str().unwrap());
        let (body, warnings) = run(json!([]), json!([j]));
        assert_eq!(
            fields(&warnings, &object),
            vec![field],
            "{extra}: {warnings:?}"
        );
        assert_eq!(annotation(&body).as_deref(), Some(field), "{extra}");
    }
}

/// A non-default value for every field of a spec.
fn service_variants() -> Vec<(&'static str, Value)> {
    vec![
        ("name", json!({"name": "other"})),
        ("command", json!({"command": "run --fast"})),
        ("working_dir", json!({"working_dir": "/srv"})),
        ("env", json!({"env": {"A": "1"}})),
        ("env_file", json!({"env_file": "/srv/.env"})),
        ("port", json!({"port": 9000})),
        ("enabled", json!({"enabled": false})),
        ("restart", json!({"restart": "never"})),
        ("max_restarts", json!({"max_restarts": 2})),
        ("backoff", json!({"backoff": {"jitter": 0.3}})),
        ("stop_signal", json!({"stop_signal": "SIGINT"})),
        ("stop_timeout_s", json!({"stop_timeout_s": 30})),
        ("watch_dirs", json!({"watch_dirs": ["/srv"]})),
        ("max_memory_mb", json!({"max_memory_mb": 64})),
        ("expose_caddy", json!({"expose_caddy": true})),
        ("caddy_subdomain", json!({"caddy_subdomain": "x"})),
        ("caddy_path", json!({"caddy_path": "/x"})),
        ("caddy_headers", json!({"caddy_headers": {"X-A": "1"}})),
        ("health", json!({"health": {"probe": "tcp"}})),
        (
            "health_check_url",
            json!({"health_check_url": "http://127.0.0.1:8000/"}),
        ),
        ("depends_on", json!({"depends_on": ["db"]})),
        (
            "depends_timeout_s",
            json!({"depends_on": ["db"], "depends_timeout_s": 5}),
        ),
        ("autofix", json!({"autofix": "auto"})),
        ("k8s", json!({"k8s": {"image": "other:2"}})),
    ]
}

fn cron_variants() -> Vec<(&'static str, Value)> {
    vec![
        ("name", json!({"name": "other"})),
        ("command", json!({"command": "run --fast"})),
        ("schedule", json!({"schedule": "@hourly"})),
        ("working_dir", json!({"working_dir": "/srv"})),
        ("enabled", json!({"enabled": false})),
        ("timeout", json!({"timeout": 60})),
        ("env_file", json!({"env_file": ".env"})),
        ("env_vars", json!({"env_vars": {"A": "1"}})),
        ("timezone", json!({"timezone": "Europe/Berlin"})),
        ("overlap", json!({"overlap": "allow"})),
        ("catch_up", json!({"catch_up": "latest"})),
        ("jitter_s", json!({"jitter_s": 5})),
        ("retries", json!({"retries": 1})),
        ("retry_delay_s", json!({"retry_delay_s": 1})),
        ("autofix", json!({"autofix": "auto"})),
        ("k8s", json!({"k8s": {"image": "other:2"}})),
    ]
}

/// Every field of a spec, set alone to a non-default value, changes the output or warns, and is
/// never an unknown one; all of them at once export too. A field added to `SERVICE_FIELDS` /
/// `CRON_FIELDS` fails this until it has a variant (and the black-box test `export_k8s` fails for a
/// spec field missing from them).
#[test]
fn every_field_maps_or_warns() {
    let names = |v: &[(&str, Value)]| v.iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&service_variants()), SERVICE_FIELDS);
    assert_eq!(names(&cron_variants()), CRON_FIELDS);
    let unknown = |w: &Warning| w.reason.contains("does not know the field");
    let (base, none) = run(json!([svc(json!({})), db()]), json!([]));
    assert!(none.is_empty());
    let mut all = svc(json!({}));
    for (field, extra) in service_variants() {
        let (body, warnings) = run(json!([svc(extra.clone()), db()]), json!([]));
        assert!(!warnings.iter().any(unknown), "{field}: {warnings:?}");
        assert!(
            body != base || !warnings.is_empty(),
            "{field} neither maps nor warns"
        );
        all = with(all, &extra);
    }
    let (_, warnings) = run(json!([all, db()]), json!([]));
    assert!(!warnings.iter().any(unknown));
    let (base, _) = run(json!([]), json!([job(json!({}))]));
    let mut all = job(json!({}));
    for (field, extra) in cron_variants() {
        let (body, warnings) = run(json!([]), json!([job(extra.clone())]));
        assert!(!warnings.iter().any(unknown), "{field}: {warnings:?}");
        assert!(
            body != base || !warnings.is_empty(),
            "{field} neither maps nor warns"
        );
        all = with(all, &extra);
    }
    let (_, warnings) = run(json!([]), json!([all]));
    assert!(!warnings.iter().any(unknown));
}

#[test]
fn no_image_names_every_service_and_job_that_needs_one_in_order() {
    let services = json!([
        {"name": "b", "command": ["x"]},
        {"name": "a", "command": ["x"], "k8s": {"image": "a:1"}},
        {"name": "c", "command": ["x"]},
    ]);
    let cron = json!([{"name": "z", "command": ["x"], "schedule": "@daily"}]);
    let err = export(&input(services.clone(), cron.clone(), json!({}))).unwrap_err();
    assert!(
        err.contains("no image is set for service b, service c, cron job z: pass --image"),
        "{err}"
    );
    assert!(export(&input(services, cron, json!({"image": "d:1"}))).is_ok());
}

#[test]
fn workloads_follow_the_restart_policy() {
    let (body, _) = run(
        json!([
            svc(json!({"name": "a", "enabled": false})),
            svc(json!({"name": "b", "restart": "on-failure", "max_restarts": 4})),
            svc(json!({"name": "c", "restart": "never", "enabled": false})),
        ]),
        json!([]),
    );
    let a = body.split("# service-b.yaml").next().unwrap();
    assert!(
        a.contains("kind: Deployment") && a.contains("replicas: 0"),
        "{a}"
    );
    let b = body.split("# service-b.yaml").nth(1).unwrap();
    let (b, c) = b.split_once("# service-c.yaml").unwrap();
    assert!(
        b.contains("kind: Job") && b.contains("backoffLimit: 4"),
        "{b}"
    );
    assert!(b.contains("restartPolicy: OnFailure"), "{b}");
    assert!(
        c.contains("kind: Job") && c.contains("backoffLimit: 0"),
        "{c}"
    );
    assert!(
        c.contains("restartPolicy: Never") && c.contains("suspend: true"),
        "{c}"
    );
}

#[test]
fn stop_signal_needs_1_33_and_sets_the_os() {
    let s = json!([svc(json!({"stop_signal": "QUIT"}))]);
    let (body, w) = run_with(s.clone(), json!([]), json!({"kube_version": "v1.33.1"}));
    assert!(body.contains("stopSignal: SIGQUIT") && body.contains("name: linux"));
    assert!(w.is_empty());
    let (body, w) = run_with(s.clone(), json!([]), json!({"kube_version": "1.27"}));
    assert!(
        !body.contains("stopSignal") && !body.contains("os:"),
        "{body}"
    );
    assert_eq!(fields(&w, "service/app"), ["stop_signal"]);
    let err = export(&input(
        s,
        json!([]),
        json!({"image": "i", "kube_version": "1.26"}),
    ));
    assert!(
        err.unwrap_err()
            .contains("oldest Kubernetes tend exports to, 1.27")
    );
}

/// The lines of `key:`'s block: its line and the more indented ones after it.
fn block(body: &str, key: &str) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines = body.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let first = lines.next().unwrap();
    let n = indent(first);
    std::iter::once(first)
        .chain(lines.take_while(|l| indent(l) > n))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn probes_carry_the_check_settings_and_the_start_period() {
    let health = json!({"probe": "http", "config": {"path": "/up"}, "interval_s": 4,
        "timeout_s": 2, "retries": 5, "start_period_s": 10});
    let (body, _) = run(json!([svc(json!({"health": health}))]), json!([]));
    for probe in ["livenessProbe", "readinessProbe"] {
        let p = block(&body, probe);
        assert!(
            p.contains("failureThreshold: 5") && p.contains("periodSeconds: 4"),
            "{p}"
        );
        assert!(
            p.contains("path: /up") && p.contains("timeoutSeconds: 2"),
            "{p}"
        );
    }
    // 10 s of start period at 4 s: 3 checks, then the usual 5.
    let at = body.find("startupProbe:").unwrap();
    assert!(body[at..].contains("failureThreshold: 8"));
}

#[test]
fn a_webassembly_probe_runs_under_tend_agent() {
    let health = json!({"probe": "json-status", "config": {"url": "http://127.0.0.1:1/s"},
        "timeout_s": 3});
    let (body, w) = run_with(
        json!([svc(json!({"health": health, "depends_on": ["db"]})), db()]),
        json!([]),
        json!({"agent": {"config_path": "/cfg/t.toml", "listen_port": 9999}}),
    );
    for want in [
        "- tend\n        - agent\n        - --service\n        - app\n        - --config\n        - /cfg/t.toml\n        - --listen\n        - 0.0.0.0:9999",
        "path: /healthz/app\n            port: 9999",
        "timeoutSeconds: 4",
        "mountPath: /cfg/t.toml",
        "[services.app]",
        "probe = \"json-status\"",
        "name: app-tend",
    ] {
        assert!(body.contains(want), "{want} missing in\n{body}");
    }
    // The agent's table leaves out what would not hold inside one container.
    assert!(!body.contains("depends_on ="), "{body}");
    let reason = &w.iter().find(|w| w.field == "health.probe").unwrap().reason;
    assert!(reason.contains("the image must contain `tend`"), "{reason}");
}

#[test]
fn dependencies_with_a_port_are_init_containers() {
    let (body, _) = run(
        json!([
            svc(json!({"depends_on": {"db": {"condition": "healthy"}}, "depends_timeout_s": 7})),
            db()
        ]),
        json!([]),
    );
    assert!(body.contains("name: wait-db"), "{body}");
    assert!(
        body.contains("- timeout\n        - '7'\n        - sh"),
        "{body}"
    );
    assert!(body.contains("until nc -z -w 2 db 5432"), "{body}");
    // A long dependency name still gives a valid container name.
    let long = "d".repeat(63);
    let mut dep = db();
    dep["name"] = json!(long);
    let (body, _) = run(json!([svc(json!({"depends_on": [long]})), dep]), json!([]));
    assert!(
        body.contains(&format!("name: wait-{}\n", &long[..58])),
        "{body}"
    );
}

#[test]
fn env_is_a_config_map_after_the_env_file() {
    let (body, _) = run(
        json!([svc(json!({"env": {"A": "1"}, "env_file": "/x/.env"}))]),
        json!([]),
    );
    assert!(
        body.contains("kind: ConfigMap") && body.contains("  A: '1'"),
        "{body}"
    );
    let file = body.find("name: app-env-file").unwrap();
    let vars = body.rfind("name: app-env\n").unwrap();
    assert!(file < vars, "the variables win over the file: {body}");
}

#[test]
fn cron_jobs_map_their_settings() {
    let (body, w) = run(
        json!([]),
        json!([job(
            json!({"schedule": "0 15 7 * * Mon-Fri", "timezone": "Europe/Berlin",
            "overlap": "replace", "enabled": false, "timeout": 600, "retries": 2,
            "env_vars": {"R": "x"}})
        )]),
    );
    for want in [
        "schedule: 15 7 * * Mon-Fri",
        "timeZone: Europe/Berlin",
        "concurrencyPolicy: Replace",
        "startingDeadlineSeconds: 60",
        "suspend: true",
        "activeDeadlineSeconds: 600",
        "backoffLimit: 2",
        "name: cron-job-env",
    ] {
        assert!(body.contains(want), "{want} missing in\n{body}");
    }
    // Seconds of 0 are dropped without a loss; the retries' fixed delay is one.
    assert_eq!(fields(&w, "cron/job"), ["retry_delay_s"]);
    for (overlap, policy) in [("skip", "Forbid"), ("allow", "Allow"), ("queue", "Forbid")] {
        let (body, _) = run(json!([]), json!([job(json!({"overlap": overlap}))]));
        assert!(body.contains(&format!("concurrencyPolicy: {policy}")));
    }
    let (body, _) = run(json!([]), json!([job(json!({"catch_up": "latest"}))]));
    assert!(!body.contains("startingDeadlineSeconds"));
}

#[test]
fn routes_are_an_ingress_or_an_http_route() {
    let s = json!([
        svc(json!({"expose_caddy": true, "caddy_subdomain": "Shop",
        "caddy_headers": {"X-A": "1"}})),
        svc(json!({"name": "docs", "port": 8080,
        "expose_caddy": true, "caddy_path": "/docs"}))
    ]);
    let (body, _) = run(s.clone(), json!([]));
    assert!(body.contains("kind: Ingress") && body.contains("host: shop.example.com"));
    assert!(body.contains("path: /docs") && body.contains("pathType: Prefix"));
    let (body, w) = run_with(s, json!([]), json!({"gateway": true}));
    assert!(body.contains("kind: HTTPRoute") && !body.contains("kind: Ingress"));
    assert!(body.contains("- shop.example.com") && body.contains("name: tend"));
    assert!(body.contains("type: RequestHeaderModifier") && body.contains("replacePrefixMatch: /"));
    assert!(
        w.is_empty(),
        "an HTTPRoute carries headers and the prefix: {w:?}"
    );
}

#[test]
fn namespace_and_labels_are_on_every_object() {
    let (body, _) = run_with(
        json!([svc(json!({"env": {"A": "1"}, "expose_caddy": true}))]),
        json!([job(json!({}))]),
        json!({"namespace": "shop"}),
    );
    let objects = body.matches("\nkind: ").count();
    assert_eq!(body.matches("namespace: shop").count(), objects, "{body}");
    assert!(body.matches("app.kubernetes.io/managed-by: tend").count() >= objects);
}

#[test]
fn names_become_kubernetes_names() {
    assert_eq!(common::k8s_name("my_app"), "my-app");
    assert_eq!(common::k8s_name("9lives"), "t-9lives");
    assert_eq!(common::k8s_name("x_"), "x-0");
}

#[test]
fn equal_inputs_give_equal_outputs() {
    let s = json!([svc(
        json!({"env": {"B": "2", "A": "1"}, "health": {"probe": "x"}})
    )]);
    assert_eq!(run(s.clone(), json!([])), run(s, json!([])));
}
