//! The two loops behind `Metrics`: the sampler (every `interval_s`: read every tree in a blocking
//! thread, publish the figures, enforce `max_memory_mb`, write the history, roll it up once a minute)
//! and the disk walker (each service's `watch_dirs` every `disk_interval_s`, one walk at a time; it
//! wakes only when a walk falls due or a service is created, changed or removed).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::history::Maintenance;
use super::limit::MemoryLimits;
use super::procfs;
use super::tracker::{Adoptions, Clock, Reading, Tracker};
use super::{Current, Figures, Inner, Kind, Own, disk};
use crate::process::{Tree, ticks_per_second};
use crate::store::MetricSample;
use crate::wire::{MetricsEvent, Payload};

const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
/// Longest time between two searches for a tree's new descendants (see `Tracker::sample`); with the
/// default 30 s interval every sample searches (but only below processes that ran).
const WALK_EVERY_S: u64 = 5;
/// Longest time a process (or a cgroup) that did not run keeps the figures read before (see
/// `tracker`): memory can shrink under reclaim without the process running.
const REREAD_EVERY_S: u64 = 300;
const MIB: f64 = 1024.0 * 1024.0;

/// One tree to read this tick.
struct Target {
    kind: Kind,
    name: String,
    tree: Arc<Tree>,
    /// The watch id, for watched trees.
    watch: Option<u64>,
}

impl Target {
    /// Identity of the tracker across ticks: the tree itself (and the watch, which may share a tree).
    fn key(&self) -> (usize, u64) {
        (Arc::as_ptr(&self.tree) as usize, self.watch.unwrap_or(0))
    }
}

/// Everything one tick read.
struct Tick {
    at: SystemTime,
    readings: Vec<Reading>,
    own: Own,
    cpu_seconds: f64,
    duration_s: f64,
}

/// The sampler's state between ticks; moved into the blocking thread and back.
struct Core {
    trackers: HashMap<(usize, u64), Tracker>,
    adoptions: Adoptions,
    buf: Vec<u8>,
    ticks_per_second: u64,
    page_size: u64,
    children_supported: bool,
    schedstat_supported: bool,
    /// (uptime ticks, CPU ticks) of the daemon at the previous tick.
    own_before: Option<(u64, u64)>,
    own_cpu_seconds: f64,
}

impl Core {
    fn new() -> Core {
        let children_supported = procfs::children_supported();
        if !children_supported {
            tracing::warn!(
                "this kernel has no /proc/<pid>/task/<tid>/children; every sample scans all of /proc"
            );
        }
        Core {
            trackers: HashMap::new(),
            adoptions: Adoptions::default(),
            buf: Vec::with_capacity(4096),
            ticks_per_second: ticks_per_second(),
            page_size: procfs::page_size(),
            children_supported,
            schedstat_supported: procfs::schedstat_supported(),
            own_before: None,
            own_cpu_seconds: 0.0,
        }
    }

    fn sample(&mut self, targets: &[Target]) -> Tick {
        let started = Instant::now();
        let cpu0 = procfs::thread_cpu_seconds();
        let clock = Clock {
            now_ticks: procfs::uptime_ticks(self.ticks_per_second),
            ticks_per_second: self.ticks_per_second,
            page_size: self.page_size,
            children_supported: self.children_supported,
            walk_every_ticks: WALK_EVERY_S * self.ticks_per_second,
            schedstat_supported: self.schedstat_supported,
            reread_every_ticks: REREAD_EVERY_S * self.ticks_per_second,
        };
        let trees: Vec<Arc<Tree>> = targets.iter().map(|t| t.tree.clone()).collect();
        // Orphans matter only to trees without a cgroup (a cgroup keeps its re-parented members).
        let adopted = if self.children_supported && trees.iter().any(|t| !t.in_cgroup()) {
            self.adoptions.assign(&trees, &mut self.buf)
        } else {
            HashMap::new()
        };
        let mut live = HashMap::with_capacity(targets.len());
        let mut readings = Vec::with_capacity(targets.len());
        for t in targets {
            let mut tracker = self
                .trackers
                .remove(&t.key())
                .unwrap_or_else(|| Tracker::new(t.tree.clone()));
            let roots = adopted
                .get(&t.tree.instance)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            readings.push(tracker.sample(&clock, roots, &mut self.buf));
            live.insert(t.key(), tracker);
        }
        // Trackers of trees that are gone are dropped here.
        self.trackers = live;
        let own = self.own(&clock);
        Tick {
            at: SystemTime::now(),
            readings,
            own,
            cpu_seconds: procfs::thread_cpu_seconds() - cpu0,
            duration_s: started.elapsed().as_secs_f64(),
        }
    }

