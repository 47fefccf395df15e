//! The JSON the store keeps whole (`services.spec`, `cron_jobs.spec`, `jobs.request`, `jobs.steps`, and
//! `events.data` of stored bus events other than service events) is the wire shape of the release that
//! wrote it, so a renamed or removed field breaks old databases
//! unless a migration rewrites their rows. These tests open the database release 0.1 wrote
//! (`tests/fixtures/compat-0.1/tend.db`, whose rows set every field), apply today's migrations, and
//! check that
//!
//! - every stored value decodes into today's type and encodes back with the same fields and values;
//! - the fields today's types write for those rows (and for a fully populated payload of each stored
//!   bus topic, which 0.1 did not have) are exactly the ones in `stored_fields.txt`, so a new field is
//!   a deliberate decision too (it needs a default: old rows do not have it).
//!
//! `TEND_UPDATE_STORED_FIELDS=1 cargo test -p tend store::compat_tests` rewrites the list, once the
//! migration (or the default) is there.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::Row;

use super::Store;
use crate::wire::{CronJobSpec, CustomRestartRequest, JobStep, ServiceSpec};

/// Objects whose keys are data (names of variables, headers, probe settings), not fields.
const MAPS: &[&str] = &[
    "ServiceSpec.env",
    "ServiceSpec.caddy_headers",
    "ServiceSpec.health.config",
    "CronJobSpec.env_vars",
];

const FIELDS_HEADER: &str = "\
# The fields of the JSON the store keeps whole, as today's types write them for release 0.1's rows
# (tests/fixtures/compat-0.1/tend.db); checked by host/src/store/compat_tests.rs. A change here is a
# change of what is stored: a renamed or removed field needs a migration that rewrites old rows, a
# new one a serde default.
";

const HOW_TO_FIX: &str = "Stored rows keep the JSON of the release that wrote them: a renamed or \
    removed field needs a migration in host/migrations that rewrites the stored JSON (see \
    tests/fixtures/compat-0.1/README.md), and a new field needs #[serde(default)] so old rows still load";

/// Where `new` lacks or changes something of `old` (`null` and a missing key are the same).
fn lost(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, ov) in o {
                match n.get(k) {
                    Some(nv) => lost(ov, nv, &format!("{at}.{k}"), out),
                    None if ov.is_null() => {}
                    None => out.push(format!("{at}.{k} ({ov}) is no longer read back")),
                }
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (ov, nv)) in o.iter().zip(n).enumerate() {
                lost(ov, nv, &format!("{at}[{i}]"), out);
            }
        }
        (o, n) if o == n => {}
        (o, n) => out.push(format!("{at} was {o}, reads back as {n}")),
    }
}

/// The field paths of a value (`ServiceSpec.health.probe`, `JobStep[].argv`, ...).
fn field_paths(at: &str, v: &Value, out: &mut BTreeSet<String>) {
    out.insert(at.to_string());
    if MAPS.contains(&at) {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                field_paths(&format!("{at}.{k}"), child, out);
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter(|i| i.is_object()) {
                field_paths(&format!("{at}[]"), item, out);
            }
        }
        _ => {}
    }
}

/// Decodes one stored value as `T` and encodes it again, noting what was lost and which fields it has.
fn round_trip<T: Serialize + DeserializeOwned>(
    type_name: &str,
    row: &str,
    stored: &str,
    fields: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let old: Value = match serde_json::from_str(stored) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{row}: not JSON: {e}"));
            return;
        }
    };
    let typed: T = match serde_json::from_value(old.clone()) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{row}: no longer decodes as {type_name}: {e}"));
            return;
        }
    };
    let new = serde_json::to_value(&typed).expect("wire types encode");
    let mut gone = Vec::new();
    lost(&old, &new, type_name, &mut gone);
    problems.extend(gone.into_iter().map(|g| format!("{row}: {g}")));
    field_paths(type_name, &new, fields);
}

/// Today's migrations applied to a copy of release 0.1's database.
async fn fixture_store(dir: &Path) -> Store {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/compat-0.1/tend.db");
    let db = dir.join("tend.db");
    std::fs::copy(&fixture, &db).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    Store::open(&db)
        .await
        .expect("release 0.1's database opens")
}

