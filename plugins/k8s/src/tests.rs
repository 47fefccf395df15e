//! Native unit tests of the mapping (input JSON -> documents + warnings).

use serde_json::{Value, json};

use crate::{Input, Warning, export};

fn input(services: Value, cron: Value, options: Value) -> Input {
    Input {
        services: services.to_string(),
        cron: cron.to_string(),
        routes: json!({"settings": {"base_domain": "example.com"}, "services": []}).to_string(),
        options: options.to_string(),
    }
}

fn svc(extra: Value) -> Value {
    let mut s = json!({"name": "app", "command": ["run"], "port": 8000});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn job(extra: Value) -> Value {
    let mut j = json!({"name": "job", "command": ["run"], "schedule": "0 3 * * *",
        "timezone": "UTC"});
    for (k, v) in extra.as_object().unwrap() {
        j[k] = v.clone();
    }
    j
}

fn run(services: Value, cron: Value) -> (String, Vec<Warning>) {
    let (docs, warnings) = export(&input(services, cron, json!({"image": "img:1"}))).unwrap();
    let body = docs
        .into_iter()
        .map(|d| format!("# {}\n{}", d.path, d.body))
        .collect();
    (body, warnings)
}

#[test]
fn smoke() {
    let (body, warnings) = run(json!([svc(json!({}))]), json!([job(json!({}))]));
    println!("{body}\n{warnings:?}");
    assert!(body.contains("kind: Deployment"));
}

#[test]
fn show_fixture() {
    let services = json!([
      {"name":"db","command":["postgres","-D","/var/lib/postgresql/data"],"port":5432,"stop_signal":"SIGINT","stop_timeout_s":30,"max_memory_mb":512,
       "health":{"probe":"tcp","config":{},"interval_s":5,"timeout_s":2,"retries":5,"start_period_s":20},"k8s":{"image":"postgres:17"}},
      {"name":"web","command":["gunicorn","app:wsgi"],"working_dir":"/srv/app","port":8000,"env":{"A":"1"},"env_file":"/srv/app/.env",
       "backoff":{"initial_delay_ms":500,"max_delay_ms":30000,"multiplier":2.0,"jitter":0.2,"reset_after_s":120},"stop_signal":"SIGQUIT",
       "watch_dirs":["/srv/app/media"],"expose_caddy":true,"caddy_subdomain":"shop","caddy_headers":{"X-Forwarded-Proto":"https"},
       "health":{"probe":"http","config":{"path":"/healthz","expect_status":[200,299]},"interval_s":10,"timeout_s":3,"retries":3,"start_period_s":15},
       "depends_on":{"db":{"condition":"healthy","restart":true},"migrate":{"condition":"completed","restart":false}}},
      {"name":"worker","command":"celery -A app worker","restart":"on-failure","env":{"QUEUES":"default,mail"},
       "health":{"probe":"json-status","config":{"url":"http://127.0.0.1:8001/status"},"interval_s":30},"depends_on":{"db":{}}}
    ]);
    let cron = json!([job(
        json!({"name":"report","schedule":"30 0 7 * * Mon-Fri","timezone":"Europe/Berlin","catch_up":"latest","retries":2,"retry_delay_s":30,"env_vars":{"R":"x"}})
    )]);
    let (body, warnings) = run(services, cron);
    println!("{body}");
    for w in warnings {
        println!("{} {}: {}", w.object, w.field, w.reason);
    }
}
