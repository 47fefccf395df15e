//! Service output: completeness and order under load, streams, rotation, over-long lines, and the
//! live follow stream. Checked through the API and in the log files themselves.

use std::path::Path;

use tend_tests::{Daemon, Sse, Value, json, secs, wait_for};

/// One record of a service log file: `<time> <stream>[+] <text>`.
#[derive(Debug, PartialEq)]
struct FileLine {
    stream: String,
    partial: bool,
    text: String,
}

fn parse_file_line(raw: &str) -> FileLine {
    let mut parts = raw.splitn(3, ' ');
    let time = parts.next().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "log record without an RFC 3339 time: {raw:?}"
    );
    let marker = parts
        .next()
        .unwrap_or_else(|| panic!("log record without a stream: {raw:?}"));
    let (stream, partial) = match marker.strip_suffix('+') {
        Some(s) => (s, true),
        None => (marker, false),
    };
    assert!(
        stream == "stdout" || stream == "stderr",
        "bad stream in {raw:?}"
    );
    FileLine {
        stream: stream.into(),
        partial,
        text: parts.next().unwrap_or_default().into(),
    }
}

/// Log files of a service, oldest first: `<svc>.log.N` ... `<svc>.log.1`, `<svc>.log`.
fn log_files(data_dir: &Path, svc: &str) -> Vec<std::path::PathBuf> {
    let dir = data_dir.join("logs").join(svc);
    let mut rotated: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix(&format!("{svc}.log."))?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut files: Vec<_> = rotated.into_iter().map(|(_, p)| p).collect();
    files.push(dir.join(format!("{svc}.log")));
    files
}

fn read_records(path: &Path) -> Vec<FileLine> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(parse_file_line).collect()
}

fn all_records(data_dir: &Path, svc: &str) -> Vec<FileLine> {
    log_files(data_dir, svc)
        .iter()
        .flat_map(|p| read_records(p))
        .collect()
}

/// Waits until the last record of the live log file has `text` (files may be flushed after the API).
fn wait_file_ends_with(data_dir: &Path, svc: &str, text: &str) {
    let live = data_dir.join("logs").join(svc).join(format!("{svc}.log"));
    wait_for(secs(30), || {
        let content = std::fs::read_to_string(&live).map_err(|e| e.to_string())?;
        let last = content.lines().last().map(parse_file_line);
        match last {
            Some(l) if l.text == text && content.ends_with('\n') => Ok(()),
            other => Err(format!("last record {other:?}")),
        }
    })
    .unwrap();
}

fn texts(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| {
            l["line"]
                .as_str()
                .unwrap_or_else(|| panic!("no line text: {l}"))
        })
        .collect()
}

fn is_partial(l: &Value) -> bool {
    l.get("partial").and_then(Value::as_bool).unwrap_or(false)
}

/// Panics at the first index where `got` is not the numbers 1..=n.
fn assert_counts_up(got: &[&str], n: usize, what: &str) {
    assert_eq!(got.len(), n, "{what}: {} lines instead of {n}", got.len());
    for (i, text) in got.iter().enumerate() {
        assert_eq!(
            *text,
            (i + 1).to_string(),
            "{what}: line {} is {text:?} (neighbours {:?})",
            i + 1,
            &got[i.saturating_sub(2)..(i + 3).min(n)]
        );
    }
}

#[test]
fn two_hundred_thousand_lines_arrive_complete_and_in_order() {
    const N: usize = 200_000;
    let d = Daemon::start();
    d.create(&d.service_with(
        "counter",
        json!(["seq", "1", "200000"]),
        json!({"restart": "never"}),
    ));
    d.wait_status("counter", "exited", secs(60));
    wait_for(secs(60), || match d.tail_text("counter", 1).as_slice() {
        [last] if last == "200000" => Ok(()),
        other => Err(format!("tail {other:?}")),
    })
    .unwrap();

    let lines = d.all_logs("counter");
    assert_counts_up(&texts(&lines), N, "API");
    assert!(
        lines
            .iter()
            .all(|l| l["stream"] == "stdout" && !is_partial(l) && l["service"] == "counter")
    );
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "log ids are not ascending"
    );

    wait_file_ends_with(d.data_dir(), "counter", "200000");
    let records = all_records(d.data_dir(), "counter");
    let file_texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    assert_counts_up(&file_texts, N, "log files");
    assert!(records.iter().all(|r| r.stream == "stdout" && !r.partial));
}

