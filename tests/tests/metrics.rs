//! Resource metrics against real processes: RSS of a known allocation, CPU of a busy grandchild,
//! `max_memory_mb` restarts, the history API with its step aggregation and disk usage, the daemon's
//! own figures, and `GET /metrics` (parsed by a strict Prometheus text-format reader) with its auth.

use std::collections::BTreeMap;

use reqwest::Method;
use tend_tests::{Daemon, MARKER_VAR, Value, free_port, json, secs, wait_for};

const MIB: f64 = 1024.0 * 1024.0;

/// Allocates 200 MiB, touches every page, then sleeps.
const ALLOCATE_200: &str = "import time\nb = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint('allocated', flush=True)\ntime.sleep(3600)\n";

fn sampled_daemon() -> Daemon {
    Daemon::builder().arg("--monitor-interval").arg("1").start()
}

fn service_status(d: &Daemon, name: &str) -> Value {
    let (code, body) = d.get("/api/status");
    assert_eq!(code, 200, "{body}");
    body["services"][name].clone()
}

fn history(d: &Daemon, name: &str, query: &str) -> Value {
    let (code, body) = d.get(&format!("/api/services/{name}/metrics?{query}"));
    assert_eq!(code, 200, "metrics of {name}?{query}: {body}");
    body
}

fn points(h: &Value) -> Vec<Value> {
    h["points"].as_array().cloned().unwrap_or_default()
}

fn total_samples(h: &Value) -> u64 {
    points(h).iter().filter_map(|p| p["samples"].as_u64()).sum()
}

