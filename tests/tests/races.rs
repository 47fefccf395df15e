//! Concurrent `PUT` and `DELETE` of one service (and of one cron job) over real HTTP: once the DELETE
//! has answered, the thing is gone for good: absent from `GET`, and still absent after a daemon
//! restart (a racing PUT never re-inserts the stored row).

use std::sync::Barrier;

use tend_tests::*;

const ROUNDS: usize = 40;

/// Runs `put` and `delete` at the same moment from two threads; returns their statuses.
fn race(put: impl FnOnce() -> u16 + Send, delete: impl FnOnce() -> u16 + Send) -> (u16, u16) {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let p = s.spawn(|| {
            barrier.wait();
            put()
        });
        let d = s.spawn(|| {
            barrier.wait();
            delete()
        });
        (p.join().unwrap(), d.join().unwrap())
    })
}

#[test]
fn a_put_racing_a_delete_never_brings_a_service_back() {
    let mut d = Daemon::start();
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..ROUNDS {
        let name = format!("r{round}");
        d.create(&d.service_with(&name, "sleep 300", json!({"enabled": false})));
        let spec = d.service_with(&name, "sleep 301", json!({"enabled": false}));
        let path = format!("/api/services/{name}");
        let (put, del) = race(|| d.put(&path, &spec).0, || d.delete(&path).0);
        assert_eq!(del, 200, "round {round}: DELETE answered {del}");
        assert!(
            put == 200 || put == 404,
            "round {round}: PUT answered {put}"
        );
        *outcomes.entry(put).or_insert(0) += 1;
        let (status, body) = d.get(&path);
        assert_eq!(status, 404, "round {round}: the service is back: {body}");
    }
    eprintln!("figure: {ROUNDS} PUT+DELETE rounds, PUT answers {outcomes:?}");
    d.restart();
    let list = d.list();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "deleted services came back after a restart: {list}"
    );
}

#[test]
fn a_put_racing_a_delete_never_brings_a_cron_job_back() {
    let mut d = Daemon::start();
    let job = |name: &str, schedule: &str| {
        json!({"name": name, "command": "true", "schedule": schedule,
               "env_vars": {MARKER_VAR: d.marker()}})
    };
    for round in 0..ROUNDS {
        let name = format!("c{round}");
        let (status, body) = d.post("/api/cron", &job(&name, "0 3 * * *"));
        assert_eq!(status, 201, "{body}");
        let spec = job(&name, "0 4 * * *");
        let path = format!("/api/cron/{name}");
        let (put, del) = race(|| d.put(&path, &spec).0, || d.delete(&path).0);
        assert_eq!(del, 200, "round {round}: DELETE answered {del}");
        assert!(
            put == 200 || put == 404,
            "round {round}: PUT answered {put}"
        );
        let (status, body) = d.get(&path);
        assert_eq!(status, 404, "round {round}: the job is back: {body}");
    }
    d.restart();
    let (status, body) = d.get("/api/cron");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(0),
        "deleted cron jobs came back after a restart: {body}"
    );
}