    fn own(&mut self, clock: &Clock) -> Own {
        let st = procfs::stat(std::process::id(), &mut self.buf).unwrap_or_default();
        let tps = self.ticks_per_second.max(1) as f64;
        let cpu_percent = match self.own_before {
            Some((then, cpu)) if clock.now_ticks > then => {
                st.cpu_ticks.saturating_sub(cpu) as f64 / (clock.now_ticks - then) as f64 * 100.0
            }
            _ => {
                let lived = clock.now_ticks.saturating_sub(st.start_ticks).max(1) as f64;
                st.cpu_ticks as f64 / lived * 100.0
            }
        };
        self.own_before = Some((clock.now_ticks, st.cpu_ticks));
        self.own_cpu_seconds = st.cpu_ticks as f64 / tps;
        Own {
            rss_bytes: st.rss_pages * self.page_size,
            cpu_percent,
            cpu_seconds: self.own_cpu_seconds,
        }
    }
}

fn targets(inner: &Inner) -> Vec<Target> {
    let mut out: Vec<Target> = inner
        .sup
        .running_trees()
        .into_iter()
        .map(|(name, tree)| Target {
            kind: Kind::Service,
            name,
            tree,
            watch: None,
        })
        .collect();
    out.extend(inner.watched().iter().map(|(id, w)| Target {
        kind: w.kind,
        name: w.name.clone(),
        tree: w.tree.clone(),
        watch: Some(*id),
    }));
    out
}

fn figures(r: &Reading) -> Figures {
    Figures {
        processes: r.processes,
        rss_bytes: r.rss_bytes,
        cpu_percent: r.cpu_percent,
        threads: r.threads,
        open_fds: r.open_fds,
        read_bps: r.read_bps,
        write_bps: r.write_bps,
    }
}

fn add(a: &mut Figures, b: &Figures) {
    a.processes += b.processes;
    a.rss_bytes += b.rss_bytes;
    a.cpu_percent += b.cpu_percent;
    a.threads += b.threads;
    a.open_fds += b.open_fds;
    a.read_bps += b.read_bps;
    a.write_bps += b.write_bps;
}

pub(super) async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut core = Some(Core::new());
    let mut limits = MemoryLimits::default();
    let mut maintenance = Maintenance::default();
    let mut maintained: Option<Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(inner.settings.interval_s));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let targets = targets(&inner);
        let mut c = core.take().unwrap_or_else(Core::new);
        let read = tokio::task::spawn_blocking(move || {
            let tick = c.sample(&targets);
            (c, targets, tick)
        })
        .await;
        let (c, targets, tick) = match read {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "metrics sample failed; starting afresh");
                continue;
            }
        };
        core = Some(c);
        let rows = publish(&inner, &targets, &tick, &mut limits);
        if let Err(e) = inner.store.insert_metric_samples(&rows).await {
            tracing::warn!(error = %e, "cannot store metric samples");
        }
        if maintained.is_none_or(|m| m.elapsed() >= MAINTENANCE_EVERY) {
            maintained = Some(Instant::now());
            let now_ms = chrono::Utc::now().timestamp_millis();
            if let Err(e) = maintenance.run(&inner.store, &inner.settings, now_ms).await {
                tracing::warn!(error = %e, "metrics roll-up or pruning failed");
            }
        }
    }
}

/// Hands one tick's figures to everyone who wants them; returns the history rows.
fn publish(
    inner: &Inner,
    targets: &[Target],
    tick: &Tick,
    limits: &mut MemoryLimits,
) -> Vec<MetricSample> {
    let t_ms = chrono::DateTime::<chrono::Utc>::from(tick.at).timestamp_millis();
    let mut services: BTreeMap<String, Figures> = BTreeMap::new();
    let mut watched_figures: BTreeMap<(Kind, String), (Figures, u32)> = BTreeMap::new();
    let limit_of: HashMap<String, Option<u64>> = inner
        .sup
        .specs()
        .into_iter()
        .map(|s| (s.name, s.max_memory_mb))
        .collect();
    {
        let mut watched = inner.watched();
        for (t, r) in targets.iter().zip(&tick.readings) {
            let f = figures(r);
            match t.watch {
                None => {
                    let memory_mb = r.rss_bytes as f64 / MIB;
                    inner.sup.set_usage(&t.name, memory_mb, r.cpu_percent);
                    inner.bus.publish(Payload::Metrics(MetricsEvent {
                        time: crate::store::fmt_time(tick.at.into()),
                        kind: "service".into(),
                        name: t.name.clone(),
                        memory_mb,
                        cpu_percent: r.cpu_percent,
                    }));
                    let limit = limit_of.get(&t.name).copied().flatten();
                    let needed = inner.settings.memory_limit_samples;
                    if let Some(reason) =
                        limits.observe(&t.name, &t.tree.instance, memory_mb, limit, needed)
                    {
                        restart(inner, &t.name, reason);
                    }
                    services.insert(t.name.clone(), f);
                }
                Some(_) => {
                    let e = watched_figures.entry((t.kind, t.name.clone())).or_default();
                    add(&mut e.0, &f);
                    e.1 += 1;
                }
            }
            if let Some(w) = t.watch.and_then(|id| watched.get_mut(&id)) {
                let s = &mut w.summary;
                s.samples += 1;
                s.peak_rss_bytes = s.peak_rss_bytes.max(r.rss_bytes);
                s.peak_processes = s.peak_processes.max(r.processes);
                s.cpu_seconds += r.cpu_seconds;
                s.peak_cpu_percent = s.peak_cpu_percent.max(r.cpu_percent);
            }
        }
    }
    limits.retain(|name| services.contains_key(name));

    let mut current = inner.current();
    for (t, r) in targets.iter().zip(&tick.readings) {
        let tot = current.totals.entry((t.kind, t.name.clone())).or_default();
        tot.cpu_seconds += r.cpu_seconds;
        tot.read_bytes += r.read_bytes;
        tot.write_bytes += r.write_bytes;
    }
    let rows = history_rows(&current, t_ms, &services, &watched_figures);
    current.services = services;
    current.watched = watched_figures;
    current.own = Some(tick.own);
    let s = &mut current.sampler;
    s.samples += 1;
    s.cpu_seconds += tick.cpu_seconds;
    s.last_duration_s = tick.duration_s;
    s.last_processes = tick.readings.iter().map(|r| r.processes).sum();
    rows
}

