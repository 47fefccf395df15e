//! Lifecycle: restart policies, backoff timing, the fatal state, manual start/stop/restart and the
//! `/api/events` stream.

use tend_tests::{
    Daemon, Value, json, pid_alive, processes_with_marker, rfc3339_ms, secs, transition, wait_for,
    wait_until,
};

/// Milliseconds between each `running->backoff` event and the `backoff->starting` that follows it.
fn backoff_gaps(events: &[Value]) -> Vec<f64> {
    let mut gaps = Vec::new();
    let mut entered: Option<f64> = None;
    for ev in events {
        match transition(ev) {
            (f, t) if f == "running" && t == "backoff" => {
                entered = Some(rfc3339_ms(ev["time"].as_str().unwrap()))
            }
            (f, t) if f == "backoff" && t == "starting" => {
                if let Some(at) = entered.take() {
                    gaps.push(rfc3339_ms(ev["time"].as_str().unwrap()) - at);
                }
            }
            _ => {}
        }
    }
    gaps
}

fn count(events: &[Value], from: &str, to: &str) -> usize {
    events
        .iter()
        .filter(|e| transition(e) == (from.to_string(), to.to_string()))
        .count()
}

fn assert_gap(gap: f64, want: f64, all: &[f64]) {
    assert!(
        gap >= 0.9 * want && gap < want + 250.0,
        "gap {gap:.0} ms is not ~{want} ms; all gaps: {all:.0?}"
    );
}

#[test]
fn backoff_grows_then_caps_and_ends_in_fatal() {
    let d = Daemon::start();
    let backoff =
        json!({"initial_delay_ms": 200, "multiplier": 2.0, "max_delay_ms": 800, "jitter": 0.0});
    d.create(&d.service_with(
        "flaky",
        "exit 1",
        json!({"max_restarts": 4, "backoff": backoff}),
    ));
    let view = d.wait_status("flaky", "fatal", secs(20));
    let events = d.events("flaky");
    let shown = tend_tests::describe_events(&events);

    let gaps = backoff_gaps(&events);
    assert_eq!(gaps.len(), 4, "expected 4 restarts:\n{shown}");
    for (gap, want) in gaps.iter().zip([200.0, 400.0, 800.0, 800.0]) {
        assert_gap(*gap, want, &gaps);
    }
    assert_eq!(count(&events, "starting", "running"), 5, "{shown}");
    let last = events.last().unwrap();
    assert_eq!(
        transition(last),
        ("running".into(), "fatal".into()),
        "{shown}"
    );
    assert_eq!(last["exit_code"], 1, "{last}");
    for ev in events.iter().filter(|e| e["to"] == "backoff") {
        assert_eq!(
            ev["exit_code"], 1,
            "backoff event without the exit code: {ev}"
        );
    }
    assert_eq!(view["restart_count"], 4, "{view}");
    assert_eq!(view["last_exit"]["code"], 1, "{view}");
    assert!(
        view.get("pid").is_none_or(Value::is_null),
        "a fatal service has no pid: {view}"
    );
}

#[test]
fn backoff_resets_after_stable_uptime() {
    let d = Daemon::start();
    let backoff = json!({"initial_delay_ms": 100, "multiplier": 10.0, "max_delay_ms": 60000, "jitter": 0.0, "reset_after_s": 1});
    d.create(&d.service_with("steady", "sleep 1.2; exit 1", json!({"backoff": backoff})));
    let gaps = wait_for(secs(20), || {
        let gaps = backoff_gaps(&d.events("steady"));
        if gaps.len() >= 3 {
            Ok(gaps)
        } else {
            Err(format!("gaps so far {gaps:.0?}"))
        }
    })
    .unwrap();
    for gap in &gaps {
        assert_gap(*gap, 100.0, &gaps);
    }
}

