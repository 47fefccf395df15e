//! Tests of log lines stored in chunks (`logs.rs`, migration `0018_log_chunks.sql`): reads that cross
//! chunk boundaries, filters inside a chunk, pruning whole chunks, rows cut at `MAX_CHUNK_LINES`, and
//! the migration of per-line rows into chunks with the same ids and text.

use std::borrow::Cow;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::logs::{LogQuery, MAX_CHUNK_LINES, NewLogChunk};
use super::{NewLogLine, Store};
use crate::wire::{LogLine, Stream};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tend.db")).await.unwrap();
    (dir, store)
}

fn chunk(
    service: &str,
    stream: Stream,
    time: &str,
    lines: &[&str],
    partials: &[u32],
) -> NewLogChunk {
    NewLogChunk {
        service: service.into(),
        stream,
        time: time.into(),
        text: lines.iter().map(|l| format!("{l}\n")).collect(),
        lines: lines.len() as u32,
        partials: partials.to_vec(),
    }
}

const T1: &str = "2024-01-01T00:00:01.000000Z";
const T2: &str = "2024-01-01T00:00:02.000000Z";
const T3: &str = "2024-01-01T00:00:03.000000Z";

async fn texts(store: &Store, q: LogQuery) -> Vec<String> {
    store
        .query_logs(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Three chunks of "svc" (five lines each) with chunks of "other" between them.
async fn three_chunks(store: &Store) -> Vec<i64> {
    let names = |c: char| (0..5).map(move |i| format!("{c}{i}")).collect::<Vec<_>>();
    let (a, b, c) = (names('a'), names('b'), names('c'));
    store
        .insert_log_chunks(&[
            chunk("svc", Stream::Stdout, T1, &refs(&a), &[]),
            chunk("other", Stream::Stdout, T1, &["x"], &[]),
            chunk("svc", Stream::Stderr, T2, &refs(&b), &[1]),
            chunk("other", Stream::Stdout, T2, &["y", "z"], &[]),
            chunk("svc", Stream::Stdout, T3, &refs(&c), &[]),
        ])
        .await
        .unwrap()
}

fn all_svc() -> Vec<String> {
    ['a', 'b', 'c']
        .iter()
        .flat_map(|c| (0..5).map(move |i| format!("{c}{i}")))
        .collect()
}

#[tokio::test]
async fn ids_are_consecutive_within_and_ascend_across_chunks() {
    let (_dir, store) = store().await;
    let firsts = three_chunks(&store).await;
    assert_eq!(firsts[1], firsts[0] + 5);
    assert_eq!(firsts[2], firsts[1] + 1);
    assert_eq!(firsts[4], firsts[3] + 2);
    let lines = store
        .query_logs(&LogQuery {
            limit: 100,
            ..LogQuery::new("svc")
        })
        .await
        .unwrap();
    let ids: Vec<i64> = lines.iter().map(|l| l.id).collect();
    let expected: Vec<i64> = (0..5)
        .map(|i| firsts[0] + i)
        .chain((0..5).map(|i| firsts[2] + i))
        .chain((0..5).map(|i| firsts[4] + i))
        .collect();
    assert_eq!(ids, expected);
    let partial: Vec<&str> = lines
        .iter()
        .filter(|l| l.partial)
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(partial, ["b1"]);
    assert_eq!(lines[5].stream, Stream::Stderr);
    assert_eq!(lines[5].time, T2);
}

#[tokio::test]
async fn paging_crosses_chunk_boundaries_both_ways() {
    let (_dir, store) = store().await;
    three_chunks(&store).await;
    // Forwards, 4 at a time (pages end inside chunks and on their boundaries).
    let mut seen: Vec<LogLine> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .query_logs(&LogQuery {
                after_id: after,
                limit: 4,
                ..LogQuery::new("svc")
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page);
    }
    let forward: Vec<String> = seen.iter().map(|l| l.line.clone()).collect();
    assert_eq!(forward, all_svc());
    // Backwards from the end, 3 at a time.
    let mut back: Vec<LogLine> = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .query_logs(&LogQuery {
                before_id: before,
                tail: Some(3),
                ..LogQuery::new("svc")
            })
            .await
            .unwrap();
        let Some(first) = page.first() else { break };
        before = Some(first.id);
        back.splice(0..0, page);
    }
    assert_eq!(back, seen);
    // Both bounds, each inside a chunk.
    let between = LogQuery {
        after_id: Some(seen[3].id),
        before_id: Some(seen[11].id),
        ..LogQuery::new("svc")
    };
    assert_eq!(
        texts(&store, between).await,
        ["a4", "b0", "b1", "b2", "b3", "b4", "c0"]
    );
}

#[tokio::test]
async fn tail_spans_chunks() {
    let (_dir, store) = store().await;
    three_chunks(&store).await;
    let tail = |n| LogQuery {
        tail: Some(n),
        ..LogQuery::new("svc")
    };
    assert_eq!(
        texts(&store, tail(7)).await,
        ["b3", "b4", "c0", "c1", "c2", "c3", "c4"]
    );
    assert_eq!(texts(&store, tail(100)).await, all_svc());
    assert!(texts(&store, tail(0)).await.is_empty());
    let limit0 = LogQuery {
        limit: 0,
        ..LogQuery::new("svc")
    };
    assert!(texts(&store, limit0).await.is_empty());
}

#[tokio::test]
async fn stream_and_since_filters_inside_a_chunk() {
    let (_dir, store) = store().await;
    let firsts = three_chunks(&store).await;
    let stdout_after = LogQuery {
        stream: Some(Stream::Stdout),
        after_id: Some(firsts[0] + 2),
        limit: 4,
        ..LogQuery::new("svc")
    };
    assert_eq!(texts(&store, stdout_after).await, ["a3", "a4", "c0", "c1"]);
    let stderr_before = LogQuery {
        stream: Some(Stream::Stderr),
        before_id: Some(firsts[2] + 3),
        tail: Some(10),
        ..LogQuery::new("svc")
    };
    assert_eq!(texts(&store, stderr_before).await, ["b0", "b1", "b2"]);
    let since = LogQuery {
        since: Some(T2.into()),
        after_id: Some(firsts[2] + 3),
        ..LogQuery::new("svc")
    };
    assert_eq!(
        texts(&store, since).await,
        ["b4", "c0", "c1", "c2", "c3", "c4"]
    );
    let since_tail = LogQuery {
        since: Some("2024-01-01T01:00:02+01:00".into()),
        stream: Some(Stream::Stderr),
        tail: Some(2),
        ..LogQuery::new("svc")
    };
    assert_eq!(texts(&store, since_tail).await, ["b3", "b4"]);
}

#[tokio::test]
async fn prune_removes_whole_chunks_only_when_older() {
    let (_dir, store) = store().await;
    three_chunks(&store).await;
    // A cutoff equal to a chunk's time keeps it: only lines strictly older go.
    assert_eq!(store.prune_logs(T1).await.unwrap(), 0);
    assert_eq!(store.prune_logs(T2).await.unwrap(), 5 + 1);
    assert_eq!(
        texts(&store, LogQuery::new("svc")).await,
        all_svc()[5..].to_vec()
    );
    assert_eq!(texts(&store, LogQuery::new("other")).await, ["y", "z"]);
    // insert_logs cuts chunks where the time changes, so a cutoff between two lines of one insert
    // (one batch) prunes exactly the older ones.
    let line = |t: &str, s: &str| NewLogLine {
        service: "mix".into(),
        stream: Stream::Stdout,
        time: t.into(),
        line: s.into(),
        partial: false,
    };
    store
        .insert_logs(&[line(T1, "old1"), line(T1, "old2"), line(T3, "new")])
        .await
        .unwrap();
    // Also the T2 chunks of svc (5) and other (2).
    assert_eq!(store.prune_logs(T3).await.unwrap(), 2 + 5 + 2);
    assert_eq!(texts(&store, LogQuery::new("mix")).await, ["new"]);
    assert_eq!(
        store.newest_log_time("mix").await.unwrap(),
        Some((T3.to_string(), vec![Stream::Stdout]))
    );
}

#[tokio::test]
async fn large_chunks_are_cut_into_rows_with_the_same_ids() {
    let (_dir, store) = store().await;
    let n = 2 * MAX_CHUNK_LINES + 10;
    let lines: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let partials = [
        0,
        MAX_CHUNK_LINES as u32 - 1,
        MAX_CHUNK_LINES as u32,
        n as u32 - 1,
    ];
    let first = store
        .insert_log_chunks(&[chunk("big", Stream::Stdout, T1, &refs, &partials)])
        .await
        .unwrap()[0];
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log_chunks WHERE service = 'big'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
    let got = store
        .query_logs(&LogQuery {
            limit: u32::MAX,
            ..LogQuery::new("big")
        })
        .await
        .unwrap();
    assert_eq!(got.len(), n);
    for (i, l) in got.iter().enumerate() {
        assert_eq!(l.id, first + i as i64);
        assert_eq!(l.line, i.to_string());
        assert_eq!(l.partial, partials.contains(&(i as u32)), "line {i}");
    }
    // Reading backwards from inside the second row.
    let before = LogQuery {
        before_id: Some(first + MAX_CHUNK_LINES as i64 + 2),
        tail: Some(4),
        ..LogQuery::new("big")
    };
    let expected: Vec<String> = (MAX_CHUNK_LINES - 2..MAX_CHUNK_LINES + 2)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(texts(&store, before).await, expected);
}

#[tokio::test]
async fn newest_log_time_looks_at_the_last_ids() {
    let (_dir, store) = store().await;
    assert_eq!(store.newest_log_time("svc").await.unwrap(), None);
    store
        .insert_log_chunks(&[
            chunk("svc", Stream::Stdout, T3, &["late"], &[]),
            chunk("svc", Stream::Stderr, T2, &["a"], &[]),
            chunk("svc", Stream::Stderr, T3, &["b"], &[]),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.newest_log_time("svc").await.unwrap(),
        Some((T3.to_string(), vec![Stream::Stderr, Stream::Stdout]))
    );
}

/// A database as the release before chunks left it: migrations up to 0017 and per-line rows.
#[tokio::test]
async fn migration_turns_rows_into_chunks_with_the_same_ids_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tend.db");
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version <= 17)
            .cloned()
            .collect(),
    );
    before.run(&pool).await.unwrap();

    // (service, stream, time, line, partial) in id order: runs broken by another service, a stream,
    // a time and an id gap; partial pieces; a run longer than a chunk; text with tabs and non-ASCII.
    let mut old: Vec<(String, &str, &str, String, bool)> = Vec::new();
    for i in 0..3 {
        old.push(("a".into(), "stdout", T1, format!("a{i}"), i == 1));
    }
    old.push(("b".into(), "stdout", T1, "b0".into(), false));
    old.push(("a".into(), "stdout", T1, "a3\tété".into(), false));
    old.push(("a".into(), "stderr", T1, "e0".into(), true));
    old.push(("a".into(), "stderr", T1, "".into(), false));
    old.push(("a".into(), "stderr", T2, "e1".into(), false));
    for i in 0..MAX_CHUNK_LINES + 10 {
        old.push((
            "long".into(),
            "stdout",
            T3,
            format!("l{i}"),
            i % 1000 == 999,
        ));
    }
    for (service, stream, time, line, partial) in &old {
        sqlx::query(
            "INSERT INTO logs (service, stream, time, line, partial) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(service)
        .bind(stream)
        .bind(time)
        .bind(line)
        .bind(partial)
        .execute(&pool)
        .await
        .unwrap();
    }
    // An id gap inside a run (a pruned line), and the newest ids deleted: they must not be reused.
    sqlx::query("DELETE FROM logs WHERE line IN ('a1', 'l2', ?)")
        .bind(format!("l{}", MAX_CHUNK_LINES + 9))
        .execute(&pool)
        .await
        .unwrap();
    let kept: Vec<(i64, String, String, String, String, bool)> =
        sqlx::query_as("SELECT id, service, stream, time, line, partial FROM logs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let highest_ever = old.len() as i64;
    pool.close().await;

    let store = Store::open(&path).await.unwrap();
    for service in ["a", "b", "long"] {
        let got = store
            .query_logs(&LogQuery {
                limit: u32::MAX,
                ..LogQuery::new(service)
            })
            .await
            .unwrap();
        let want: Vec<LogLine> = kept
            .iter()
            .filter(|r| r.1 == service)
            .map(|(id, service, stream, time, line, partial)| LogLine {
                id: *id,
                service: service.clone(),
                stream: if stream == "stdout" {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                },
                time: time.clone(),
                line: line.clone(),
                partial: *partial,
            })
            .collect();
        assert_eq!(got, want, "service {service}");
    }
    // Runs of consecutive ids became chunks: a0, a2 and a3 (parted by the gap at a1 and by b0), b0,
    // stderr at T1, stderr at T2, and long in 3 (parted by the gap at l2, then cut at the chunk size).
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM log_chunks")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(rows, 3 + 1 + 1 + 1 + 3);
    let next = store
        .insert_logs(&[NewLogLine {
            service: "a".into(),
            stream: Stream::Stdout,
            time: T3.into(),
            line: "after".into(),
            partial: false,
        }])
        .await
        .unwrap();
    assert_eq!(next[0].id, highest_ever + 1);
}
