//! Native unit tests of the mapping (`cargo test --manifest-path plugins/Cargo.toml -p nomad`):
//! the realistic set, the cron syntax, a table of the fields that cannot be carried (each gives
//! exactly its warnings), and every field of `ServiceSpec` / `CronJobSpec`, read from the wire
//! types' source so that a field added later fails here until it maps or warns.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::NS_PER_S;
use crate::cron::nomad_cron;
use crate::render_all;

fn options() -> String {
    json!({"namespace": "shop", "datacenters": ["dc1"], "agent": {"config_path": "/etc/tend/tend.toml", "listen_port": 9902}})
        .to_string()
}

fn render(services: Value, cron: Value) -> crate::Rendered {
    render_all(&services.to_string(), &cron.to_string(), "", &options()).expect("renders")
}

fn job(rendered: &crate::Rendered, path: &str) -> Value {
    let doc = rendered
        .documents
        .iter()
        .find(|d| d.path == path)
        .unwrap_or_else(|| panic!("no {path}"));
    let v: Value = serde_json::from_str(&doc.body).expect("json");
    v["Job"].clone()
}

fn fields(rendered: &crate::Rendered, object: &str) -> BTreeSet<String> {
    rendered
        .warnings()
        .into_iter()
        .filter(|w| w.object == object)
        .map(|w| w.field)
        .collect()
}

#[test]
fn a_service_maps_to_a_service_job_with_check_restart_and_kill_settings() {
    let r = render(
        json!([{
            "name": "web", "command": ["gunicorn", "app:wsgi"], "working_dir": "/srv/app",
            "port": 8000, "env": {"A": "1"}, "enabled": true, "restart": "always", "max_restarts": 10,
            "backoff": {"initial_delay_ms": 500, "max_delay_ms": 30000, "multiplier": 2.0, "jitter": 0.2, "reset_after_s": 120},
            "stop_signal": "SIGQUIT", "stop_timeout_s": 20, "max_memory_mb": 256,
            "health": {"probe": "http", "config": {"path": "/healthz", "expect_status": [200, 299]}, "interval_s": 10, "timeout_s": 3, "retries": 3, "start_period_s": 15},
            "depends_on": {}, "depends_timeout_s": 60
        }]),
        json!([]),
    );
    let j = job(&r, "web.nomad.json");
    assert_eq!(j["Type"], "service");
    assert_eq!(j["Namespace"], "shop");
    assert_eq!(j["Datacenters"], json!(["dc1"]));
    let g = &j["TaskGroups"][0];
    assert_eq!(g["Count"], 1);
    assert_eq!(
        g["RestartPolicy"],
        json!({"Attempts": 10, "Delay": 500_000_000u64, "Interval": 10 * (500_000_000u64 + 120 * NS_PER_S), "Mode": "fail"})
    );
    assert_eq!(
        g["Networks"][0]["ReservedPorts"],
        json!([{"Label": "main", "Value": 8000}])
    );
    let t = &g["Tasks"][0];
    assert_eq!(t["Driver"], "raw_exec");
    assert_eq!(
        t["Config"],
        json!({"command": "/usr/bin/env", "args": ["gunicorn", "app:wsgi"], "work_dir": "/srv/app"})
    );
    assert_eq!(t["KillSignal"], "SIGQUIT");
    assert_eq!(t["KillTimeout"], 20 * NS_PER_S);
    assert_eq!(t["Resources"]["MemoryMB"], 256);
    assert_eq!(t["Env"], json!({"A": "1"}));
    let check = &t["Services"][0]["Checks"][0];
    assert_eq!(check["Type"], "http");
    assert_eq!(check["Path"], "/healthz");
    assert_eq!(check["PortLabel"], "main");
    assert_eq!(check["Interval"], 10 * NS_PER_S);
    assert_eq!(check["Timeout"], 3 * NS_PER_S);
    assert_eq!(
        check["CheckRestart"],
        json!({"Limit": 3, "Grace": 15 * NS_PER_S, "IgnoreWarnings": false})
    );
    assert_eq!(
        j["Meta"]["tend.dev/unmapped"],
        "backoff.multiplier,backoff.max_delay_ms,backoff.jitter,backoff.reset_after_s,health.retries,max_memory_mb"
    );
}

