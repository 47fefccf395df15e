//! The bus's delivery guarantees, on a real store: stored before broadcast, resumable, and a
//! subscriber that falls far behind the live feed still gets every stored event once, in order.

use std::time::Duration;

use super::*;
use crate::wire::{AgentEvent, MetricsEvent, Topic};

async fn bus() -> (tempfile::TempDir, Store, Bus) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tend.db")).await.unwrap();
    let bus = Bus::start(store.clone()).await.unwrap();
    (dir, store, bus)
}

fn agent(n: usize) -> Payload {
    Payload::Agent(AgentEvent {
        time: crate::store::now_rfc3339(),
        agent: "test".into(),
        service: Some(if n.is_multiple_of(2) { "even" } else { "odd" }.into()),
        message: n.to_string(),
    })
}

fn all() -> Filter {
    Filter {
        topics: Topic::ALL.to_vec(),
        service: None,
    }
}

async fn next(f: &mut Follow) -> Arc<BusEvent> {
    tokio::time::timeout(Duration::from_secs(10), f.next())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .expect("the bus is open")
}

#[tokio::test]
async fn a_subscriber_far_behind_the_live_feed_gets_every_event_once_in_order() {
    let (_dir, _store, bus) = bus().await;
    let mut slow = bus.follow(all(), None);
    let n = LIVE_CAPACITY * 3;
    for i in 0..n {
        bus.publish(agent(i));
    }
    bus.flush().await;
    let mut ids = Vec::new();
    for i in 0..n {
        let e = next(&mut slow).await;
        let Payload::Agent(a) = &e.payload else {
            panic!("unexpected {e:?}")
        };
        assert_eq!(a.message, i.to_string());
        ids.push(e.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "increasing ids");
}

#[tokio::test]
async fn replay_then_live_has_no_gap_and_no_duplicate_and_filters_apply() {
    let (_dir, store, bus) = bus().await;
    for i in 0..10 {
        bus.publish(agent(i));
    }
    bus.flush().await;
    let after = store
        .events_after(0, &[Topic::Agent], None, 100)
        .await
        .unwrap()[3]
        .id;
    let filter = Filter {
        topics: vec![Topic::Agent],
        service: Some("even".into()),
    };
    let mut f = bus.follow(filter, Some(after));
    // Published while the replay is pending: must come exactly once, after the stored ones.
    for i in 10..14 {
        bus.publish(agent(i));
    }
    // Live-only samples interleave without ids.
    bus.publish(Payload::Metrics(MetricsEvent {
        time: crate::store::now_rfc3339(),
        kind: "service".into(),
        name: "even".into(),
        memory_mb: 1.0,
        cpu_percent: 0.0,
    }));
    let mut got = Vec::new();
    for _ in 0..5 {
        let e = next(&mut f).await;
        let Payload::Agent(a) = &e.payload else {
            panic!("metrics were not asked for: {e:?}")
        };
        got.push(a.message.parse::<usize>().unwrap());
    }
    // Stored ids 1..=10 hold messages 0..=9; after the 4th (message 3): 4, 6, 8, then live 10, 12.
    assert_eq!(got, vec![4, 6, 8, 10, 12]);
}

#[tokio::test]
async fn service_events_keep_their_shape_and_history() {
    let (_dir, store, bus) = bus().await;
    let mut f = bus.follow(all(), None);
    bus.note(
        "web",
        crate::wire::Status::Running,
        crate::wire::EventKind::Job,
        Note::reason("custom-restart job 1 started"),
    );
    let e = next(&mut f).await;
    assert_eq!(e.topic(), Topic::Job);
    let d = e.data();
    assert_eq!(d["kind"], "job");
    assert_eq!(d["service"], "web");
    assert_eq!(d["id"], e.id);
    let history = store.list_events(Some("web"), 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, e.id);
    // Non-service topics stay out of a service's history.
    bus.publish(agent(0));
    bus.flush().await;
    assert_eq!(store.list_events(None, 10).await.unwrap().len(), 1);
}
