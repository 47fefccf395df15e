//! Resource metrics: a sampler that reads the whole process tree of every running service and every
//! watched job at `MONITOR_INTERVAL`, the history of those samples in SQLite, the Prometheus export,
//! and the `max_memory_mb` restarts. It owns no processes: trees come from the supervisor
//! (`Supervisor::running_trees`) and from watchers (`Metrics::watch`); it only reads `/proc`, and asks
//! the supervisor to restart (`Supervisor::restart_after_failure`, which applies the restart policy and backoff). It must not signal anything itself.
//!
//! Watching something that is not a service (a cron job's execution; the daemon starts `Metrics` after
//! the supervisor and hands it out, e.g. as `AppState::metrics`):
//!
//! ```text
//! let guard = metrics.watch(Kind::Job, "backup", tree.clone()); // sampled from the next tick on
//! // ... the execution runs ...
//! let used = guard.summary(); // samples, peak RSS, CPU seconds of the whole tree so far
//! drop(guard);                // no longer sampled
//! ```
//!
//! Executions of one job that run at the same time are summed into one series (`kind = job`, the job's
//! name): in the history (`Metrics::history(Kind::Job, name, query)`) and in the `tend_job_*`
//! Prometheus series (label `cron_job`). The guard's summary is the only sampling of an execution's
//! tree: cron's `exec` reads it at the execution's end for `max_rss_bytes` and `cpu_time_ms`, next to
//! the leader's rusage. An execution shorter than the interval may never be sampled; its rusage from
//! `process` is the better record of such runs.

mod disk;
mod export;
mod history;
mod limit;
mod procfs;
pub(crate) mod prometheus;
mod sampler;
mod settings;
mod tracker;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use history::{HistoryQuery, MetricsHistory};
pub use prometheus::CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE;
pub use settings::MetricsSettings;

use crate::plugins::PluginHost;
use crate::process::Tree;
use crate::store::{Store, StoreError};
use crate::supervisor::Supervisor;
use crate::wire::ResourcePoint;
use disk::DiskUsage;

/// What a sampled tree is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Service,
    Job,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Job => "job",
        }
    }
}

/// One target's figures at the last sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Figures {
    pub processes: u64,
    pub rss_bytes: u64,
    /// % of one core over the last interval.
    pub cpu_percent: f64,
    pub threads: u64,
    pub open_fds: u64,
    pub read_bps: f64,
    pub write_bps: f64,
}

/// Counters since the daemon started, per target name (monotonic across runs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Totals {
    cpu_seconds: f64,
    read_bytes: u64,
    write_bytes: u64,
}

/// What the sampler has seen of one watched tree so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WatchSummary {
    /// Samples taken (0 when the tree ended before the first tick).
    pub samples: u32,
    pub peak_rss_bytes: u64,
    pub peak_processes: u64,
    /// CPU time of the whole tree up to the last sample (processes that ended between two samples
    /// miss their last interval).
    pub cpu_seconds: f64,
    /// The highest CPU use of the whole tree over one sampling interval, % of one core (0 until a
    /// second sample gives an interval).
    pub peak_cpu_percent: f64,
}

struct Watched {
    kind: Kind,
    name: String,
    tree: Arc<Tree>,
    summary: WatchSummary,
}

/// The daemon's own figures.
#[derive(Clone, Copy, Debug, Default)]
struct Own {
    rss_bytes: u64,
    cpu_percent: f64,
    cpu_seconds: f64,
}

/// The sampler's own cost and reach.
#[derive(Clone, Copy, Debug, Default)]
struct SamplerStats {
    samples: u64,
    /// CPU time spent reading `/proc`, summed.
    cpu_seconds: f64,
    last_duration_s: f64,
    last_processes: u64,
}

/// The latest figures, for `/api/status` and `/metrics`.
#[derive(Clone, Default)]
struct Current {
    services: BTreeMap<String, Figures>,
    /// Watched trees (executions of one job summed) and how many there are.
    watched: BTreeMap<(Kind, String), (Figures, u32)>,
    totals: BTreeMap<(Kind, String), Totals>,
    disk: BTreeMap<String, DiskUsage>,
    own: Option<Own>,
    sampler: SamplerStats,
}

