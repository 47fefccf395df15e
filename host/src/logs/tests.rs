//! Tests of the whole pipeline and of the store's log functions: real pipes, a real SQLite file.

use std::io::{BufWriter, PipeWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LogHub, LogSettings};
use crate::store::{LogQuery, NewLogLine, RetentionSettings, Store};
use crate::wire::{LogLine, Stream};

struct Fixture {
    _dir: tempfile::TempDir,
    logs_dir: PathBuf,
    store: Store,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tend.db")).await.unwrap();
    Fixture {
        logs_dir: dir.path().join("logs"),
        _dir: dir,
        store,
    }
}

fn settings() -> LogSettings {
    LogSettings {
        max_bytes: 1 << 30,
        ..LogSettings::default()
    }
}

/// A pipe pair as a supervisor hands it over: read ends for the hub, write ends for the "child".
fn pipes() -> (
    (std::os::fd::OwnedFd, PipeWriter),
    (std::os::fd::OwnedFd, PipeWriter),
) {
    let (out_r, out_w) = std::io::pipe().unwrap();
    let (err_r, err_w) = std::io::pipe().unwrap();
    ((out_r.into(), out_w), (err_r.into(), err_w))
}

/// Captures what `child` writes to stdout and stderr (on another thread) until it returns.
async fn run_child(
    hub: &LogHub,
    service: &str,
    child: impl FnOnce(PipeWriter, PipeWriter) + Send + 'static,
) {
    let ((out_r, out_w), (err_r, err_w)) = pipes();
    let capture = hub.capture(service, out_r, err_r);
    let writer = std::thread::spawn(move || child(out_w, err_w));
    capture.finished().await;
    writer.join().unwrap();
}

async fn all_lines(store: &Store, service: &str) -> Vec<LogLine> {
    let mut out = Vec::new();
    let mut q = LogQuery {
        limit: 10_000,
        ..LogQuery::new(service)
    };
    loop {
        let page = store.query_logs(&q).await.unwrap();
        let Some(last) = page.last() else { return out };
        q.after_id = Some(last.id);
        out.extend(page);
    }
}

/// Every file record of the service log, split into (stream marker, text).
fn file_records(logs_dir: &Path, service: &str) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read(logs_dir.join(service).join(format!("{service}.log"))).unwrap();
    parse_records(&text)
}

