//! The event bus at its boundary, `GET /api/events`: topics as SSE event names, filters, resuming after
//! a disconnect (`Last-Event-ID` or `?after=`) with every missed event exactly once, cron executions
//! live on the stream, and clear errors for bad filters.

use tend_tests::{Daemon, MARKER_VAR, SseEvent, Value, json, secs};

fn id_of(ev: &SseEvent) -> i64 {
    ev.id
        .as_deref()
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("event without a numeric id: {ev:?}"))
}

/// The ids of the service's stored lifecycle events after `after`, oldest first.
fn lifecycle_ids_after(d: &Daemon, name: &str, after: i64) -> Vec<i64> {
    d.events(name)
        .iter()
        .filter(|e| e["kind"] == "lifecycle")
        .filter_map(|e| e["id"].as_i64())
        .filter(|id| *id > after)
        .collect()
}

fn act(d: &Daemon, name: &str, action: &str) {
    let (status, body) = d.post_empty(&format!("/api/services/{name}/{action}"));
    assert_eq!(status, 200, "{action} {name}: {body}");
}

#[test]
fn a_resumed_stream_gets_each_missed_event_exactly_once_then_goes_live() {
    let d = Daemon::start();
    d.create(&d.service("r", json!(["sleep", "1000"])));
    d.wait_status("r", "running", secs(10));
    let path = "/api/events?topics=lifecycle&service=r";
    let sse = d.sse(path);
    act(&d, "r", "restart");
    let seen = sse
        .wait_for(secs(10), |e| {
            e.event == "lifecycle" && e.json()["to"] == "running"
        })
        .unwrap();
    let last = id_of(&seen);
    assert_eq!(seen.json()["id"], last, "the SSE id is the event's id");
    drop(sse);

    // While nobody listens: a stop and a start (several transitions).
    act(&d, "r", "stop");
    act(&d, "r", "start");
    d.wait_status("r", "running", secs(10));
    let missed = lifecycle_ids_after(&d, "r", last);
    assert!(
        missed.len() >= 3,
        "stop and start make transitions: {missed:?}"
    );

    for resumed in [
        d.sse_resume(path, &last.to_string()),
        d.sse(&format!("{path}&after={last}")),
    ] {
        let got: Vec<i64> = missed
            .iter()
            .map(|want| {
                let ev = resumed
                    .next(secs(10))
                    .unwrap_or_else(|| panic!("replay ended before event {want}"));
                assert_eq!(ev.event, "lifecycle", "{ev:?}");
                assert_eq!(ev.json()["service"], "r", "{ev:?}");
                id_of(&ev)
            })
            .collect();
        assert_eq!(got, missed, "replayed in order, each once");
        // Live after the replay, with nothing repeated in between.
        act(&d, "r", "restart");
        let next = resumed
            .next(secs(10))
            .expect("a live event after the replay");
        assert!(
            id_of(&next) > *missed.last().unwrap(),
            "the first live event follows the replay: {next:?} after {missed:?}"
        );
        d.wait_status("r", "running", secs(10));
    }
}

#[test]
fn a_cron_execution_shows_up_on_the_stream_as_it_starts_and_ends() {
    let d = Daemon::start();
    let sse = d.sse("/api/events?topics=cron");
    let spec = json!({
        "name": "report", "command": "echo done; exit 3", "schedule": "@yearly", "timezone": "UTC",
        "env_vars": {MARKER_VAR: d.marker()},
    });
    let (status, body) = d.post("/api/cron", &spec);
    assert_eq!(status, 201, "{body}");
    let (status, body) = d.post_empty("/api/cron/report/run");
    assert_eq!(status, 202, "{body}");
    let execution = body["id"].as_i64().unwrap();
    let phase = |p: &'static str| {
        move |e: &SseEvent| {
            e.event == "cron" && e.json()["execution"] == execution && e.json()["phase"] == p
        }
    };
    let started = sse.wait_for(secs(10), phase("started")).unwrap();
    let finished = sse.wait_for(secs(30), phase("finished")).unwrap();
    let (s, f) = (started.json(), finished.json());
    assert_eq!(s["job"], "report", "{s}");
    assert_eq!(s["trigger"], "manual", "{s}");
    assert!(s["pid"].as_u64().is_some(), "started carries the pid: {s}");
    assert_eq!(f["status"], "failed", "{f}");
    assert_eq!(f["exit_code"], 3, "{f}");
    assert!(f["duration_ms"].as_u64().is_some(), "{f}");
    assert!(id_of(&finished) > id_of(&started));
    assert_eq!(f["topic"], "cron");
    assert_eq!(f["id"], id_of(&finished));

    // Stored: a client that connects later replays both.
    let replay = d.sse(&format!(
        "/api/events?topics=cron&after={}",
        id_of(&started) - 1
    ));
    let first = replay.next(secs(10)).expect("replayed start");
    let second = replay.next(secs(10)).expect("replayed end");
    assert_eq!(
        (
            first.json()["phase"].clone(),
            second.json()["phase"].clone()
        ),
        (json!("started"), json!("finished"))
    );
}

#[test]
fn topics_name_the_events_and_filters_apply() {
    let d = Daemon::builder().arg("--monitor-interval").arg("1").start();
    let sse = d.sse("/api/events?topics=metrics,lifecycle&service=m");
    d.create(&d.service("other", json!(["sleep", "1000"])));
    d.create(&d.service("m", json!(["sleep", "1000"])));
    let metrics = sse.wait_for(secs(15), |e| e.event == "metrics").unwrap();
    assert_eq!(
        metrics.id, None,
        "live-only samples carry no id: {metrics:?}"
    );
    let m = metrics.json();
    assert_eq!(m["name"], "m", "{m}");
    assert!(m["memory_mb"].as_f64().is_some(), "{m}");
    // Nothing of the other service came through the filter.
    act(&d, "m", "stop");
    let mut seen: Vec<Value> = Vec::new();
    sse.wait_for(secs(10), |e| {
        seen.push(json!({"event": e.event, "data": e.json()}));
        e.event == "lifecycle" && e.json()["to"] == "stopped"
    })
    .unwrap();
    for ev in &seen {
        let data = &ev["data"];
        let about = data.get("service").or_else(|| data.get("name"));
        assert_eq!(about, Some(&json!("m")), "filtered by service: {ev}");
        assert!(
            ["metrics", "lifecycle"].contains(&ev["event"].as_str().unwrap()),
            "{ev}"
        );
    }
}

#[test]
fn bad_filters_are_refused_naming_the_field() {
    let d = Daemon::start();
    for (query, field) in [
        ("topics=transition", "topics"),
        ("topics=,", "topics"),
        ("service=no%20spaces", "service"),
        ("after=-1", "after"),
        ("after=soon", "after"),
        ("bogus=1", "bogus"),
    ] {
        let (status, body) = d.get(&format!("/api/events?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid", "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let resp = d
        .request(reqwest::Method::GET, "/api/events")
        .header("last-event-id", "yesterday")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["error"]["field"], "Last-Event-ID", "{body}");
}