#[test]
fn one_shots_are_batch_jobs_and_a_custom_probe_runs_through_tend_agent() {
    let r = render(
        json!([
            {"name": "migrate", "command": "./manage.py migrate", "restart": "never", "enabled": false},
            {"name": "worker", "command": "celery worker", "restart": "on-failure", "max_restarts": 3,
             "backoff": {"initial_delay_ms": 1000, "max_delay_ms": 1000, "multiplier": 1.0, "jitter": 0.0, "reset_after_s": 60},
             "health": {"probe": "json-status", "config": {}, "interval_s": 30, "timeout_s": 5, "retries": 3, "start_period_s": 0}}
        ]),
        json!([]),
    );
    let m = job(&r, "migrate.nomad.json");
    assert_eq!(m["Type"], "batch");
    assert_eq!(m["TaskGroups"][0]["Count"], 0);
    assert_eq!(m["TaskGroups"][0]["RestartPolicy"]["Attempts"], 0);
    assert_eq!(
        m["TaskGroups"][0]["Tasks"][0]["Config"]["args"],
        json!(["-c", "./manage.py migrate"])
    );
    let w = job(&r, "worker.nomad.json");
    assert_eq!(w["Type"], "batch");
    let t = &w["TaskGroups"][0]["Tasks"][0];
    assert_eq!(
        t["Config"]["args"],
        json!([
            "tend",
            "agent",
            "--service",
            "worker",
            "--config",
            "/etc/tend/tend.toml",
            "--listen",
            "${NOMAD_ADDR_agent}"
        ])
    );
    assert_eq!(t["KillSignal"], "SIGTERM");
    assert_eq!(
        w["TaskGroups"][0]["Networks"][0]["ReservedPorts"],
        json!([{"Label": "agent", "Value": 9902}])
    );
    let check = &t["Services"][0]["Checks"][0];
    assert_eq!(check["Path"], "/healthz/worker");
    assert_eq!(check["PortLabel"], "agent");
    assert!(fields(&r, "service/worker").contains("health.probe"));
}

#[test]
fn cron_schedules_read_the_same_in_nomad() {
    // tend's 6 fields are seconds first; cronexpr reads 6 as year last, so a year is appended.
    assert_eq!(
        nomad_cron("30 0 7 * * Mon-Fri").unwrap(),
        "30 0 7 * * Mon-Fri *"
    );
    assert_eq!(nomad_cron("0 3 * * *").unwrap(), "0 3 * * *");
    assert_eq!(nomad_cron("0 0 3 * * * 2030").unwrap(), "0 0 3 * * * 2030");
    assert_eq!(nomad_cron("@midnight").unwrap(), "@daily");
    assert_eq!(nomad_cron("@Hourly").unwrap(), "@hourly");
    assert!(nomad_cron("* * *").is_err());
}

#[test]
fn a_cron_job_is_a_periodic_batch_job() {
    let r = render(
        json!([]),
        json!([{"name": "report", "command": "./send", "schedule": "30 0 7 * * Mon-Fri", "timezone": "Europe/Berlin",
                "overlap": "skip", "catch_up": "none", "timeout": 600, "retries": 2, "retry_delay_s": 30,
                "enabled": true, "jitter_s": 0, "env_vars": {"TO": "ops"}}]),
    );
    let j = job(&r, "cron-report.nomad.json");
    assert_eq!(j["ID"], "cron-report");
    assert_eq!(j["Type"], "batch");
    assert_eq!(
        j["Periodic"],
        json!({"Enabled": true, "SpecType": "cron", "Specs": ["30 0 7 * * Mon-Fri *"], "TimeZone": "Europe/Berlin", "ProhibitOverlap": true})
    );
    let g = &j["TaskGroups"][0];
    assert_eq!(g["RestartPolicy"]["Attempts"], 2);
    assert_eq!(g["RestartPolicy"]["Delay"], 30 * NS_PER_S);
    assert_eq!(g["Tasks"][0]["Env"], json!({"TO": "ops"}));
    assert_eq!(
        fields(&r, "cron/report"),
        BTreeSet::from(["timeout".to_string()])
    );
}