#[test]
fn stderr_lines_are_tagged_and_filterable() {
    let d = Daemon::start();
    let script = "echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2";
    d.create(&d.service_with("mixed", script, json!({"restart": "never"})));
    d.wait_status("mixed", "exited", secs(10));
    let lines = wait_for(secs(10), || {
        let lines = d.all_logs("mixed");
        if lines.len() >= 4 {
            Ok(lines)
        } else {
            Err(format!("{lines:?}"))
        }
    })
    .unwrap();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for l in &lines {
        let text = l["line"].as_str().unwrap();
        let want = if text.starts_with("err") {
            "stderr"
        } else {
            "stdout"
        };
        assert_eq!(l["stream"], want, "{l}");
    }

    let err_only = d.all_logs_query("mixed", "&stream=stderr");
    assert_eq!(texts(&err_only), ["err-1", "err-2"]);
    let (code, tail) = d.get("/api/services/mixed/logs?tail=1&stream=stdout");
    assert_eq!(code, 200, "{tail}");
    assert_eq!(texts(tail["lines"].as_array().unwrap()), ["out-2"]);

    wait_for(secs(10), || {
        let records = all_records(d.data_dir(), "mixed");
        if records.len() == 4 {
            Ok(())
        } else {
            Err(format!("{records:?}"))
        }
    })
    .unwrap();
    let records = all_records(d.data_dir(), "mixed");
    for want in ["err-1", "err-2"] {
        let r = records
            .iter()
            .find(|r| r.text == want)
            .unwrap_or_else(|| panic!("{want} not in the file"));
        assert_eq!(r.stream, "stderr", "{r:?}");
    }
    for want in ["out-1", "out-2"] {
        let r = records
            .iter()
            .find(|r| r.text == want)
            .unwrap_or_else(|| panic!("{want} not in the file"));
        assert_eq!(r.stream, "stdout", "{r:?}");
    }
}

#[test]
fn rotation_keeps_backup_count_files_with_the_newest_lines_live() {
    const N: usize = 10_000;
    let d = Daemon::builder()
        .arg("--log-max-bytes")
        .arg("20000")
        .arg("--log-backup-count")
        .arg("3")
        .start();
    let script = format!(
        "import sys\nfor i in range(1, {}):\n    sys.stdout.write('%06d ' % i + 'x' * 93 + '\\n')\n",
        N + 1
    );
    d.create(&d.service_with(
        "rot",
        json!(["python3", "-c", script]),
        json!({"restart": "never"}),
    ));
    d.wait_status("rot", "exited", secs(30));
    let last = format!("{N:06} {}", "x".repeat(93));
    wait_file_ends_with(d.data_dir(), "rot", &last);

    let dir = d.data_dir().join("logs").join("rot");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["rot.log", "rot.log.1", "rot.log.2", "rot.log.3"]);

    let files = log_files(d.data_dir(), "rot");
    for f in &files[..3] {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(
            (19_800..=40_000).contains(&size),
            "{} has {size} bytes for --log-max-bytes 20000",
            f.display()
        );
    }
    // Oldest to newest, the kept files hold one unbroken run of lines ending with the last one.
    let numbers: Vec<usize> = files
        .iter()
        .flat_map(|f| read_records(f))
        .map(|r| {
            r.text[..6]
                .parse()
                .unwrap_or_else(|_| panic!("bad record {r:?}"))
        })
        .collect();
    assert_eq!(*numbers.last().unwrap(), N);
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "kept files are not one contiguous run"
    );
    assert!(numbers[0] > 1, "old lines should have been rotated away");
}

/// The same deterministic text the Python child prints.
fn long_text(n: usize) -> String {
    (0..n)
        .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
        .collect()
}

#[test]
fn an_overlong_line_comes_back_in_pieces() {
    const LEN: usize = 100_000;
    let d = Daemon::start();
    let script = format!(
        "import sys\nsys.stdout.write(''.join(chr(97 + (i * 7 + i // 26) % 26) for i in range({LEN})) + '\\n')\nprint('after')\n"
    );
    d.create(&d.service_with(
        "long",
        json!(["python3", "-c", script]),
        json!({"restart": "never"}),
    ));
    let lines = wait_for(secs(20), || {
        let lines = d.all_logs("long");
        if lines.last().is_some_and(|l| l["line"] == "after") {
            Ok(lines)
        } else {
            Err(format!("{} lines", lines.len()))
        }
    })
    .unwrap();
    let (after, pieces) = lines.split_last().unwrap();
    assert!(!is_partial(after), "{after}");
    assert!(
        pieces.len() >= LEN.div_ceil(16 * 1024),
        "only {} pieces",
        pieces.len()
    );
    let (last, rest) = pieces.split_last().unwrap();
    assert!(
        rest.iter().all(is_partial),
        "all pieces but the last are partial"
    );
    assert!(
        !is_partial(last),
        "the last piece is not partial: {}",
        &last.to_string()[..200]
    );
    for p in pieces {
        assert!(
            p["line"].as_str().unwrap().len() <= 16 * 1024,
            "a piece is longer than 16 KiB"
        );
    }
    let joined: String = texts(pieces).concat();
    assert!(
        joined == long_text(LEN),
        "the pieces do not concatenate to the original line"
    );

    wait_file_ends_with(d.data_dir(), "long", "after");
    let records = all_records(d.data_dir(), "long");
    let (_, file_pieces) = records.split_last().unwrap();
    assert_eq!(
        file_pieces.len(),
        pieces.len(),
        "the file splits the line like the API"
    );
    let (last, rest) = file_pieces.split_last().unwrap();
    assert!(
        rest.iter().all(|r| r.partial) && !last.partial,
        "`stdout+` marks all pieces but the last"
    );
    let joined: String = file_pieces.iter().map(|r| r.text.as_str()).collect();
    assert!(
        joined == long_text(LEN),
        "the file's pieces do not concatenate to the original line"
    );
}