#[test]
fn on_failure_does_not_restart_a_clean_exit() {
    let d = Daemon::start();
    d.create(&d.service_with("once", "exit 0", json!({"restart": "on-failure"})));
    let view = d.wait_status("once", "exited", secs(10));
    assert_eq!(view["last_exit"]["code"], 0, "{view}");
    let events = d.events("once");
    let shown = tend_tests::describe_events(&events);
    assert!(
        events.iter().all(|e| e["to"] != "backoff"),
        "no backoff expected:\n{shown}"
    );
    assert_eq!(count(&events, "starting", "running"), 1, "{shown}");
    assert_eq!(
        transition(events.last().unwrap()),
        ("running".into(), "exited".into()),
        "{shown}"
    );
}

#[test]
fn on_failure_restarts_a_failed_exit() {
    let d = Daemon::start();
    let spec = json!({"restart": "on-failure", "backoff": {"initial_delay_ms": 50, "jitter": 0.0}});
    d.create(&d.service_with("failing", "exit 3", spec));
    let events = wait_for(secs(10), || {
        let events = d.events("failing");
        if count(&events, "starting", "running") >= 2 {
            Ok(events)
        } else {
            Err(tend_tests::describe_events(&events))
        }
    })
    .unwrap();
    let backoff = events
        .iter()
        .find(|e| e["to"] == "backoff")
        .expect("a backoff event");
    assert_eq!(backoff["exit_code"], 3, "{backoff}");
    assert_eq!(
        count(&events, "backoff", "starting"),
        count(&events, "starting", "running") - 1
    );
}

#[test]
fn never_policy_leaves_a_failed_service_exited() {
    let d = Daemon::start();
    d.create(&d.service_with("never", "exit 1", json!({"restart": "never"})));
    let view = d.wait_status("never", "exited", secs(10));
    assert_eq!(view["last_exit"]["code"], 1, "{view}");
    let events = d.events("never");
    let shown = tend_tests::describe_events(&events);
    assert!(
        events.iter().all(|e| e["to"] != "backoff"),
        "no backoff expected:\n{shown}"
    );
    let last = events.last().unwrap();
    assert_eq!(
        transition(last),
        ("running".into(), "exited".into()),
        "{shown}"
    );
    assert_eq!(last["exit_code"], 1, "{last}");
}

#[test]
fn always_policy_restarts_a_clean_exit() {
    let d = Daemon::start();
    let spec = json!({"restart": "always", "backoff": {"initial_delay_ms": 50, "jitter": 0.0}});
    d.create(&d.service_with("again", "exit 0", spec));
    wait_for(secs(10), || {
        let events = d.events("again");
        if count(&events, "backoff", "starting") >= 1 && count(&events, "starting", "running") >= 2
        {
            Ok(())
        } else {
            Err(tend_tests::describe_events(&events))
        }
    })
    .unwrap();
}