/// A service that maps without a single warning; each table row changes it and names the warnings
/// that change must produce, no more, no less.
fn base_service() -> Value {
    json!({"name": "s", "command": ["/bin/app"], "restart": "never", "enabled": true, "env": {}, "max_restarts": 10,
           "backoff": {"initial_delay_ms": 1000, "max_delay_ms": 60000, "multiplier": 2.0, "jitter": 0.1, "reset_after_s": 60},
           "stop_signal": "SIGTERM", "stop_timeout_s": 10, "watch_dirs": [], "expose_caddy": false,
           "depends_on": {}, "depends_timeout_s": 60})
}

fn base_cron() -> Value {
    json!({"name": "c", "command": ["/bin/job"], "schedule": "0 3 * * *", "timezone": "UTC", "enabled": true,
           "timeout": 300, "env_vars": {}, "overlap": "skip", "catch_up": "none", "jitter_s": 0, "retries": 0, "retry_delay_s": 10})
}

fn patched(base: Value, patch: Value) -> Value {
    let mut v = base;
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

#[test]
fn each_lost_field_gives_exactly_its_warning() {
    let base = render(json!([base_service()]), json!([]));
    assert_eq!(
        fields(&base, "service/s"),
        BTreeSet::new(),
        "the base maps fully"
    );
    let services: &[(Value, &[&str])] = &[
        (json!({"env_file": "/srv/.env"}), &["env_file"]),
        (json!({"watch_dirs": ["/srv"]}), &["watch_dirs"]),
        (json!({"expose_caddy": true}), &["expose_caddy"]),
        (json!({"caddy_subdomain": "shop"}), &["caddy_subdomain"]),
        (json!({"caddy_path": "/docs"}), &["caddy_path"]),
        (json!({"caddy_headers": {"X": "1"}}), &["caddy_headers"]),
        (json!({"autofix": "auto"}), &["autofix"]),
        (json!({"max_memory_mb": 64}), &["max_memory_mb"]),
        (json!({"command": "echo ${HOME}"}), &["command"]),
        (
            json!({"restart": "always"}),
            &[
                "backoff.multiplier",
                "backoff.max_delay_ms",
                "backoff.jitter",
                "backoff.reset_after_s",
            ],
        ),
        (
            json!({"restart": "on-failure", "backoff": {"initial_delay_ms": 1000, "max_delay_ms": 1000, "multiplier": 1.0, "jitter": 0.0, "reset_after_s": 60}}),
            &["backoff.reset_after_s"],
        ),
        (
            json!({"health": {"probe": "tcp", "config": {}, "interval_s": 5, "timeout_s": 2, "retries": 5, "start_period_s": 0}, "port": 5432}),
            &["health.retries"],
        ),
        (
            json!({"health": {"probe": "json-status", "config": {}, "interval_s": 5, "timeout_s": 2, "retries": 5, "start_period_s": 0}}),
            &["health.probe", "health.retries"],
        ),
        (
            json!({"health": {"probe": "http", "config": {"body_contains": "ok", "expect_status": [200, 299]}, "interval_s": 5, "timeout_s": 2, "retries": 5, "start_period_s": 0}, "port": 80}),
            &["health.config.body_contains", "health.retries"],
        ),
        (
            json!({"health_check_url": "http://10.0.0.9:81/up"}),
            &[
                "health.config.expect_status",
                "health.config.url",
                "health.retries",
            ],
        ),
        (
            json!({"health": {"probe": "tcp", "config": {}, "interval_s": 5, "timeout_s": 2, "retries": 1, "start_period_s": 0}}),
            &["health", "health.retries"],
        ),
        (
            json!({"depends_on": {"noport": {"condition": "started", "restart": true}}}),
            &[
                "depends_on.noport.restart",
                "depends_on.noport",
                "depends_timeout_s",
            ],
        ),
        (
            json!({"depends_on": {"elsewhere": {"condition": "started", "restart": false}}}),
            &["depends_on.elsewhere", "depends_timeout_s"],
        ),
        (
            json!({"depends_on": {"pg": {"condition": "healthy", "restart": false}}}),
            &["depends_on.pg.condition"],
        ),
        (
            json!({"depends_on": {"pg": {"condition": "started", "restart": false}}}),
            &[],
        ),
        (
            json!({"depends_on": {"m": {"condition": "completed", "restart": false}}}),
            &["depends_on.m.condition", "depends_timeout_s"],
        ),
        (json!({"brand_new": 1}), &["brand_new"]),
    ];
    for (patch, expected) in services {
        let helpers = [
            json!({"name": "noport", "command": ["/bin/x"]}),
            json!({"name": "pg", "command": ["/bin/pg"], "port": 5432}),
        ];
        let spec = patched(base_service(), patch.clone());
        let r = render(json!([helpers[0], helpers[1], spec]), json!([]));
        let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(fields(&r, "service/s"), want, "patch {patch}");
        let j = job(&r, "s.nomad.json");
        let meta = j["Meta"]["tend.dev/unmapped"].as_str().unwrap_or("");
        let named: BTreeSet<String> = meta
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        assert_eq!(named, want, "Meta names the same fields, patch {patch}");
        if patch["depends_on"]["pg"].is_object() {
            let tasks = &j["TaskGroups"][0]["Tasks"];
            assert_eq!(
                tasks[0]["Name"], "wait-pg",
                "a prestart wait, patch {patch}"
            );
            assert_eq!(tasks[0]["Lifecycle"]["Hook"], "prestart");
            assert!(
                tasks[0]["Config"]["args"][1]
                    .as_str()
                    .unwrap()
                    .contains("-ge 60")
            );
        }
    }

    let cron_base = render(json!([]), json!([base_cron()]));
    let timeout_only = BTreeSet::from(["timeout".to_string()]);
    assert_eq!(
        fields(&cron_base, "cron/c"),
        timeout_only,
        "only timeout is always lost"
    );
    let crons: &[(Value, &str)] = &[
        (json!({"jitter_s": 30}), "jitter_s"),
        (json!({"catch_up": "latest"}), "catch_up"),
        (json!({"overlap": "queue"}), "overlap"),
        (json!({"overlap": "replace"}), "overlap"),
        (json!({"env_file": "/srv/.env"}), "env_file"),
        (json!({"autofix": "propose"}), "autofix"),
        (json!({"timezone": null}), "timezone"),
    ];
    for (patch, field) in crons {
        let mut spec = patched(base_cron(), patch.clone());
        if spec["timezone"].is_null() {
            spec.as_object_mut().unwrap().remove("timezone");
        }
        let r = render(json!([]), json!([spec]));
        let mut want = timeout_only.clone();
        want.insert(field.to_string());
        assert_eq!(fields(&r, "cron/c"), want, "patch {patch}");
    }
    let allow = render(
        json!([]),
        json!([patched(base_cron(), json!({"overlap": "allow"}))]),
    );
    assert_eq!(
        fields(&allow, "cron/c"),
        timeout_only,
        "allow is Nomad's own behaviour"
    );
    assert_eq!(
        job(&allow, "cron-c.nomad.json")["Periodic"]["ProhibitOverlap"],
        false
    );
}

/// The `pub` fields of `struct <name>` in a wire source file.
fn struct_fields(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    let body = &source[start..];
    let body = &body[..body.find("\n}").expect("struct end")];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split(':').next())
        .filter(|f| !f.contains(' '))
        .map(str::to_string)
        .collect()
}

