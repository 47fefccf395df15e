//! Booting the supervisor: the config file's services reconciled with the store, whatever a killed
//! predecessor left running stopped (with the stopping loop every run uses, `process::Leftovers`), then
//! one actor per service and the enabled ones (with their dependencies) started in dependency order.
//! A set of services whose dependencies are wrong (unknown, a cycle, a condition the dependency
//! cannot meet) is refused before anything changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::actor::Cmd;
use super::recorder::Recorder;
use super::{Shared, Supervisor};
use crate::logs::LogHub;
use crate::plugins::PluginHost;
use crate::process::{Leftovers, Tree};
use crate::store::{RuntimeRecord, Store, now_rfc3339};
use crate::wire::{Event, EventKind, ServiceSpec, Source, Status};

/// Between SIGTERM and SIGKILL for what a killed daemon left running.
const LEFTOVER_GRACE: Duration = Duration::from_secs(5);

impl Supervisor {
    /// Loads the store, reconciles it with the config file, stops leftovers of a killed predecessor and
    /// starts every enabled service.
    pub async fn boot(
        store: Store,
        hub: LogHub,
        plugins: PluginHost,
        bus: crate::events::Bus,
        node: String,
        data_dir: PathBuf,
        file_services: Vec<ServiceSpec>,
    ) -> anyhow::Result<Supervisor> {
        check_file(&store, &file_services).await?;
        reconcile_file(&store, &file_services).await?;
        let recorder = Recorder::start(store.clone(), bus);
        let shared = Arc::new(Shared {
            store,
            hub,
            plugins,
            node,
            recorder,
            registry: Mutex::new(BTreeMap::new()),
            states: tokio::sync::watch::channel(0).0,
        });
        let sup = Supervisor {
            shared,
            started: SystemTime::now(),
            started_mono: Instant::now(),
            data_dir,
            closing: Arc::new(AtomicBool::new(false)),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
        };
        sup.stop_leftovers().await?;
        let services = sup.shared.store.list_services().await?;
        for s in &services {
            sup.add_actor(s.spec.clone(), s.source, 0);
        }
        // The enabled services and what they need, in dependency order, each group at once (each
        // service waits for its own dependencies, so a group does not wait for the one before).
        let graph = crate::deps::Graph::of(services.iter().map(|s| &s.spec));
        let mut boot = BTreeSet::new();
        for s in services.iter().filter(|s| s.spec.enabled) {
            boot.insert(s.spec.name.clone());
            boot.extend(graph.requires(&s.spec.name));
        }
        for group in graph.groups_within(&boot) {
            let starts = group.iter().map(|name| {
                sup.send(name, |reply| Cmd::Start {
                    reason: "daemon boot".into(),
                    reply,
                })
            });
            for r in futures_util::future::join_all(starts).await {
                r?;
            }
        }
        Ok(sup)
    }

    /// Processes a SIGKILLed daemon left behind: with cgroups, every run cgroup under this data dir's
    /// directory; otherwise recorded leaders (pid + start time, so a reused pid is never hit), their
    /// groups (only while provably theirs), their descendants, and anything carrying this data dir's
    /// marker. They are stopped (their output pipes died with the old daemon, so they cannot be
    /// re-adopted with their logs): SIGTERM, SIGKILL (`cgroup.kill`) after `LEFTOVER_GRACE`, done when
    /// nothing of them is left.
    async fn stop_leftovers(&self) -> anyhow::Result<()> {
        let records = self.shared.store.list_runtime().await?;
        let mut trees = Vec::new();
        for (r, tree) in recorded_trees(&records) {
            let pid = tree.leader;
            let members = tree.scan().members;
            if members.is_empty() {
                continue;
            }
            let from = Status::parse(&r.status).unwrap_or(Status::Running);
            let reason = format!(
                "left running by a daemon that died ({} processes); stopped",
                members.len()
            );
            tracing::warn!(service = %r.service, pid, "{reason}");
            self.shared.recorder.record(
                Event {
                    id: 0,
                    kind: EventKind::Lifecycle,
                    service: r.service.clone(),
                    time: now_rfc3339(),
                    from,
                    to: Status::Stopped,
                    pid: Some(pid),
                    exit_code: None,
                    signal: None,
                    health: None,
                    reason,
                },
                RuntimeRecord {
                    service: r.service.clone(),
                    status: "stopped".into(),
                    ..Default::default()
                },
            );
            trees.push(tree);
        }
        Leftovers::new(format!("{}.", self.shared.node), trees)
            .stop(Signal::SIGTERM, LEFTOVER_GRACE)
            .await;
        self.shared.recorder.flush().await;
        Ok(())
    }
}