async fn rows(store: &Store, sql: &str) -> Vec<(String, String)> {
    sqlx::query(sql)
        .fetch_all(&store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect()
}

#[tokio::test]
async fn stored_json_of_release_0_1_reads_back_field_for_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture_store(dir.path()).await;
    let mut fields = BTreeSet::new();
    let mut problems = Vec::new();
    let mut seen = [0usize; 4];
    for (name, spec) in rows(&store, "SELECT name, spec FROM services ORDER BY name").await {
        let row = format!("services.spec of {name}");
        round_trip::<ServiceSpec>("ServiceSpec", &row, &spec, &mut fields, &mut problems);
        seen[0] += 1;
    }
    for (name, spec) in rows(&store, "SELECT name, spec FROM cron_jobs ORDER BY name").await {
        let row = format!("cron_jobs.spec of {name}");
        round_trip::<CronJobSpec>("CronJobSpec", &row, &spec, &mut fields, &mut problems);
        seen[1] += 1;
    }
    let requests = "SELECT CAST(id AS TEXT), request FROM jobs ORDER BY id";
    for (id, request) in rows(&store, requests).await {
        let row = format!("jobs.request of job {id}");
        round_trip::<CustomRestartRequest>(
            "CustomRestartRequest",
            &row,
            &request,
            &mut fields,
            &mut problems,
        );
        seen[2] += 1;
    }
    let steps_sql = "SELECT CAST(id AS TEXT), steps FROM jobs ORDER BY id";
    for (id, steps) in rows(&store, steps_sql).await {
        let row = format!("jobs.steps of job {id}");
        round_trip::<Vec<JobStep>>("JobStep", &row, &steps, &mut fields, &mut problems);
        seen[3] += 1;
    }
    assert!(
        seen.iter().all(|&n| n > 0),
        "the fixture lacks rows of some stored type (services, cron jobs, job requests, job steps): {seen:?}"
    );
    assert!(
        problems.is_empty(),
        "{HOW_TO_FIX}.\n{}",
        problems.join("\n")
    );

    // Stored bus events keep their payload as JSON too (new since 0.1, so the fixture has none): the
    // fields a fully populated payload of each stored topic writes.
    for (type_name, sample) in stored_event_payloads() {
        field_paths(type_name, &sample, &mut fields);
    }

    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/stored_fields.txt");
    if std::env::var_os("TEND_UPDATE_STORED_FIELDS").is_some_and(|v| v == "1") {
        let written: String = fields.iter().map(|f| format!("{f}\n")).collect();
        std::fs::write(&list, format!("{FIELDS_HEADER}{written}"))
            .expect("write stored_fields.txt");
    }
    let listed = std::fs::read_to_string(&list).expect("host/src/store/stored_fields.txt");
    let listed: BTreeSet<String> = listed
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let added: Vec<_> = fields.difference(&listed).collect();
    let removed: Vec<_> = listed.difference(&fields).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the stored JSON's fields changed: written now but not listed {added:?}, listed but no longer \
         written {removed:?}. {HOW_TO_FIX}. Then update host/src/store/stored_fields.txt \
         (TEND_UPDATE_STORED_FIELDS=1 cargo test -p tend store::compat_tests)."
    );
}

/// One payload of each topic the events table stores as JSON, every optional field set.
fn stored_event_payloads() -> Vec<(&'static str, Value)> {
    use crate::wire::{
        AgentEvent, CaddyEvent, CronEvent, CronPhase, Decision, ExecutionStatus, Origin,
        PluginAction, PluginEvent, PolicyEvent, Trigger,
    };
    let time = "2026-12-05T00:00:00.000Z".to_string();
    let json = |v: Result<Value, serde_json::Error>| v.expect("wire types encode");
    vec![
        (
            "CronEvent",
            json(serde_json::to_value(CronEvent {
                time: time.clone(),
                job: "j".into(),
                execution: 1,
                phase: CronPhase::Finished,
                trigger: Trigger::Manual,
                attempt: 0,
                scheduled_at: Some(time.clone()),
                status: ExecutionStatus::Failed,
                pid: Some(1),
                exit_code: Some(1),
                signal: Some("SIGTERM".into()),
                duration_ms: Some(1),
                message: Some("m".into()),
            })),
        ),
        (
            "CaddyEvent",
            json(serde_json::to_value(CaddyEvent {
                time: time.clone(),
                result: "failed".into(),
                services: vec!["web".into()],
                error: Some("e".into()),
            })),
        ),
        (
            "PluginEvent",
            json(serde_json::to_value(PluginEvent {
                time: time.clone(),
                plugin: "p".into(),
                action: PluginAction::Loaded,
                version: Some("1".into()),
                message: "m".into(),
            })),
        ),
        (
            "PolicyEvent",
            json(serde_json::to_value(PolicyEvent {
                time: time.clone(),
                audit_id: 1,
                origin: Origin::Rest,
                service: Some("web".into()),
                command: "c".into(),
                decision: Decision::Deny,
                reason: "r".into(),
            })),
        ),
        (
            "AgentEvent",
            json(serde_json::to_value(AgentEvent {
                time,
                agent: "a".into(),
                service: Some("web".into()),
                message: "m".into(),
            })),
        ),
    ]
}

#[test]
fn lost_fields_and_field_paths() {
    let old =
        serde_json::json!({"a": 1, "b": {"c": [1, {"d": 2}]}, "gone": null, "env": {"X": "1"}});
    let new = serde_json::json!({"a": 1, "b": {"c": [1, {"e": 2}]}, "env": {"X": "2"}});
    let mut out = Vec::new();
    lost(&old, &new, "T", &mut out);
    assert_eq!(
        out,
        [
            "T.b.c[1].d (2) is no longer read back",
            "T.env.X was \"1\", reads back as \"2\""
        ]
    );
    let mut paths = BTreeSet::new();
    let spec =
        serde_json::json!({"env": {"X": "1"}, "health": {"config": {"url": "u"}, "probe": "p"}});
    field_paths("ServiceSpec", &spec, &mut paths);
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        [
            "ServiceSpec",
            "ServiceSpec.env",
            "ServiceSpec.health",
            "ServiceSpec.health.config",
            "ServiceSpec.health.probe"
        ]
    );
}