fn parse_records(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    assert!(text.is_empty() || text.ends_with(b"\n"));
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|b| *b == b'\n')
        .map(|rec| {
            let mut parts = rec.splitn(3, |b| *b == b' ');
            let time = std::str::from_utf8(parts.next().unwrap()).unwrap();
            assert!(
                chrono::DateTime::parse_from_rfc3339(time).is_ok(),
                "bad time {time:?}"
            );
            let marker = String::from_utf8(parts.next().unwrap().to_vec()).unwrap();
            (marker, parts.next().expect("record without text").to_vec())
        })
        .collect()
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // tidy:allow-sleep: poll interval of this file's deadline-bounded wait_until
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_200k_lines_arrives_whole_and_in_order() {
    const N: usize = 200_000;
    let f = fixture().await;
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        settings(),
        RetentionSettings::default(),
    );
    run_child(&hub, "burst", |out, err| {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        for i in 0..N {
            writeln!(out, "line {i:06}").unwrap();
        }
        out.flush().unwrap();
        writeln!(&err, "done").unwrap();
    })
    .await;
    hub.flush().await;

    let records = file_records(&f.logs_dir, "burst");
    let stdout: Vec<&Vec<u8>> = records
        .iter()
        .filter(|(m, _)| m == "stdout")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(stdout.len(), N);
    for (i, text) in stdout.iter().enumerate() {
        assert_eq!(**text, format!("line {i:06}").into_bytes());
    }
    assert_eq!(records.len(), N + 1);
    assert!(records.contains(&("stderr".into(), b"done".to_vec())));

    let lines = all_lines(&f.store, "burst").await;
    assert_eq!(lines.len(), N + 1);
    assert!(lines.windows(2).all(|w| w[0].id < w[1].id));
    let stdout: Vec<&LogLine> = lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .collect();
    assert_eq!(stdout.len(), N);
    for (i, l) in stdout.iter().enumerate() {
        assert_eq!(l.line, format!("line {i:06}"));
        assert!(!l.partial);
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn long_crlf_binary_and_unterminated_lines() {
    let f = fixture().await;
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        LogSettings {
            max_line_bytes: 8,
            ..settings()
        },
        RetentionSettings::default(),
    );
    run_child(&hub, "odd", |out, err| {
        (&out)
            .write_all(b"0123456789abcdefXY\r\nshort\r\n\xff\xfebin\n")
            .unwrap();
        (&err).write_all(b"no newline at the end").unwrap();
    })
    .await;
    hub.flush().await;

    let records = file_records(&f.logs_dir, "odd");
    let out: Vec<_> = records
        .iter()
        .filter(|(m, _)| m.starts_with("stdout"))
        .cloned()
        .collect();
    let expected = [
        ("stdout+", &b"01234567"[..]),
        ("stdout+", b"89abcdef"),
        ("stdout", b"XY"),
        ("stdout", b"short"),
        ("stdout", b"\xff\xfebin"),
    ];
    assert_eq!(out, expected.map(|(m, t)| (m.to_string(), t.to_vec())));
    let err: Vec<_> = records
        .iter()
        .filter(|(m, _)| m.starts_with("stderr"))
        .cloned()
        .collect();
    let expected = [
        ("stderr+", "no newli"),
        ("stderr+", "ne at th"),
        ("stderr", "e end"),
    ];
    assert_eq!(
        err,
        expected.map(|(m, t)| (m.to_string(), t.as_bytes().to_vec()))
    );

    let lines = all_lines(&f.store, "odd").await;
    let db_out: Vec<(String, bool)> = lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .map(|l| (l.line.clone(), l.partial))
        .collect();
    assert_eq!(
        db_out,
        [
            ("01234567".to_string(), true),
            ("89abcdef".to_string(), true),
            ("XY".to_string(), false),
            ("short".to_string(), false),
            ("\u{fffd}\u{fffd}bin".to_string(), false),
        ]
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn lines_show_up_live_while_the_pipe_stays_open() {
    let f = fixture().await;
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        settings(),
        RetentionSettings::default(),
    );
    let mut live = hub.subscribe();
    let ((out_r, out_w), (err_r, err_w)) = pipes();
    let capture = hub.capture("live", out_r, err_r);
    (&out_w).write_all(b"one\ntwo\n").unwrap();
    (&err_w).write_all(b"oops\n").unwrap();

    // The file is flushed as soon as the pipe runs dry, without any flush() call.
    let path = f.logs_dir.join("live").join("live.log");
    wait_until("lines in the file", || {
        let path = path.clone();
        async move {
            std::fs::read(&path)
                .map(|t| parse_records(&t).len() == 3)
                .unwrap_or(false)
        }
    })
    .await;
    hub.flush().await;
    let stored = all_lines(&f.store, "live").await;
    assert_eq!(stored.len(), 3);

    let mut got = Vec::new();
    while got.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(10), live.recv())
            .await
            .unwrap()
            .unwrap();
        got.push((*line).clone());
    }
    got.sort_by_key(|l| l.id);
    assert_eq!(got, stored);

    drop((out_w, err_w));
    capture.finished().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn restarts_append_and_rotation_keeps_backup_count_files() {
    let f = fixture().await;
    let settings = LogSettings {
        max_bytes: 4096,
        backup_count: 2,
        ..LogSettings::default()
    };
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        settings,
        RetentionSettings::default(),
    );
    for run in 0..3 {
        run_child(&hub, "rot", move |out, _err| {
            let mut out = BufWriter::new(out);
            for i in 0..200 {
                writeln!(out, "run {run} line {i:03}").unwrap();
            }
        })
        .await;
    }
    hub.flush().await;
    let dir = f.logs_dir.join("rot");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["rot.log", "rot.log.1", "rot.log.2"]);
    for name in &names {
        assert!(std::fs::metadata(dir.join(name)).unwrap().len() <= 4096);
    }
    let newest = file_records(&f.logs_dir, "rot");
    assert_eq!(newest.last().unwrap().1, b"run 2 line 199");
    // Files are contiguous: .log.1 ends right before .log starts.
    let older = parse_records(&std::fs::read(dir.join("rot.log.1")).unwrap());
    let number = |t: &[u8]| -> (u32, u32) {
        let t = std::str::from_utf8(t).unwrap();
        let v: Vec<u32> = t.split(' ').filter_map(|w| w.parse().ok()).collect();
        (v[0], v[1])
    };
    let (r1, l1) = number(&older.last().unwrap().1);
    let (r0, l0) = number(&newest[0].1);
    assert!((r0, l0) == (r1, l1 + 1) || (r0 == r1 + 1 && l0 == 0 && l1 == 199));
    // The database has everything.
    assert_eq!(all_lines(&f.store, "rot").await.len(), 600);
    hub.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_tasks_and_later_captures_still_reach_the_file() {
    let f = fixture().await;
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        settings(),
        RetentionSettings::default(),
    );
    run_child(&hub, "s", |out, _| writeln!(&out, "before").unwrap()).await;
    hub.shutdown().await;
    run_child(&hub, "s", |out, _| writeln!(&out, "after").unwrap()).await;
    hub.flush().await; // must not hang
    let lines: Vec<String> = all_lines(&f.store, "s")
        .await
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, ["before"]);
    let texts: Vec<Vec<u8>> = file_records(&f.logs_dir, "s")
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(texts, [b"before".to_vec(), b"after".to_vec()]);
}