/// The trees of a dead daemon's runtime records: each record's leader (pid + start time, so a reused pid
/// is never hit) with its run cgroup when it had one. Without a marker, a group is the run's only while
/// its leader is (a reused pid's is not).
fn recorded_trees(records: &[RuntimeRecord]) -> Vec<(&RuntimeRecord, Tree)> {
    records
        .iter()
        .filter_map(|r| {
            let tree = Tree::recorded(r.pid?, r.pid_start?, r.instance.clone().unwrap_or_default());
            (tree.leader_alive() || r.instance.is_some()).then_some((r, tree))
        })
        .collect()
}

/// For a daemon that refuses to start (its store cannot be opened or written) while holding the data
/// dir's lock: what a dead predecessor left running would otherwise stay unmanaged, so it is stopped
/// as `stop_leftovers` does (without recording: the store is what failed). `store` is `None` when it
/// could not be opened: then the run cgroups and this data dir's marker are all there is to go by.
pub async fn stop_leftovers_unrecorded(store: Option<&Store>, node: &str) {
    let records = match store {
        None => Vec::new(),
        Some(store) => match store.list_runtime().await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the runtime records; stopping marked processes only");
                Vec::new()
            }
        },
    };
    let trees = recorded_trees(&records)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let leftovers = Leftovers::new(format!("{node}."), trees);
    let left = leftovers.scan().members.len();
    if left > 0 {
        tracing::warn!(
            processes = left,
            "stopping what a daemon that died left running, before refusing to start"
        );
    }
    leftovers.stop(Signal::SIGTERM, LEFTOVER_GRACE).await;
}

/// The services as they will be once the file is reconciled (the file's, plus the API's it does not
/// shadow) must form a valid dependency graph; else the daemon refuses to start, changing nothing.
async fn check_file(store: &Store, file_services: &[ServiceSpec]) -> anyhow::Result<()> {
    let existing = store.list_services().await?;
    let mut specs: Vec<&ServiceSpec> = file_services.iter().collect();
    specs.extend(
        existing
            .iter()
            .filter(|s| s.source == Source::Api)
            .filter(|s| !file_services.iter().any(|f| f.name == s.spec.name))
            .map(|s| &s.spec),
    );
    crate::deps::check(&specs, None).map_err(|e| {
        anyhow::anyhow!(
            "the services' dependencies are invalid: {}: {}",
            e.field,
            e.message
        )
    })
}

/// Makes the store agree with the config file: file services are upserted as `config`, config services no
/// longer in the file are removed. The file wins over an API service of the same name. One transaction.
async fn reconcile_file(store: &Store, file_services: &[ServiceSpec]) -> anyhow::Result<()> {
    let existing = store.list_services().await?;
    for spec in file_services {
        if let Some(old) = existing.iter().find(|s| s.spec.name == spec.name)
            && old.source == Source::Api
        {
            tracing::warn!(service = %spec.name, "the config file defines a service registered through the API; the file wins");
        }
    }
    for name in store.reconcile_config_services(file_services).await? {
        tracing::info!(service = %name, "removed from the config file; unregistering");
    }
    Ok(())
}