fn history_rows(
    current: &Current,
    t: i64,
    services: &BTreeMap<String, Figures>,
    watched: &BTreeMap<(Kind, String), (Figures, u32)>,
) -> Vec<MetricSample> {
    let row = |kind: Kind, name: &str, f: &Figures| {
        let disk = (kind == Kind::Service)
            .then(|| current.disk.get(name))
            .flatten();
        MetricSample {
            kind: kind.as_str(),
            name: name.to_string(),
            t,
            cpu_percent: f.cpu_percent,
            rss_bytes: f.rss_bytes,
            processes: f.processes,
            threads: f.threads,
            open_fds: f.open_fds,
            read_bps: f.read_bps,
            write_bps: f.write_bps,
            disk_bytes: disk.map(|d| d.bytes),
            disk_partial: disk.is_some_and(|d| d.partial),
        }
    };
    // A watched tree filed under a service's name never replaces the service's own row.
    let extra = watched
        .iter()
        .filter(|((k, n), _)| !(*k == Kind::Service && services.contains_key(n)));
    services
        .iter()
        .map(|(n, f)| row(Kind::Service, n, f))
        .chain(extra.map(|((k, n), (f, _))| row(*k, n, f)))
        .collect()
}

/// Restarts a service over its memory limit, off the sampler's path (a restart waits for the stop).
fn restart(inner: &Inner, name: &str, reason: String) {
    tracing::warn!(service = name, %reason, "restarting");
    let sup = inner.sup.clone();
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = sup.restart_after_failure(&name, &reason).await {
            tracing::warn!(service = %name, error = %e, "memory-limit restart failed");
        }
    });
}

/// The directories whose disk usage is tracked for a service: `watch_dirs`, else `working_dir`.
fn watch_dirs(spec: &crate::wire::ServiceSpec) -> Vec<PathBuf> {
    if spec.watch_dirs.is_empty() {
        spec.working_dir.iter().cloned().collect()
    } else {
        spec.watch_dirs.clone()
    }
}

pub(super) async fn run_disk(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(inner.settings.disk_interval_s);
    let budget = Duration::from_secs(inner.settings.disk_timeout_s);
    // Services are looked at when one is created, changed or removed, and when a walk falls due; in
    // between (and always, while no service has a directory to walk) this task sleeps.
    let mut changes = inner.sup.watch_changes();
    let mut supervisor_gone = false;
    let mut walked: HashMap<String, (Vec<PathBuf>, Instant)> = HashMap::new();
    loop {
        let specs = inner.sup.specs();
        walked.retain(|name, _| specs.iter().any(|s| &s.name == name));
        inner
            .current()
            .disk
            .retain(|name, _| specs.iter().any(|s| &s.name == name));
        for spec in specs {
            let dirs = watch_dirs(&spec);
            let due = match walked.get(&spec.name) {
                Some((before, at)) => *before != dirs || at.elapsed() >= every,
                None => true,
            };
            if dirs.is_empty() || !due {
                continue;
            }
            walked.insert(spec.name.clone(), (dirs.clone(), Instant::now()));
            let task_inner = inner.clone();
            let deadline = Instant::now() + budget;
            let usage = tokio::task::spawn_blocking(move || {
                disk::walk(&dirs, deadline, &task_inner.stopping)
            })
            .await;
            if *stop.borrow() {
                return;
            }
            match usage {
                Ok(u) => {
                    if u.partial {
                        tracing::info!(service = %spec.name, bytes = u.bytes, "disk walk cut short at its deadline");
                    }
                    inner.current().disk.insert(spec.name, u);
                }
                Err(e) => tracing::warn!(service = %spec.name, error = %e, "disk walk failed"),
            }
        }
        let next = walked.values().map(|(_, at)| *at + every).min();
        tokio::select! {
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => {}
            changed = changes.changed(), if !supervisor_gone => supervisor_gone = changed.is_err(),
            _ = stop.changed() => break,
        }
    }
}