/// Every key of the spec, from the wire type's source, set to a value that is not its default:
/// each must map or warn. A field added to the wire type fails this until it has a value here and
/// a mapping or warning in the plugin.
#[test]
fn every_field_maps_or_warns() {
    let service_src = include_str!("../../../host/src/wire/service.rs");
    let cron_src = include_str!("../../../host/src/wire/cron.rs");
    let service_values = json!({
        "name": "web", "command": ["gunicorn"], "working_dir": "/srv", "env": {"A": "1"},
        "env_file": "/srv/.env", "port": 8000, "enabled": false, "restart": "on-failure",
        "max_restarts": 3, "backoff": {"initial_delay_ms": 200, "max_delay_ms": 9000, "multiplier": 3.0, "jitter": 0.5, "reset_after_s": 10},
        "stop_signal": "SIGINT", "stop_timeout_s": 3, "watch_dirs": ["/srv"], "max_memory_mb": 99,
        "expose_caddy": true, "caddy_subdomain": "w", "caddy_path": "/w", "caddy_headers": {"X": "1"},
        "health": {"probe": "http", "config": {"path": "/h"}, "interval_s": 3, "timeout_s": 1, "retries": 9, "start_period_s": 4},
        "health_check_url": "http://127.0.0.1:8000/h", "depends_on": {"db": {"condition": "healthy", "restart": true}},
        "depends_timeout_s": 9, "autofix": "auto", "k8s": {"image": "x"}
    });
    let cron_values = json!({
        "name": "job", "command": "run", "schedule": "*/5 * * * * *", "working_dir": "/srv", "enabled": false,
        "timeout": 9, "env_file": "/srv/.env", "env_vars": {"A": "1"}, "timezone": "Europe/Paris",
        "overlap": "queue", "catch_up": "latest", "jitter_s": 5, "retries": 4, "retry_delay_s": 7,
        "autofix": "off", "k8s": {"image": "x"}
    });
    let db = json!({"name": "db", "command": ["postgres"], "port": 5432});
    let r = render(
        json!([db, service_values.clone()]),
        json!([cron_values.clone()]),
    );
    let check = |src: &str, ty: &str, values: &Value, object: &str, nested: &[(&str, &str)]| {
        let report = r.reports.iter().find(|rep| rep.object == object).unwrap();
        let warned: Vec<&str> = report.warnings.iter().map(|w| w.field.as_str()).collect();
        let mut keys: Vec<String> = struct_fields(src, ty);
        assert!(keys.len() > 10, "{ty}: only {keys:?} found in the source");
        for (field, sub_ty) in nested {
            keys.extend(
                struct_fields(src, sub_ty)
                    .into_iter()
                    .map(|k| format!("{field}.{k}")),
            );
        }
        for key in keys {
            let top = key.split('.').next().unwrap();
            assert!(
                values.get(top).is_some(),
                "{ty}.{key} has no test value: give it a non-default one and map or warn it"
            );
            let handled = report.mapped.contains(&key)
                || warned
                    .iter()
                    .any(|w| *w == key || w.starts_with(&format!("{key}.")));
            assert!(handled, "{object}: {key} neither maps nor warns");
        }
        assert!(
            !report
                .warnings
                .iter()
                .any(|w| w.reason.contains("not known")),
            "{object}: a key the plugin does not know: {:?}",
            report.warnings
        );
    };
    check(
        service_src,
        "ServiceSpec",
        &service_values,
        "service/web",
        &[("backoff", "Backoff"), ("health", "HealthSpec")],
    );
    check(cron_src, "CronJobSpec", &cron_values, "cron/job", &[]);
    // `depends_on` is a map of name -> `Dependency`: each of its fields (set to non-defaults for `db`
    // above: healthy, restart) warns under `depends_on.db.<field>`.
    let web = r
        .reports
        .iter()
        .find(|rep| rep.object == "service/web")
        .unwrap();
    for field in struct_fields(service_src, "Dependency") {
        let key = format!("depends_on.db.{field}");
        assert!(
            web.warnings.iter().any(|w| w.field == key) || web.mapped.contains(&key),
            "{key} neither maps nor warns"
        );
    }
}