#[test]
fn rss_of_a_known_allocation_shows_in_status_and_history() {
    let d = sampled_daemon();
    // A limit well above the allocation must not restart it.
    d.create(&d.service_with(
        "mem",
        json!(["python3", "-c", ALLOCATE_200]),
        json!({"max_memory_mb": 1024}),
    ));
    let in_range = |mb: f64| (195.0..260.0).contains(&mb);
    let state = wait_for(secs(30), || {
        let s = service_status(&d, "mem");
        match s["memory_mb"].as_f64() {
            Some(mb) if in_range(mb) => Ok(s),
            _ => Err(s.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("RSS never reached ~200 MiB in /api/status: {e}"));
    assert!(state["cpu_percent"].as_f64().is_some(), "{state}");
    assert!(state["pid"].as_u64().is_some(), "{state}");

    let point = wait_for(secs(10), || {
        let h = history(&d, "mem", "since=5m&step=1");
        points(&h)
            .into_iter()
            .find(|p| p["memory_mb"].as_f64().is_some_and(in_range))
            .ok_or_else(|| h.to_string())
    })
    .unwrap_or_else(|e| panic!("no ~200 MiB point in the history: {e}"));
    assert!(
        point["memory_mb_max"].as_f64().is_some_and(in_range),
        "{point}"
    );
    assert!(point["processes"].as_f64().unwrap() >= 1.0, "{point}");
    assert!(point["threads"].as_f64().unwrap() >= 1.0, "{point}");
    assert!(point["open_fds"].as_f64().unwrap() >= 3.0, "{point}");

    // The daemon's own figures sit next to the services'.
    let (_, status) = d.get("/api/status");
    let sup = &status["supervisor"];
    assert!(
        sup["memory_mb"]
            .as_f64()
            .is_some_and(|m| m > 1.0 && m < 1024.0),
        "{sup}"
    );
    assert!(
        sup["cpu_percent"].as_f64().is_some_and(|c| c >= 0.0),
        "{sup}"
    );

    // Several samples later, still no restart: 200 MiB is under the 1024 MiB limit.
    wait_for(secs(10), || {
        let h = history(&d, "mem", "since=5m&step=1");
        let over = points(&h)
            .iter()
            .filter(|p| p["memory_mb"].as_f64().is_some_and(in_range))
            .count();
        if over >= 4 {
            Ok(())
        } else {
            Err(h.to_string())
        }
    })
    .unwrap();
    let memory_events: Vec<Value> = d
        .events("mem")
        .into_iter()
        .filter(|e| e["reason"].as_str().unwrap_or("").contains("memory"))
        .collect();
    assert!(memory_events.is_empty(), "{memory_events:?}");
}

fn own_cpu_ticks(pid: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 1)..]
        .split_whitespace()
        .collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

#[test]
fn cpu_of_a_burning_grandchild_counts_for_the_service() {
    let d = sampled_daemon();
    d.create(&d.service("burn", "python3 -c 'while True: pass' & wait"));
    let state = wait_for(secs(30), || {
        let s = service_status(&d, "burn");
        match s["cpu_percent"].as_f64() {
            Some(c) if c > 50.0 => Ok(s),
            _ => Err(s.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("the busy child's CPU never showed in the service's: {e}"));
    // The leader is the shell waiting for its child: the CPU is not its own.
    let leader = state["pid"].as_u64().unwrap();
    assert!(
        own_cpu_ticks(leader) < 50,
        "the shell itself burnt CPU: {state}"
    );
    // History rows are written after the live figures: wait for the one that shows the tree.
    wait_for(secs(10), || {
        let h = history(&d, "burn", "since=5m&step=1");
        let shown = points(&h).iter().any(|p| {
            p["cpu_percent"].as_f64().unwrap_or(0.0) > 50.0
                && p["processes"].as_f64().unwrap_or(0.0) >= 2.0
        });
        if shown { Ok(()) } else { Err(h.to_string()) }
    })
    .unwrap_or_else(|e| panic!("no point shows the tree's CPU: {e}"));
}

#[test]
fn max_memory_mb_restarts_after_consecutive_samples() {
    let d = sampled_daemon();
    let script = ALLOCATE_200.replace("200 *", "100 *");
    d.create(&d.service_with(
        "hog",
        json!(["python3", "-c", script]),
        json!({"max_memory_mb": 50}),
    ));
    let events = wait_for(secs(40), || {
        let events = d.events("hog");
        if events
            .iter()
            .any(|e| e["reason"].as_str().unwrap_or("").contains("memory limit"))
            && events.last().is_some_and(|e| e["to"] == "running")
        {
            Ok(events)
        } else {
            Err(tend_tests::describe_events(&events))
        }
    })
    .unwrap_or_else(|e| panic!("no memory-limit restart: {e}"));
    let shown = tend_tests::describe_events(&events);
    let i = events
        .iter()
        .position(|e| e["reason"].as_str().unwrap_or("").contains("memory limit"))
        .unwrap();
    let limit_event = &events[i];
    let reason = limit_event["reason"].as_str().unwrap();
    assert!(
        reason.contains("max_memory_mb 50") && reason.contains("3 consecutive samples"),
        "{reason}"
    );
    assert_eq!(
        (limit_event["from"].as_str(), limit_event["to"].as_str()),
        (Some("running"), Some("stopping")),
        "{shown}"
    );
    // Three samples one second apart: the first run lived at least two intervals.
    let started = events[..i]
        .iter()
        .rev()
        .find(|e| e["to"] == "running")
        .expect("a running event before the restart");
    assert_eq!(started["pid"], limit_event["pid"], "{shown}");
    let lived = tend_tests::rfc3339_ms(limit_event["time"].as_str().unwrap())
        - tend_tests::rfc3339_ms(started["time"].as_str().unwrap());
    assert!(lived >= 1500.0, "restarted after {lived} ms:\n{shown}");
    let next = events[i..]
        .iter()
        .find(|e| e["to"] == "running")
        .expect("running again after the restart");
    assert_ne!(next["pid"], limit_event["pid"], "{shown}");
}

#[test]
fn history_aggregates_by_step_and_tracks_disk_usage() {
    let d = sampled_daemon();
    let dir = d.scratch().join("app");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/blob"), vec![0x5a; 2 << 20]).unwrap();
    d.create(&d.service_with(
        "quiet",
        json!(["sleep", "3600"]),
        json!({"working_dir": dir}),
    ));
    let coarse_before = wait_for(secs(30), || {
        let h = history(&d, "quiet", "since=10m&step=1h");
        if total_samples(&h) >= 4 {
            Ok(h)
        } else {
            Err(h.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("fewer than 4 samples: {e}"));
    let fine = history(&d, "quiet", "since=10m&step=1");
    let coarse_after = history(&d, "quiet", "since=10m&step=1h");
    assert!(points(&coarse_before).len() <= 2, "{coarse_before}");
    assert_eq!(fine["step_s"], 1, "{fine}");
    assert_eq!(coarse_before["step_s"], 3600);
    assert_eq!(fine["interval_s"], 1);
    let n = total_samples(&fine);
    assert!(
        total_samples(&coarse_before) <= n && n <= total_samples(&coarse_after),
        "one step of an hour holds every sample: {coarse_before} / {fine}"
    );
    assert!(points(&fine).iter().all(|p| p["samples"] == 1), "{fine}");
    let point = points(&fine).pop().unwrap();
    assert!(point["time"].as_str().unwrap().ends_with('Z'), "{point}");
    assert!(point["cpu_percent"].as_f64().unwrap() < 50.0, "{point}");

    // The working dir is the default watch_dir: its 2 MiB show up once walked.
    wait_for(secs(20), || {
        let h = history(&d, "quiet", "since=1m&step=1");
        let disk = points(&h)
            .iter()
            .filter_map(|p| p["disk_bytes"].as_u64())
            .max();
        match disk {
            Some(b) if b >= 2 << 20 => Ok(()),
            _ => Err(h.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("disk usage never showed: {e}"));
}

#[test]
fn history_rejects_bad_queries_naming_the_parameter() {
    let d = sampled_daemon();
    d.create(&d.service("q", json!(["sleep", "3600"])));
    for (query, field) in [
        ("since=yesterday", "since"),
        ("since=2999-01-01T00:00:00Z", "since"),
        ("step=0", "step"),
        ("step=fast", "step"),
        ("since=30d&step=1", "step"),
        ("bogus=1", "bogus"),
    ] {
        let (code, body) = d.get(&format!("/api/services/q/metrics?{query}"));
        assert_eq!(code, 422, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (code, body) = d.get("/api/services/nope/metrics");
    assert_eq!(code, 404, "{body}");
    let (code, _) = tend_tests::send(d.request_anonymous(Method::GET, "/api/services/q/metrics"));
    assert_eq!(code, 401);
}

// ---- Prometheus --------------------------------------------------------------------------------

#[derive(Debug, Default)]
pub(crate) struct Family {
    kind: String,
    help: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|e| format!("bad value {s:?}: {e}")),
    }
}

/// `{a="x",b="y"}` (the braces already stripped) -> labels; only `\\`, `\"` and `\n` escapes.
fn parse_labels(mut s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let eq = s.find('=').ok_or(format!("no = in {s:?}"))?;
        let name = &s[..eq];
        if !valid_name(name) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        let rest = s[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value without quote")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {rest:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) => return Err("raw line feed in a label value".into()),
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value {rest:?}")),
            }
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
    Ok(out)
}

/// A strict reader of the text format (0.0.4): every sample belongs to the family declared by the
/// `# TYPE` line before it, families are declared once, histograms are cumulative and end in `+Inf`.
pub(crate) fn parse_exposition(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').ok_or(format!("bad HELP {line:?}"))?;
            if !valid_name(name) {
                return Err(format!("bad family name {name:?}"));
            }
            if families.contains_key(name) {
                return Err(format!("family {name} declared twice"));
            }
            families.insert(
                name.into(),
                Family {
                    help: help.into(),
                    ..Default::default()
                },
            );
            current = Some(name.into());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE {line:?}"))?;
            if current.as_deref() != Some(name) {
                return Err(format!("TYPE {name} without its HELP just before"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("unknown type {kind:?}"));
            }
            families.get_mut(name).unwrap().kind = kind.into();
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let (series, value) = match line.find('{') {
                Some(open) => {
                    let close = line
                        .rfind('}')
                        .ok_or(format!("unclosed labels: {line:?}"))?;
                    let labels = parse_labels(&line[open + 1..close])?;
                    let value = line[close + 1..].trim();
                    ((line[..open].to_string(), labels), value)
                }
                None => {
                    let (n, v) = line.split_once(' ').ok_or(format!("no value: {line:?}"))?;
                    ((n.to_string(), BTreeMap::new()), v)
                }
            };
            let value = parse_value(value.split(' ').next().unwrap_or(""))?;
            let name = current
                .clone()
                .ok_or(format!("sample before any family: {line:?}"))?;
            let fam = families.get_mut(&name).unwrap();
            let ok = match fam.kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| series.0 == format!("{name}{s}")),
                "summary" => ["", "_sum", "_count"]
                    .iter()
                    .any(|s| series.0 == format!("{name}{s}")),
                "" => false,
                _ => series.0 == name,
            };
            if !ok || !valid_name(&series.0) {
                return Err(format!("sample {line:?} does not belong to family {name}"));
            }
            if fam.kind == "counter" && (!name.ends_with("_total") || value < 0.0) {
                return Err(format!("counter {name} misnamed or negative"));
            }
            fam.samples.push((series.0, series.1, value));
        }
    }
    for (name, fam) in &families {
        if fam.kind.is_empty() {
            return Err(format!("family {name} has no TYPE"));
        }
        if fam.kind == "histogram" {
            check_histogram(name, fam)?;
        }
    }
    Ok(families)
}

type Labels = BTreeMap<String, String>;
/// Per label set: (upper bound, cumulative count) of each bucket, and `_count`.
type HistogramSeries = BTreeMap<Labels, (Vec<(f64, f64)>, Option<f64>)>;

fn check_histogram(name: &str, fam: &Family) -> Result<(), String> {
    let mut series = HistogramSeries::new();
    for (sample, labels, value) in &fam.samples {
        let mut labels = labels.clone();
        if sample.ends_with("_bucket") {
            let le = labels
                .remove("le")
                .ok_or(format!("{name}: bucket without le"))?;
            series
                .entry(labels)
                .or_default()
                .0
                .push((parse_value(&le)?, *value));
        } else if sample.ends_with("_count") {
            series.entry(labels).or_default().1 = Some(*value);
        }
    }
    for (labels, (buckets, count)) in series {
        let ordered = buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        let last = buckets
            .last()
            .ok_or(format!("{name}{labels:?}: no buckets"))?;
        if !ordered || last.0 != f64::INFINITY || Some(last.1) != count {
            return Err(format!(
                "{name}{labels:?}: buckets not cumulative up to +Inf = _count"
            ));
        }
    }
    Ok(())
}

fn value_of(f: &BTreeMap<String, Family>, family: &str, label: (&str, &str)) -> Option<f64> {
    f.get(family)?
        .samples
        .iter()
        .find(|(_, l, _)| l.get(label.0).map(String::as_str) == Some(label.1))
        .map(|s| s.2)
}

fn scrape(d: &Daemon) -> (String, String) {
    let resp = d
        .request(Method::GET, "/metrics")
        .send()
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (ct, resp.text().unwrap())
}

#[test]
fn prometheus_output_parses_and_has_every_subject() {
    let d = sampled_daemon();
    // A health check on a closed port makes the tcp probe plugin count calls.
    let port = free_port();
    d.create(&d.service_with(
        "web",
        json!(["sleep", "3600"]),
        json!({"port": port, "health": {"probe": "tcp", "interval_s": 1, "timeout_s": 1, "retries": 1000}}),
    ));
    let families = wait_for(secs(30), || {
        let (ct, text) = scrape(&d);
        if !ct.starts_with("text/plain; version=0.0.4") {
            return Err(format!("content type {ct:?}"));
        }
        let f = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let ready = value_of(&f, "tend_service_memory_bytes", ("service", "web")).is_some()
            && value_of(&f, "tend_plugin_calls_total", ("plugin", "tcp")).is_some_and(|c| c >= 1.0);
        if ready { Ok(f) } else { Err(text) }
    })
    .unwrap_or_else(|e| panic!("the service and plugin series never appeared: {e}"));
    let svc = ("service", "web");
    assert_eq!(value_of(&families, "tend_service_up", svc), Some(1.0));
    assert!(value_of(&families, "tend_service_memory_bytes", svc).unwrap() > 100_000.0);
    for family in [
        "tend_service_cpu_percent",
        "tend_service_cpu_seconds_total",
        "tend_service_processes",
        "tend_service_threads",
        "tend_service_open_fds",
        "tend_service_read_bytes_total",
        "tend_service_write_bytes_total",
        "tend_service_uptime_seconds",
        "tend_service_restarts",
    ] {
        assert!(
            value_of(&families, family, svc).is_some(),
            "{family} has no web series"
        );
    }
    let one = |family: &str| {
        families
            .get(family)
            .and_then(|f| f.samples.first())
            .map(|s| s.2)
    };
    assert!(one("tend_supervisor_memory_bytes").is_some_and(|m| m > MIB));
    assert!(one("tend_supervisor_cpu_seconds_total").is_some_and(|c| c > 0.0));
    assert!(one("tend_metrics_samples_total").is_some_and(|n| n >= 1.0));
    assert_eq!(
        value_of(&families, "tend_supervisor_services", ("status", "running")),
        Some(1.0)
    );
    let latency = &families["tend_plugin_call_duration_seconds"];
    assert_eq!(latency.kind, "histogram");
    assert!(latency.samples.iter().any(|(n, l, v)| n.ends_with("_count")
        && l.get("plugin").map(String::as_str) == Some("tcp")
        && *v >= 1.0));
    for family in [
        "tend_job_cpu_percent",
        "tend_job_memory_bytes",
        "tend_job_cpu_seconds_total",
    ] {
        assert!(families.contains_key(family), "no {family} family");
    }
    assert!(!families["tend_service_cpu_percent"].help.is_empty());
}

#[test]
fn the_prometheus_reader_is_strict() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n";
    let f = parse_exposition(good).unwrap();
    assert_eq!(f["a_total"].samples[0].1["x"], "q\"\\\n");
    for bad in [
        "a 1\n",
        "# HELP a A.\n# TYPE a gauge\nb 1\n",
        "# HELP a A.\n# TYPE a gauge\na{x=\"\\q\"} 1\n",
        "# HELP a A.\n# TYPE a counter\na 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn metrics_endpoint_needs_the_token_unless_public() {
    let d = sampled_daemon();
    let anonymous =
        |d: &Daemon, path: &str| tend_tests::send(d.request_anonymous(Method::GET, path)).0;
    assert_eq!(anonymous(&d, "/metrics"), 401);
    let wrong = d
        .request_anonymous(Method::GET, "/metrics")
        .bearer_auth("not-the-token");
    assert_eq!(tend_tests::send(wrong).0, 401);
    assert!(!scrape(&d).1.is_empty());

    let open = Daemon::builder()
        .config_toml("[metrics]\npublic = true\n")
        .start();
    assert_eq!(anonymous(&open, "/metrics"), 200);
    // Opening /metrics opens nothing else.
    assert_eq!(anonymous(&open, "/api/status"), 401);
    assert_eq!(anonymous(&open, "/api/services/x/metrics"), 401);
}

#[test]
fn a_running_cron_execution_is_sampled_as_a_job() {
    let d = sampled_daemon();
    let job = json!({
        "name": "crunch",
        "command": ["python3", "-c", "b = bytearray(64 << 20); import time; time.sleep(30)"],
        "schedule": "@yearly",
        "env_vars": {MARKER_VAR: d.marker()},
    });
    let (code, body) = d.post("/api/cron", &job);
    assert_eq!(code, 201, "{body}");
    let (code, body) = d.post("/api/cron/crunch/run", &json!({}));
    assert!(code == 200 || code == 202, "{code} {body}");
    let rss = tend_tests::wait_for(secs(15), || {
        let (_, text) = scrape(&d);
        let families = parse_exposition(&text)?;
        match (
            value_of(&families, "tend_job_running", ("cron_job", "crunch")),
            value_of(&families, "tend_job_memory_bytes", ("cron_job", "crunch")),
        ) {
            (Some(running), Some(rss)) if running >= 1.0 && rss > 60.0 * 1048576.0 => Ok(rss),
            other => Err(format!("not sampled yet: {other:?}")),
        }
    })
    .unwrap();
    assert!(
        rss < 200.0 * 1048576.0,
        "RSS {rss} is far above the 64 MiB the job allocates"
    );
    let (code, _) = d.post("/api/cron/crunch/stop", &json!({}));
    assert_eq!(code, 200);
}

/// A sample re-reads only what ran since the previous one (a cgroup's `cpu.stat`, else each process's
/// `schedstat`): a tree that sat idle for several samples is still followed once it wakes, forks and
/// burns CPU, with the per-cgroup shortcut and with the per-process one.
#[test]
fn a_tree_that_sat_idle_is_followed_when_it_wakes() {
    for containment in ["auto", "process"] {
        let d = Daemon::builder()
            .arg("--monitor-interval")
            .arg("1")
            .arg("--containment")
            .arg(containment)
            .start();
        d.create(&d.service("late", "sleep 6; python3 -c 'while True: pass' & wait"));
        // The idle part: the shell and its `sleep`, sampled while neither runs.
        wait_for(secs(30), || {
            let h = history(&d, "late", "since=5m&step=1");
            let idle = points(&h)
                .iter()
                .filter(|p| {
                    p["processes"].as_f64() == Some(2.0)
                        && p["cpu_percent"].as_f64().unwrap_or(100.0) < 20.0
                })
                .count();
            if idle >= 2 {
                Ok(())
            } else {
                Err(h.to_string())
            }
        })
        .unwrap_or_else(|e| panic!("{containment}: no idle samples of the tree: {e}"));
        let state = wait_for(secs(30), || {
            let s = service_status(&d, "late");
            match s["cpu_percent"].as_f64() {
                Some(c) if c > 50.0 => Ok(s),
                _ => Err(s.to_string()),
            }
        })
        .unwrap_or_else(|e| panic!("{containment}: the woken tree's CPU never showed: {e}"));
        assert!(state["memory_mb"].as_f64().unwrap_or(0.0) > 0.0, "{state}");
    }
}

/// The default interval (no flag, variable or `[metrics]` key) is 30 s.
#[test]
fn the_default_sampling_interval_is_30_seconds() {
    let d = Daemon::builder().start();
    d.create(&d.service("idle", json!(["sleep", "3600"])));
    let h = history(&d, "idle", "since=10m");
    assert_eq!(h["interval_s"], 30, "{h}");
}