struct Inner {
    settings: MetricsSettings,
    store: Store,
    sup: Supervisor,
    plugins: PluginHost,
    /// Each service's figures go out as a live `metrics` event at every sample.
    bus: crate::events::Bus,
    watched: Mutex<HashMap<u64, Watched>>,
    next_watch: AtomicU64,
    current: Mutex<Current>,
    stop: watch::Sender<bool>,
    /// Lets a disk walk in a blocking thread notice shutdown.
    stopping: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watched(&self) -> MutexGuard<'_, HashMap<u64, Watched>> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handle to the sampler; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// Keeps a tree sampled; dropping it stops that.
pub struct WatchGuard {
    inner: Weak<Inner>,
    id: u64,
}

impl WatchGuard {
    /// What the sampler has seen of the tree so far.
    pub fn summary(&self) -> WatchSummary {
        self.inner
            .upgrade()
            .and_then(|i| i.watched().get(&self.id).map(|w| w.summary))
            .unwrap_or_default()
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.watched().remove(&self.id);
        }
    }
}

impl Metrics {
    /// Starts the sampler and the disk walker. Samples are taken at once, then every `interval_s`.
    pub fn start(
        settings: MetricsSettings,
        store: Store,
        sup: Supervisor,
        plugins: PluginHost,
        bus: crate::events::Bus,
    ) -> Metrics {
        let (stop, stop_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            settings,
            store,
            sup,
            plugins,
            bus,
            watched: Mutex::new(HashMap::new()),
            next_watch: AtomicU64::new(1),
            current: Mutex::new(Current::default()),
            stop,
            stopping: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(sampler::run(inner.clone(), stop_rx.clone())),
            tokio::spawn(sampler::run_disk(inner.clone(), stop_rx)),
        ];
        *inner.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        tracing::info!(
            interval_s = inner.settings.interval_s,
            "metrics sampler started"
        );
        Metrics { inner }
    }

    pub fn settings(&self) -> &MetricsSettings {
        &self.inner.settings
    }

    /// Samples `tree` (its whole process tree) from the next tick until the guard is dropped, as
    /// `kind`/`name` in the history and in Prometheus.
    pub fn watch(&self, kind: Kind, name: &str, tree: Arc<Tree>) -> WatchGuard {
        let id = self.inner.next_watch.fetch_add(1, Ordering::Relaxed);
        self.inner.watched().insert(
            id,
            Watched {
                kind,
                name: name.to_string(),
                tree,
                summary: WatchSummary::default(),
            },
        );
        WatchGuard {
            inner: Arc::downgrade(&self.inner),
            id,
        }
    }

    /// The daemon's own resident memory (MiB) and CPU use (% of one core) at the last sample.
    pub fn own_usage(&self) -> Option<(f64, f64)> {
        self.inner
            .current()
            .own
            .map(|o| (o.rss_bytes as f64 / (1024.0 * 1024.0), o.cpu_percent))
    }

    /// The stored history of one target.
    pub async fn history(
        &self,
        kind: Kind,
        name: &str,
        query: HistoryQuery,
    ) -> Result<MetricsHistory, StoreError> {
        history::read(
            &self.inner.store,
            &self.inner.settings,
            kind.as_str(),
            name,
            query,
        )
        .await
    }

    /// CPU and memory of the last hour of every target of `kind` in one-minute steps, by name
    /// (`GET /api/overview`).
    pub async fn recent(
        &self,
        kind: Kind,
        now_ms: i64,
    ) -> Result<BTreeMap<String, Vec<ResourcePoint>>, StoreError> {
        history::recent(&self.inner.store, kind.as_str(), now_ms).await
    }

    /// `GET /metrics`: everything in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        export::render(&self.inner)
    }

    /// Stops sampling and waits for the tasks (a disk walk in progress is cut short).
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        let _ = self.inner.stop.send(true);
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}