#[test]
fn start_stop_restart_through_the_api() {
    let d = Daemon::start();
    let created = d.create(&d.service_with(
        "sleeper",
        json!(["sleep", "1000"]),
        json!({"enabled": false}),
    ));
    assert_eq!(
        created["status"], "stopped",
        "a disabled service is not started: {created}"
    );
    assert!(processes_with_marker(d.marker()).is_empty());

    let (code, started) = d.post_empty("/api/services/sleeper/start");
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["name"], "sleeper", "{started}");
    assert_eq!(started["action"], "start", "{started}");
    assert_eq!(
        started["status"], "running",
        "start returns after the spawn: {started}"
    );
    let first = started["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {started}")) as u32;
    // A process in the middle of its exec shows no environment for a moment: wait for it to read.
    wait_until(secs(5), "the service to be the only marked process", || {
        processes_with_marker(d.marker()) == vec![first]
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", processes_with_marker(d.marker())));
    let env = tend_tests::service_environ(first);
    assert!(env.iter().any(|kv| kv == "TEND_SERVICE=sleeper"), "{env:?}");
    assert!(
        env.iter()
            .any(|kv| kv.starts_with("TEND_INSTANCE=") && kv.len() > "TEND_INSTANCE=".len()),
        "{env:?}"
    );

    let (code, restarted) = d.post_empty("/api/services/sleeper/restart");
    assert_eq!(code, 200, "{restarted}");
    assert_eq!(restarted["status"], "running", "{restarted}");
    let second = restarted["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {restarted}")) as u32;
    assert_ne!(first, second, "restart spawns a new process");
    assert!(!pid_alive(first), "the old process survived a restart");
    // A process in the middle of its exec shows no environment for a moment: wait for it to read.
    wait_until(secs(5), "the service to be the only marked process", || {
        processes_with_marker(d.marker()) == vec![second]
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", processes_with_marker(d.marker())));

    let (code, stopped) = d.post_empty("/api/services/sleeper/stop");
    assert_eq!(code, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped", "{stopped}");
    assert!(
        !pid_alive(second),
        "stop returned while the process still runs"
    );
    assert!(processes_with_marker(d.marker()).is_empty());

    let events = d.events("sleeper");
    let shown = tend_tests::describe_events(&events);
    let tail: Vec<_> = events.iter().rev().take(2).rev().map(transition).collect();
    assert_eq!(
        tail,
        vec![
            ("running".into(), "stopping".into()),
            ("stopping".into(), "stopped".into())
        ],
        "{shown}"
    );
    assert_eq!(
        events[events.len() - 2]["reason"],
        "stop requested",
        "{shown}"
    );
    let first_start = &events[0];
    assert_eq!(
        transition(first_start),
        ("stopped".into(), "starting".into()),
        "{shown}"
    );
    assert_eq!(first_start["reason"], "start requested", "{shown}");
}

#[test]
fn events_stream_delivers_the_transitions_of_a_start() {
    let d = Daemon::start();
    let sse = d.sse("/api/events");
    d.create(&d.service("streamed", json!(["sleep", "1000"])));
    let is = |ev: &tend_tests::SseEvent, from: &str, to: &str| {
        let data = ev.json();
        ev.event == "lifecycle"
            && data["service"] == "streamed"
            && data["from"] == from
            && data["to"] == to
    };
    let starting = sse
        .wait_for(secs(10), |ev| is(ev, "stopped", "starting"))
        .unwrap();
    let running = sse
        .wait_for(secs(10), |ev| is(ev, "starting", "running"))
        .unwrap();
    for ev in [&starting, &running] {
        let data = ev.json();
        assert_eq!(
            ev.id.as_deref(),
            Some(data["id"].to_string().as_str()),
            "SSE id is the event id: {ev:?}"
        );
    }
    assert!(running.json()["id"].as_i64() > starting.json()["id"].as_i64());
    let pid = running.json()["pid"]
        .as_u64()
        .expect("running event carries the pid") as u32;
    assert_eq!(
        d.view("streamed")["pid"],
        pid,
        "the event's pid is the service's"
    );
}

#[test]
fn a_program_that_cannot_be_spawned_backs_off_then_turns_fatal() {
    let d = Daemon::start();
    let spec = json!({"max_restarts": 2, "backoff": {"initial_delay_ms": 50, "jitter": 0.0}});
    d.create(&d.service_with("ghost", json!(["/definitely/not/here"]), spec));
    let view = d.wait_status("ghost", "fatal", secs(10));
    let events = d.events("ghost");
    let shown = tend_tests::describe_events(&events);
    assert!(
        events.iter().all(|e| e["to"] != "running"),
        "nothing ever ran:\n{shown}"
    );
    assert!(count(&events, "starting", "backoff") >= 1, "{shown}");
    assert_eq!(
        transition(events.last().unwrap()),
        ("starting".into(), "fatal".into()),
        "{shown}"
    );
    let reason = events.last().unwrap()["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("/definitely/not/here"),
        "the reason names the program: {reason}"
    );
    assert!(view.get("pid").is_none_or(Value::is_null), "{view}");
}

#[test]
fn events_limit_returns_the_newest_oldest_first() {
    let d = Daemon::start();
    let spec = json!({"max_restarts": 3, "backoff": {"initial_delay_ms": 20, "jitter": 0.0}});
    d.create(&d.service_with("bouncy", "exit 1", spec));
    d.wait_status("bouncy", "fatal", secs(10));
    let all = d.events("bouncy");
    assert!(all.len() > 3, "{all:#?}");
    let (code, body) = d.get("/api/services/bouncy/events?limit=3");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["events"].as_array().unwrap(), &all[all.len() - 3..]);
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "events are oldest first: {ids:?}"
    );
}
