//! The API the dashboard needs beyond the CLI's: older log pages (`before_id`), server-side log search
//! (substring and regex, bounded), the log download, `GET /api/overview` (every service's recent health
//! and resources, cron jobs due), the cron view's plain-English schedule and the audit text filter.
//! Real services writing real numbered lines; everything through HTTP (and the CLI's `--grep`).

use reqwest::Method;
use tend_tests::{Daemon, Value, free_port, json, python3, secs, wait_for};

/// `s` percent-encoded for a query string.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn lines(page: &Value) -> Vec<Value> {
    page["lines"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no lines array: {page}"))
}

fn texts(page: &Value) -> Vec<String> {
    lines(page)
        .iter()
        .map(|l| l["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn logs(d: &Daemon, name: &str, query: &str) -> Value {
    let (status, body) = d.get(&format!("/api/services/{name}/logs?{query}"));
    assert_eq!(status, 200, "logs?{query}: {body}");
    body
}

/// Starts `name` running `script` once and waits until the last line of each stream is stored
/// (lines of one stream are stored in order, so then all of them are).
fn run_to_end(d: &Daemon, name: &str, script: &str, last_out: &str, last_err: Option<&str>) {
    d.create(&d.service_with(name, script, json!({"restart": "never"})));
    d.wait_status(name, "exited", secs(60));
    for (stream, last) in [("stdout", Some(last_out)), ("stderr", last_err)] {
        let Some(last) = last else { continue };
        wait_for(secs(60), || {
            let t = texts(&logs(d, name, &format!("tail=1&stream={stream}")));
            if t == [last] {
                Ok(())
            } else {
                Err(format!("{stream} tail {t:?}"))
            }
        })
        .unwrap();
    }
}

/// Runs `ITEMS` as `name` to its end.
fn run_items(d: &Daemon, name: &str) {
    run_to_end(d, name, ITEMS, "ok item 2999", Some("ERROR item 3000"));
}

/// Lines `item 1` .. `item 3000`; every hundredth is `ERROR item N` on stderr.
const ITEMS: &str = "i=1; while [ $i -le 3000 ]; do \
    if [ $((i % 100)) -eq 0 ]; then echo \"ERROR item $i\" >&2; else echo \"ok item $i\"; fi; \
    i=$((i + 1)); done";

fn item(i: u32) -> String {
    if i.is_multiple_of(100) {
        format!("ERROR item {i}")
    } else {
        format!("ok item {i}")
    }
}

#[test]
fn before_id_pages_walk_the_whole_log_back_without_gaps_or_duplicates() {
    let d = Daemon::start();
    run_to_end(&d, "counter", "seq 1 5000", "5000", None);

    // The first page is the usual tail; it says where the older lines are.
    let mut page = logs(&d, "counter", "tail=700");
    let mut pages = vec![texts(&page)];
    let mut seen_ids: Vec<i64> = lines(&page)
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    while let Some(before) = page["next_before_id"].as_i64() {
        assert_eq!(
            Some(before),
            seen_ids.first().copied(),
            "the oldest line shown so far"
        );
        page = logs(&d, "counter", &format!("before_id={before}&limit=700"));
        let ids: Vec<i64> = lines(&page)
            .iter()
            .map(|l| l["id"].as_i64().unwrap())
            .collect();
        assert!(
            ids.iter().all(|&id| id < before),
            "before_id={before} answered ids {ids:?}"
        );
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "not oldest first: {ids:?}"
        );
        seen_ids.splice(0..0, ids);
        pages.push(texts(&page));
        assert!(pages.len() <= 10, "paging does not end");
    }
    assert_eq!(pages.len(), 8, "5000 lines in pages of 700");
    assert_eq!(pages.last().unwrap().len(), 5000 - 7 * 700);
    let all: Vec<String> = pages.into_iter().rev().flatten().collect();
    let want: Vec<String> = (1..=5000).map(|i| i.to_string()).collect();
    assert_eq!(
        all, want,
        "the pages put together are the whole log, in order"
    );
    assert!(
        seen_ids.windows(2).all(|w| w[0] < w[1]),
        "an id twice or out of order"
    );

    // A page ending exactly at the first line has no next_before_id; limit defaults to 100.
    let first_id = seen_ids[0];
    let oldest = logs(
        &d,
        "counter",
        &format!("before_id={}&limit=1", first_id + 1),
    );
    assert_eq!(texts(&oldest), ["1"]);
    assert!(oldest.get("next_before_id").is_none(), "{oldest}");
    let default = logs(&d, "counter", &format!("before_id={}", seen_ids[4999]));
    assert_eq!(texts(&default).len(), 100);
    assert_eq!(texts(&default).last().unwrap(), "4999");
}

#[test]
fn before_id_combines_with_stream_and_refuses_tail() {
    let d = Daemon::start();
    run_items(&d, "items");
    let newest = logs(&d, "items", "stream=stderr&tail=5");
    assert_eq!(
        texts(&newest),
        (26..=30).map(|i| item(i * 100)).collect::<Vec<_>>()
    );
    let before = newest["next_before_id"]
        .as_i64()
        .expect("older stderr lines exist");
    let older = logs(
        &d,
        "items",
        &format!("stream=stderr&before_id={before}&limit=5"),
    );
    assert_eq!(
        texts(&older),
        (21..=25).map(|i| item(i * 100)).collect::<Vec<_>>()
    );

    for (query, field) in [
        (format!("before_id={before}&tail=5"), "before_id"),
        (format!("before_id={before}&after_id=1"), "before_id"),
        ("before_id=x".to_string(), "before_id"),
    ] {
        let (status, body) = d.get(&format!("/api/services/items/logs?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

#[test]
fn search_finds_substrings_and_regex_matches_newest_first_limited() {
    let d = Daemon::start();
    run_items(&d, "items");

    // Case-insensitive by default; every line examined; nothing older left.
    let all = logs(&d, "items", "q=error");
    assert_eq!(
        texts(&all),
        (1..=30).map(|i| item(i * 100)).collect::<Vec<_>>()
    );
    assert!(all.get("next_before_id").is_none(), "{all}");
    assert!(all.get("truncated").is_none(), "{all}");
    assert_eq!(all["scanned"], 3000, "{all}");
    assert!(lines(&all).iter().all(|l| l["stream"] == "stderr"));

    // Limited: the newest matches, oldest first, and the page says there are more; walking on with
    // next_before_id finds each match once.
    let mut found: Vec<String> = Vec::new();
    let mut query = "q=ERROR&limit=7".to_string();
    loop {
        let page = logs(&d, "items", &query);
        let mut t = texts(&page);
        assert!(t.len() <= 7, "{page}");
        t.extend(found);
        found = t;
        match page["next_before_id"].as_i64() {
            Some(b) => query = format!("q=ERROR&limit=7&before_id={b}"),
            None => break,
        }
    }
    assert_eq!(found, (1..=30).map(|i| item(i * 100)).collect::<Vec<_>>());
    let newest = logs(&d, "items", "q=error&limit=2");
    assert_eq!(texts(&newest), [item(2900), item(3000)]);
    assert!(newest["next_before_id"].is_i64(), "{newest}");

    // Exactly as many matches as the limit: no next page.
    let exact = logs(&d, "items", "q=error&limit=30");
    assert_eq!(texts(&exact).len(), 30);
    assert!(exact.get("next_before_id").is_none(), "{exact}");

    // Case-sensitive, and combined with the stream filter.
    assert!(texts(&logs(&d, "items", "q=error&case_sensitive=true")).is_empty());
    assert!(texts(&logs(&d, "items", "q=error&stream=stdout")).is_empty());
    let ok = logs(
        &d,
        "items",
        &format!("q={}&stream=stdout&limit=3", enc("OK ITEM 29")),
    );
    assert_eq!(texts(&ok), [item(2997), item(2998), item(2999)]);

    // Literal: regex metacharacters in a substring search match themselves.
    assert!(texts(&logs(&d, "items", &format!("q={}", enc("item .00")))).is_empty());

    // Regex.
    let re = logs(
        &d,
        "items",
        &format!("q={}&regex=true", enc(r"^error item \d*500$")),
    );
    assert_eq!(texts(&re), [item(500), item(1500), item(2500)]);
    let re = logs(
        &d,
        "items",
        &format!("q={}&regex=true&case_sensitive=true", enc(r"^ok item 1\d$")),
    );
    assert_eq!(texts(&re), (10..=19).map(item).collect::<Vec<_>>());
}

#[test]
fn bad_search_input_is_422_naming_the_field_and_changes_nothing() {
    let d = Daemon::start();
    run_items(&d, "items");
    let services = d.list();
    let before = d.all_logs("items");
    // The same parameters, well formed, are answered.
    let good = logs(&d, "items", &format!("q={}&regex=true", enc("^ERROR")));
    assert_eq!(texts(&good).len(), 30, "{good}");
    for (query, field) in [
        (format!("q={}&regex=true", enc("(unclosed")), "q"),
        (
            format!("q={}&regex=true", enc(r"\w{1000}\w{1000}\w{1000}")),
            "q",
        ),
        ("q=".to_string(), "q"),
        (format!("q={}", "x".repeat(1025)), "q"),
        ("regex=true".to_string(), "regex"),
        ("regex=maybe&q=x".to_string(), "regex"),
        ("case_sensitive=true".to_string(), "case_sensitive"),
        ("q=x&tail=5".to_string(), "q"),
        ("q=x&after_id=5".to_string(), "q"),
    ] {
        let (status, body) = d.get(&format!("/api/services/items/logs?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid", "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    // The follow stream takes no search.
    let (status, body) = d.get("/api/services/items/logs/follow?q=x");
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("q")),
        "{body}"
    );
    assert_eq!(d.list(), services);
    assert_eq!(d.all_logs("items"), before);
    assert_eq!(
        logs(&d, "items", &format!("q={}&regex=true", enc("^ERROR"))),
        good
    );
}

#[test]
fn a_search_over_a_huge_log_stops_at_its_scan_bound_and_says_where() {
    const N: u32 = 120_000;
    const BOUND: u64 = 100_000;
    let d = Daemon::start();
    run_to_end(&d, "big", &format!("seq 1 {N}"), &N.to_string(), None);
    let first = logs(&d, "big", "q=nowhere");
    assert!(texts(&first).is_empty(), "{first}");
    assert_eq!(first["truncated"], true, "{first}");
    assert_eq!(first["scanned"], BOUND, "{first}");
    let before = first["next_before_id"].as_i64().expect("where to go on");
    // The scan stopped at line N - BOUND + 1: asking again goes on from there to the start.
    let at = logs(&d, "big", &format!("before_id={}&limit=1", before + 1));
    assert_eq!(texts(&at), [(N as u64 - BOUND + 1).to_string()]);
    let rest = logs(&d, "big", &format!("q=nowhere&before_id={before}"));
    assert!(rest.get("truncated").is_none(), "{rest}");
    assert!(rest.get("next_before_id").is_none(), "{rest}");
    assert_eq!(rest["scanned"], N as u64 - BOUND, "{rest}");
    // Matches found before the bound are answered as usual.
    let found = logs(&d, "big", "q=119999");
    assert_eq!(texts(&found), ["119999"]);
    assert_eq!(found["truncated"], true, "{found}");
}

#[test]
fn the_download_streams_every_line_as_an_attachment() {
    let d = Daemon::start();
    // 3000 numbered lines on both streams and one line longer than a stored record (16 KiB).
    let script = format!(
        "{ITEMS}; {} -c \"print('x' * 40000)\"; echo last",
        python3()
    );
    run_to_end(&d, "dl", &script, "last", Some("ERROR item 3000"));
    let stored = d.all_logs("dl");
    assert!(
        stored.iter().any(|l| l["partial"] == true),
        "the long line is stored in pieces"
    );

    let resp = d
        .request(Method::GET, "/api/services/dl/logs/download")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"dl.log\""
    );
    assert_eq!(header("content-length"), "", "streamed, not buffered");
    let body = resp.text().unwrap();
    // Every stored line once, in id order, pieces of a long line joined back.
    let mut joined = String::new();
    for l in &stored {
        joined.push_str(l["line"].as_str().unwrap());
        if l["partial"] != true {
            joined.push('\n');
        }
    }
    assert!(
        body == joined,
        "the download is not the stored lines ({} vs {} bytes)",
        body.len(),
        joined.len()
    );
    let got: Vec<&str> = body.lines().collect();
    assert_eq!(got.len(), 3002);
    assert!(
        got.contains(&"x".repeat(40000).as_str()),
        "the long line in one piece"
    );

    let resp = d
        .request(Method::GET, "/api/services/dl/logs/download?stream=stdout")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let outs = resp.text().unwrap();
    let mut want: Vec<String> = (1..=3000u32)
        .filter(|i| !i.is_multiple_of(100))
        .map(item)
        .collect();
    want.push("x".repeat(40000));
    want.push("last".into());
    assert!(
        outs.lines().eq(want.iter().map(String::as_str)),
        "stdout lines differ"
    );

    let resp = d
        .request(Method::GET, "/api/services/dl/logs/download?stream=stderr")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let errs = resp.text().unwrap();
    assert_eq!(
        errs.lines().collect::<Vec<_>>(),
        (1..=30).map(|i| item(i * 100)).collect::<Vec<_>>()
    );

    let (status, body) = d.get("/api/services/nope/logs/download");
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (status, body) = d.get("/api/services/dl/logs/download?stream=both");
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("stream")),
        "{body}"
    );
}

#[test]
fn overview_has_every_service_with_health_and_resources_and_the_due_cron_jobs() {
    let d = Daemon::builder().arg("--monitor-interval").arg("1").start();
    let port = free_port();
    d.create(&d.service_with(
        "web",
        json!([
            python3(),
            "-m",
            "http.server",
            port.to_string(),
            "--bind",
            "127.0.0.1"
        ]),
        json!({
            "port": port,
            "health": {"probe": "tcp", "interval_s": 1, "timeout_s": 1, "retries": 2},
        }),
    ));
    d.create(&d.service("worker", json!(["sleep", "3600"])));
    d.create(&d.service_with("idle", json!(["sleep", "3600"]), json!({"enabled": false})));
    let cron = |name: &str, schedule: &str, enabled: bool| {
        let spec =
            json!({"name": name, "command": "true", "schedule": schedule, "enabled": enabled});
        let (status, body) = d.post("/api/cron", &spec);
        assert_eq!(status, 201, "{body}");
    };
    cron("hourly", "@hourly", true);
    cron("minutely", "* * * * *", true);
    cron("far", "0 0 0 1 1 * 2099", true);
    cron("off", "* * * * *", false);

    let overview = wait_for(secs(30), || {
        let (status, o) = d.get("/api/overview");
        assert_eq!(status, 200, "{o}");
        let svc = |name: &str| {
            o["services"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let ready = svc("web")["health"]
            .as_array()
            .is_some_and(|h| h.len() >= 2)
            && ["web", "worker"].iter().all(|n| {
                svc(n)["resources"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            });
        if ready { Ok(o) } else { Err(o.to_string()) }
    })
    .unwrap();

    let services = overview["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["idle", "web", "worker"], "every service, by name");
    for s in services {
        assert!(s["health"].is_array() && s["resources"].is_array(), "{s}");
    }
    let idle = &services[0];
    assert_eq!(idle["health"], json!([]), "{idle}");
    assert_eq!(idle["resources"], json!([]), "{idle}");
    assert_eq!(
        services[2]["health"],
        json!([]),
        "no check: {}",
        services[2]
    );

    // Health: the same results as the service's own history, in brief.
    let web = &services[1];
    let (_, report) = d.get("/api/services/web/health?limit=1000");
    let history = report["history"].as_array().unwrap();
    let health = web["health"].as_array().unwrap();
    assert!(health.len() <= 30);
    // Checks may have run since: line the overview's newest up with the history.
    let newest = health.last().unwrap();
    let at = history
        .iter()
        .position(|h| h["time"] == newest["time"])
        .unwrap_or_else(|| panic!("{newest} not in the history"));
    assert!(at + 1 >= health.len());
    for (h, full) in health.iter().zip(&history[at + 1 - health.len()..]) {
        assert_eq!(h["time"], full["time"]);
        assert_eq!(h["passed"], full["passed"]);
        assert_eq!(h["latency_ms"], full["latency_ms"]);
        assert_eq!(h.as_object().unwrap().len(), 3, "{h}");
    }
    assert!(health.iter().any(|h| h["passed"] == true), "{web}");

    // Resources: one-minute points of the last hour, the figures of the metrics history.
    for s in &services[1..] {
        let points = s["resources"].as_array().unwrap();
        assert!(points.len() <= 61, "{s}");
        for p in points {
            assert!(p["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0), "{p}");
            assert!(p["memory_mb"].as_f64().is_some_and(|m| m > 0.0), "{p}");
            let t = chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).unwrap();
            assert_eq!(t.timestamp() % 60, 0, "steps start on the minute: {p}");
        }
    }

    // Cron: enabled jobs due within 24 h, soonest first.
    let due = overview["cron_due"].as_array().unwrap();
    let due_names: Vec<&str> = due.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let mut sorted = due_names.clone();
    sorted.sort();
    assert_eq!(sorted, ["hourly", "minutely"], "{due:?}");
    let times: Vec<&str> = due
        .iter()
        .map(|c| c["next_run_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "soonest first: {due:?}"
    );
    let (_, hourly) = d.get("/api/cron/hourly");
    let listed = due.iter().find(|c| c["name"] == "hourly").unwrap();
    assert_eq!(listed["next_run_at"], hourly["next_run_at"]);
}

#[test]
fn cron_views_describe_their_schedule_in_plain_english() {
    let d = Daemon::start();
    let spec = json!({"name": "weekdays", "command": "true", "schedule": "0 9 * * 1-5"});
    let (status, created) = d.post("/api/cron", &spec);
    assert_eq!(status, 201, "{created}");
    let (_, validated) = d.get(&format!(
        "/api/cron/validate?schedule={}",
        enc("0 9 * * 1-5")
    ));
    let description = validated["description"].as_str().unwrap();
    assert!(description.contains("09:00"), "{validated}");
    assert_eq!(created["schedule_description"], description, "{created}");
    let (_, listed) = d.get("/api/cron");
    assert_eq!(listed[0]["schedule_description"], description, "{listed}");
    let (_, status_page) = d.get("/api/cron/status");
    assert_eq!(
        status_page["jobs"]["weekdays"]["schedule_description"],
        description
    );

    // A view sent back with a new schedule: the description follows the schedule, not the body.
    let mut edited = created.clone();
    edited["schedule"] = json!("@hourly");
    let (status, replaced) = d.put("/api/cron/weekdays", &edited);
    assert_eq!(status, 200, "{replaced}");
    assert_ne!(replaced["schedule_description"], description, "{replaced}");
    let (_, hourly) = d.get("/api/cron/validate?schedule=%40hourly");
    assert_eq!(replaced["schedule_description"], hourly["description"]);
}

#[test]
fn the_audit_list_filters_by_text() {
    let d = Daemon::start();
    for command in ["ls -la /tmp", "echo Hello", "rm -rf /"] {
        let body =
            json!({"command": {"command_type": "shell", "command": command, "is_safe": true}});
        let (status, answer) = d.post("/api/policy/evaluate", &body);
        assert_eq!(status, 200, "{answer}");
    }
    let commands = |query: &str| -> Vec<String> {
        let (status, page) = d.get(&format!("/api/audit?{query}"));
        assert_eq!(status, 200, "{query}: {page}");
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["command"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(commands("q=HELLO"), ["echo Hello"]);
    assert_eq!(commands(&format!("q={}", enc("-LA"))), ["ls -la /tmp"]);
    // With the other filters: the denied one, found by text too.
    let denied = commands("decision=deny");
    assert!(denied.contains(&"rm -rf /".to_string()), "{denied:?}");
    assert_eq!(commands("decision=deny&q=rm"), ["rm -rf /"]);
    assert!(commands("decision=allow&q=rm%20-rf").is_empty());
    assert_eq!(commands("origin=rest&q=echo"), ["echo Hello"]);
    let (status, body) = d.get("/api/audit?q=");
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("q")),
        "{body}"
    );
}

#[test]
fn the_cli_greps_the_log() {
    let d = Daemon::start();
    run_items(&d, "items");
    let run = |args: &[&str]| {
        let out = d.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let found = run(&["logs", "items", "--grep", "error", "-n", "3", "--raw"]);
    assert_eq!(
        found,
        format!("{}\n{}\n{}\n", item(2800), item(2900), item(3000))
    );
    let found = run(&[
        "logs",
        "items",
        "--grep",
        r"^ERROR item [12]500$",
        "--regex",
        "--raw",
    ]);
    assert_eq!(found, format!("{}\n{}\n", item(1500), item(2500)));
    let none = run(&[
        "logs",
        "items",
        "--grep",
        "error",
        "--case-sensitive",
        "--raw",
    ]);
    assert_eq!(none, "");
    let out = d.cli(&["logs", "items", "--grep", "(", "--regex"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(field: q)"), "{err}");
}

#[test]
fn executions_record_trigger_duration_exit_and_peak_memory_and_cpu() {
    let d = Daemon::builder().arg("--monitor-interval").arg("1").start();
    let busy = format!(
        "{} -c \"import time\nt = time.time()\nwhile time.time() - t < 3.5: pass\"",
        python3()
    );
    for (name, command) in [("busy", busy.as_str()), ("quick", "true")] {
        let spec = json!({"name": name, "command": command, "schedule": "0 0 0 1 1 * 2099"});
        let (status, body) = d.post("/api/cron", &spec);
        assert_eq!(status, 201, "{body}");
    }
    let run = |name: &str| -> Value {
        let (status, body) = d.post_empty(&format!("/api/cron/{name}/run"));
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_i64().unwrap();
        wait_for(secs(30), || {
            let (_, page) = d.get(&format!("/api/cron/{name}/executions"));
            let e = page["executions"]
                .as_array()
                .and_then(|a| a.iter().find(|e| e["id"] == id))
                .cloned()
                .unwrap_or(Value::Null);
            if e["status"] == "succeeded" {
                Ok(e)
            } else {
                Err(e.to_string())
            }
        })
        .unwrap()
    };
    let busy = run("busy");
    assert_eq!(busy["trigger"], "manual", "{busy}");
    assert_eq!(busy["exit_code"], 0, "{busy}");
    assert!(
        busy["duration_ms"].as_u64().is_some_and(|ms| ms >= 3500),
        "{busy}"
    );
    assert!(
        busy["max_rss_bytes"].as_u64().is_some_and(|b| b > 1 << 20),
        "{busy}"
    );
    assert!(
        busy["cpu_time_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{busy}"
    );
    let peak = busy["peak_cpu_percent"]
        .as_f64()
        .unwrap_or_else(|| panic!("{busy}"));
    // A spinning process uses a whole core; a loaded machine may give it less, never more than all.
    assert!(peak > 5.0 && peak <= 100.0 * 64.0, "{busy}");
    // Too short for two samples: no peak rather than a made-up one.
    let quick = run("quick");
    assert!(quick.get("peak_cpu_percent").is_none(), "{quick}");
}
