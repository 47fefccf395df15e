//! Every number a user sends has a named upper bound: outside it the answer is `422 invalid` naming the
//! field and nothing changes. The case that once wedged the daemon, `health.start_period_s` near
//! `u64::MAX` (a job's task panicked and the service's custom restarts were refused until a daemon
//! restart), is refused over HTTP and in `tend.toml` at boot; custom restarts keep working.

use tend_tests::*;

const NEAR_MAX: u64 = u64::MAX - 5;

fn assert_invalid(answer: &(u16, Value), field: &str, what: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 422, "{what}: {body}");
    assert_eq!(body["error"]["code"], "invalid", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
}

fn finished_job(d: &Daemon, id: &str) -> Value {
    wait_for(secs(60), || {
        let (status, j) = d.get(&format!("/api/jobs/{id}"));
        assert_eq!(status, 200, "{j}");
        match j["status"].as_str() {
            Some("queued" | "running") => Err(j.to_string()),
            _ => Ok(j),
        }
    })
    .unwrap_or_else(|e| panic!("job {id} did not finish: {e}"))
}

#[test]
fn a_start_period_near_u64_max_is_refused_and_custom_restarts_keep_working() {
    let d = Daemon::start();
    let web = d.service("web", "sleep 300");
    d.create(&web);
    let before = d.list();
    let huge = merge(
        web.clone(),
        json!({"health": {"probe": "tcp", "start_period_s": NEAR_MAX}}),
    );
    assert_invalid(
        &d.put("/api/services/web", &huge),
        "health.start_period_s",
        "PUT",
    );
    let other = merge(huge.clone(), json!({"name": "other"}));
    assert_invalid(
        &d.post("/api/services", &other),
        "health.start_period_s",
        "POST",
    );
    let after = d.list();
    assert_eq!(specs(&before), specs(&after), "nothing changed");
    // Custom restarts of the service are served, one after the other.
    for _ in 0..2 {
        let (status, job) = d.post(
            "/api/services/web/custom-restart",
            &json!({"pre_commands": [{"command_type": "shell", "command": "echo ok", "is_safe": true}]}),
        );
        assert_eq!(status, 202, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let done = finished_job(&d, &id);
        assert_eq!(done["status"], "succeeded", "{done}");
    }
}

#[test]
fn a_start_period_near_u64_max_in_tend_toml_is_refused_at_boot() {
    let dir = tempfile::tempdir().unwrap();
    // TOML integers stop at i64::MAX: the largest value a file can hold.
    std::fs::write(
        dir.path().join("tend.toml"),
        "[services.web]\ncommand = \"sleep 1\"\n[services.web.health]\nprobe = \"tcp\"\n\
         start_period_s = 9223372036854775807\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(dir.path());
    assert!(
        err.contains("web") && err.contains("health.start_period_s") && err.contains("30 days"),
        "the reason names the service, the field and the bound: {err}"
    );
    assert!(
        !dir.path().join("daemon.json").exists(),
        "it never listened"
    );
}

#[test]
fn every_numeric_field_outside_its_bound_is_refused_naming_it() {
    let d = Daemon::start();
    let max = u64::MAX;
    let service_cases = [
        (json!({"stop_timeout_s": 3601}), "stop_timeout_s"),
        (json!({"max_restarts": u64::from(u32::MAX)}), "max_restarts"),
        (json!({"max_memory_mb": max}), "max_memory_mb"),
        (
            json!({"backoff": {"max_delay_ms": max}}),
            "backoff.max_delay_ms",
        ),
        (
            json!({"backoff": {"reset_after_s": max}}),
            "backoff.reset_after_s",
        ),
        (
            json!({"health": {"probe": "tcp", "interval_s": max}}),
            "health.interval_s",
        ),
        (
            json!({"health": {"probe": "tcp", "timeout_s": max}}),
            "health.timeout_s",
        ),
        (
            json!({"health": {"probe": "tcp", "retries": u64::from(u32::MAX)}}),
            "health.retries",
        ),
        (
            json!({"health": {"probe": "tcp", "start_period_s": 30 * 86_400 + 1}}),
            "health.start_period_s",
        ),
    ];
    d.create(&d.service("base", "sleep 300"));
    let before = d.list();
    for (patch, field) in &service_cases {
        let spec = merge(d.service("huge", "sleep 300"), patch.clone());
        assert_invalid(
            &d.post("/api/services", &spec),
            field,
            &format!("POST {patch}"),
        );
        let spec = merge(d.service("base", "sleep 300"), patch.clone());
        assert_invalid(
            &d.put("/api/services/base", &spec),
            field,
            &format!("PUT {patch}"),
        );
    }
    assert_eq!(specs(&before), specs(&d.list()), "nothing changed");
    let cron = json!({"name": "c", "command": "true", "schedule": "0 3 * * *"});
    for (patch, field) in [
        (json!({"timeout": max}), "timeout"),
        (json!({"jitter_s": max}), "jitter_s"),
        (json!({"retries": u64::from(u32::MAX)}), "retries"),
        (json!({"retry_delay_s": max}), "retry_delay_s"),
    ] {
        let spec = merge(cron.clone(), patch.clone());
        assert_invalid(&d.post("/api/cron", &spec), field, &format!("cron {patch}"));
    }
    let step =
        json!({"command_type": "shell", "command": "echo", "is_safe": true, "timeout_s": max});
    assert_invalid(
        &d.post(
            "/api/services/base/custom-restart",
            &json!({"pre_commands": [step]}),
        ),
        "pre_commands[0].timeout_s",
        "step timeout",
    );
    for (path, field) in [
        ("/api/jobs?limit=100000", "limit"),
        ("/api/audit?limit=100000", "limit"),
        ("/api/services/base/logs?limit=100000000", "limit"),
        ("/api/services/base/logs?tail=100000000", "tail"),
        (
            "/api/cron/validate?schedule=*+*+*+*+*&count=100000",
            "count",
        ),
        ("/api/jobs?limit=18446744073709551615", "limit"),
        ("/api/services/base/events?limit=10001", "limit"),
        ("/api/services/base/health?limit=10001", "limit"),
        ("/api/supervisor/logs?tail=10001", "tail"),
    ] {
        assert_invalid(&d.get(path), field, path);
    }
    let (status, body) = d.get("/api/cron");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(0), "{body}");
}

/// Each service's name and the numeric fields under test, for before/after comparisons.
fn specs(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["name"],
                s["stop_timeout_s"],
                s["max_restarts"],
                s["max_memory_mb"],
                s["backoff"],
                s["health"]
            ])
        })
        .collect()
}