fn new_line(service: &str, stream: Stream, time: &str, line: &str) -> NewLogLine {
    NewLogLine {
        service: service.into(),
        stream,
        time: time.into(),
        line: line.into(),
        partial: false,
    }
}

#[tokio::test]
async fn insert_logs_returns_ids_in_order_for_odd_sizes() {
    let f = fixture().await;
    let rows: Vec<NewLogLine> = (0..4099)
        .map(|i| {
            new_line(
                "a",
                Stream::Stdout,
                "2024-01-01T00:00:00.000000Z",
                &i.to_string(),
            )
        })
        .collect();
    let stored = f.store.insert_logs(&rows).await.unwrap();
    assert_eq!(stored.len(), rows.len());
    for (i, l) in stored.iter().enumerate() {
        assert_eq!(l.line, i.to_string());
        assert_eq!(l.id, stored[0].id + i as i64);
    }
    assert_eq!(all_lines(&f.store, "a").await, stored);
    assert!(f.store.insert_logs(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn query_logs_filters_tail_and_pages() {
    let f = fixture().await;
    let t = |s: u32| format!("2024-01-01T00:00:{s:02}.000000Z");
    let mut rows = Vec::new();
    for i in 0..10u32 {
        let stream = if i % 2 == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        rows.push(new_line("svc", stream, &t(i), &format!("l{i}")));
        rows.push(new_line("other", stream, &t(i), &format!("o{i}")));
    }
    let stored = f.store.insert_logs(&rows).await.unwrap();
    let texts = async |q: LogQuery| -> Vec<String> {
        f.store
            .query_logs(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect()
    };
    let svc = || LogQuery::new("svc");

    let all = texts(svc()).await;
    assert_eq!(all, (0..10).map(|i| format!("l{i}")).collect::<Vec<_>>());
    assert_eq!(
        texts(LogQuery {
            tail: Some(3),
            ..svc()
        })
        .await,
        ["l7", "l8", "l9"]
    );
    let tail_err = LogQuery {
        tail: Some(2),
        stream: Some(Stream::Stderr),
        ..svc()
    };
    assert_eq!(texts(tail_err).await, ["l7", "l9"]);
    let page = LogQuery {
        after_id: Some(stored[5].id), // "o2"
        limit: 2,
        ..svc()
    };
    assert_eq!(texts(page).await, ["l3", "l4"]);
    let older = LogQuery {
        before_id: Some(stored[9].id), // "o4": l0..l4 are before it
        tail: Some(2),
        ..svc()
    };
    assert_eq!(texts(older).await, ["l3", "l4"]);
    let since = LogQuery {
        // Another offset and no fraction: compared in the stored form.
        since: Some("2024-01-01T01:00:07+01:00".into()),
        stream: Some(Stream::Stdout),
        ..svc()
    };
    assert_eq!(texts(since).await, ["l8"]);
    let since_tail = LogQuery {
        since: Some(t(2)),
        tail: Some(100),
        limit: 1, // tail ignores limit
        ..svc()
    };
    assert_eq!(texts(since_tail).await.len(), 8);
    let none = f.store.query_logs(&LogQuery::new("missing")).await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn prune_logs_deletes_only_older_lines() {
    let f = fixture().await;
    let rows: Vec<NewLogLine> = (0..12_000)
        .map(|i| {
            let time = if i < 11_000 {
                "2020-01-01T00:00:00.000000Z"
            } else {
                "2030-01-01T00:00:00.000000Z"
            };
            new_line("p", Stream::Stdout, time, &i.to_string())
        })
        .collect();
    f.store.insert_logs(&rows).await.unwrap();
    assert_eq!(
        f.store.prune_logs("2025-01-01T00:00:00Z").await.unwrap(),
        11_000
    );
    assert_eq!(f.store.prune_logs("2025-01-01T00:00:00Z").await.unwrap(), 0);
    let left = all_lines(&f.store, "p").await;
    assert_eq!(left.len(), 1000);
    assert_eq!(left[0].line, "11000");
}

#[tokio::test]
async fn retention_task_prunes_at_start() {
    let f = fixture().await;
    f.store
        .insert_logs(&[
            new_line(
                "r",
                Stream::Stdout,
                "2000-01-01T00:00:00.000000Z",
                "ancient",
            ),
            new_line("r", Stream::Stdout, &crate::store::now_rfc3339(), "fresh"),
        ])
        .await
        .unwrap();
    let hub = LogHub::start(
        f.store.clone(),
        f.logs_dir.clone(),
        settings(),
        RetentionSettings::default(),
    );
    let store = f.store.clone();
    wait_until("old lines pruned", || {
        let store = store.clone();
        async move { all_lines(&store, "r").await.len() == 1 }
    })
    .await;
    assert_eq!(all_lines(&f.store, "r").await[0].line, "fresh");
    hub.shutdown().await;
}