#[test]
fn follow_streams_history_then_new_lines() {
    let d = Daemon::start();
    let trigger = d.scratch().join("trigger");
    let script = r#"echo before-1; echo before-2; while [ ! -e "$TRIGGER" ]; do sleep 0.02; done; echo after-trigger; exec sleep 1000"#;
    d.create(&d.service_with("follower", script, json!({"env": {"TRIGGER": trigger}})));
    wait_for(secs(10), || {
        let tail = d.tail_text("follower", 10);
        if tail.iter().any(|l| l == "before-2") {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();

    let sse = d.sse("/api/services/follower/logs/follow");
    let history = sse
        .wait_for(secs(10), |ev| ev.json()["line"] == "before-2")
        .unwrap();
    assert_eq!(history.event, "log", "{history:?}");
    std::fs::write(&trigger, "").unwrap();
    let live = sse
        .wait_for(secs(10), |ev| ev.json()["line"] == "after-trigger")
        .unwrap();
    assert_eq!(live.event, "log", "{live:?}");
    let data = live.json();
    assert_eq!(
        live.id.as_deref(),
        Some(data["id"].to_string().as_str()),
        "SSE id is the line id"
    );
    assert_eq!(data["stream"], "stdout");
    assert_eq!(data["service"], "follower");
    assert!(data["id"].as_i64() > history.json()["id"].as_i64());
}

#[test]
fn since_and_follow_tail_select_lines() {
    let d = Daemon::start();
    let trigger = d.scratch().join("trigger");
    let script = r#"echo early-1; echo early-2; echo early-3; while [ ! -e "$TRIGGER" ]; do sleep 0.02; done; echo late; exec sleep 1000"#;
    d.create(&d.service_with("timed", script, json!({"env": {"TRIGGER": trigger}})));
    wait_for(secs(10), || {
        let tail = d.tail_text("timed", 10);
        if tail.len() == 3 {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();
    let early = d.all_logs("timed");
    let cut = early.last().unwrap()["time"].as_str().unwrap().to_string();
    std::fs::write(&trigger, "").unwrap();
    wait_for(secs(10), || {
        let tail = d.tail_text("timed", 1);
        if tail == ["late"] {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();

    // One microsecond after the early lines (read together, they may share a timestamp).
    let cut =
        chrono::DateTime::parse_from_rfc3339(&cut).unwrap() + chrono::Duration::microseconds(1);
    let cut = cut.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let since = d.all_logs_query("timed", &format!("&since={cut}"));
    assert_eq!(texts(&since), ["late"], "since={cut}");
    let (code, body) = d.get(&format!("/api/services/timed/logs?tail=10&since={cut}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        texts(body["lines"].as_array().unwrap()),
        ["late"],
        "tail with since={cut}"
    );

    let sse = d.sse("/api/services/timed/logs/follow?tail=2");
    let first = sse.next(secs(10)).expect("history");
    let second = sse.next(secs(10)).expect("history");
    assert_eq!(
        [first.json()["line"].clone(), second.json()["line"].clone()],
        [json!("early-3"), json!("late")],
        "tail=2 replays the last two lines"
    );
}

/// A follower that falls far behind a burst (its client reads nothing until the burst is stored, so
/// the daemon's live feed overflows for it) still gets every line exactly once and in order: it reads
/// what it missed from the store, page after page, before it rejoins the live feed.
#[test]
fn a_slow_follower_gets_every_line_of_a_burst_once_in_order() {
    const N: usize = 100_000;
    let d = Daemon::start();
    let trigger = d.scratch().join("trigger");
    // Lines of ~200 bytes, so the connection's buffers hold only part of the burst.
    let script = format!(
        r#"echo ready; while [ ! -e "$TRIGGER" ]; do sleep 0.02; done; awk 'BEGIN {{ p = sprintf("%190s", ""); gsub(/ /, "x", p); for (i = 1; i <= {N}; i++) print i, p }}'; exec sleep 1000"#
    );
    d.create(&d.service_with("burst", script, json!({"env": {"TRIGGER": trigger}})));
    wait_for(secs(10), || match d.tail_text("burst", 1).as_slice() {
        [l] if l == "ready" => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .unwrap();

    // Opened now, read only after the whole burst is stored.
    let resp = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{}/api/services/burst/logs/follow", d.url()))
        .bearer_auth(d.token())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    std::fs::write(&trigger, "").unwrap();
    wait_for(secs(120), || {
        let tail = d.tail_text("burst", 1);
        match tail.first() {
            Some(l) if l.starts_with(&format!("{N} ")) => Ok(()),
            _ => Err(format!("{:?}", tail.first().map(|l| &l[..l.len().min(12)]))),
        }
    })
    .unwrap();

    let sse = Sse::from_response(resp);
    sse.wait_for(secs(10), |ev| ev.json()["line"] == "ready")
        .unwrap();
    let mut last_id = 0;
    for want in 1..=N {
        let ev = sse
            .next(secs(30))
            .unwrap_or_else(|| panic!("no line after line {}", want - 1));
        let data = ev.json();
        let line = data["line"].as_str().unwrap_or_default();
        let got = line.split(' ').next().unwrap_or_default();
        assert_eq!(
            got,
            want.to_string(),
            "line {want} expected, got {:?} (id {})",
            &line[..line.len().min(12)],
            data["id"]
        );
        let id = data["id"].as_i64().unwrap();
        assert!(id > last_id, "ids in order: {id} after {last_id}");
        last_id = id;
    }
}

/// A burst from a real child: numbered lines, one line longer than a read (it comes back in 16 KiB
/// pieces) and a last line without a newline. The log file and the API (paging forwards and
/// backwards) hold the same lines in the same order, under consecutive ids.
#[test]
fn a_burst_with_long_and_unterminated_lines_pages_back_complete() {
    const N: usize = 30_000;
    const LONG_AT: usize = 10_000;
    const LONG: usize = 300_000;
    const PIECE: usize = 16 * 1024;
    let d = Daemon::start();
    let script = format!(
        "import sys\n\
         long = ''.join(chr(97 + (i * 7 + i // 26) % 26) for i in range({LONG}))\n\
         sys.stdout.write(''.join((long if n == {LONG_AT} else str(n)) + '\\n' for n in range(1, {N} + 1)) + 'end')\n"
    );
    d.create(&d.service_with(
        "burst",
        json!(["python3", "-c", script]),
        json!({"restart": "never"}),
    ));
    d.wait_status("burst", "exited", secs(60));
    wait_for(secs(60), || match d.tail_text("burst", 1).as_slice() {
        [last] if last == "end" => Ok(()),
        other => Err(format!("tail {other:?}")),
    })
    .unwrap();

    let mut expected: Vec<(String, bool)> = Vec::new();
    for n in 1..=N {
        if n == LONG_AT {
            let long = long_text(LONG);
            let pieces: Vec<&str> = (0..LONG)
                .step_by(PIECE)
                .map(|i| &long[i..(i + PIECE).min(LONG)])
                .collect();
            for (i, p) in pieces.iter().enumerate() {
                expected.push((p.to_string(), i + 1 < pieces.len()));
            }
        } else {
            expected.push((n.to_string(), false));
        }
    }
    expected.push(("end".into(), false));

    let forward = d.all_logs("burst");
    let got: Vec<(String, bool)> = forward
        .iter()
        .map(|l| (l["line"].as_str().unwrap().to_string(), is_partial(l)))
        .collect();
    assert_eq!(got.len(), expected.len(), "lines through the API");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
        panic!(
            "API line {i} differs: {:.60?} instead of {:.60?}",
            got[i], expected[i]
        );
    }
    let ids: Vec<i64> = forward.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "log ids are not consecutive"
    );

    // Backwards: `tail`, then `before_id` pages, until no older page is announced.
    let mut back: Vec<Value> = Vec::new();
    let mut path = "/api/services/burst/logs?tail=7000".to_string();
    loop {
        let (status, body) = d.get(&path);
        assert_eq!(status, 200, "{body}");
        let mut page = body["lines"].as_array().cloned().unwrap();
        page.append(&mut back);
        back = page;
        match body["next_before_id"].as_i64() {
            Some(id) => path = format!("/api/services/burst/logs?before_id={id}&limit=7000"),
            None => break,
        }
    }
    assert!(back == forward, "paging backwards gives other lines");

    wait_file_ends_with(d.data_dir(), "burst", "end");
    let records = all_records(d.data_dir(), "burst");
    let in_file: Vec<(String, bool)> = records.into_iter().map(|r| (r.text, r.partial)).collect();
    assert!(in_file == expected, "the file holds other lines");
}
