//! What `GET /metrics` says: the supervisor, every service (state from the supervisor, figures from
//! the last sample), watched jobs, plugins (call counters, failures by kind, latency histogram) and the
//! sampler's own cost. Series names are `tend_<subject>_<figure>[_unit][_total]`.

use super::prometheus::{Exposition, Type};
use super::{Current, Figures, Inner, Kind};
use crate::wire::{HealthState, PluginState, Status};

const STATUSES: [Status; 7] = [
    Status::Stopped,
    Status::Starting,
    Status::Running,
    Status::Backoff,
    Status::Stopping,
    Status::Exited,
    Status::Fatal,
];

pub fn render(inner: &Inner) -> String {
    let status = inner.sup.status();
    let current: Current = inner.current().clone();
    let plugins = inner.plugins.list();
    let mut e = Exposition::default();

    // ---- the supervisor ----
    let sup = &status.supervisor;
    e.family(
        "tend_supervisor_info",
        Type::Gauge,
        "Always 1; labels describe the daemon.",
    )
    .sample(&[("version", &sup.version)], 1.0);
    e.family(
        "tend_supervisor_uptime_seconds",
        Type::Gauge,
        "Seconds since the daemon started.",
    )
    .sample(&[], sup.uptime_s);
    if let Some(own) = current.own {
        e.family(
            "tend_supervisor_memory_bytes",
            Type::Gauge,
            "Resident memory of the daemon.",
        )
        .sample(&[], own.rss_bytes as f64);
        e.family(
            "tend_supervisor_cpu_percent",
            Type::Gauge,
            "CPU use of the daemon over the last sample interval, % of one core.",
        )
        .sample(&[], own.cpu_percent);
        e.family(
            "tend_supervisor_cpu_seconds_total",
            Type::Counter,
            "CPU time of the daemon.",
        )
        .sample(&[], own.cpu_seconds);
    }
    let mut f = e.family(
        "tend_supervisor_services",
        Type::Gauge,
        "Services in each status.",
    );
    for s in STATUSES {
        let n = sup.counts.get(s.as_str()).copied().unwrap_or(0);
        f.sample(&[("status", s.as_str())], n as f64);
    }
    let sm = current.sampler;
    e.family(
        "tend_metrics_samples_total",
        Type::Counter,
        "Samples taken by the metrics sampler.",
    )
    .sample(&[], sm.samples as f64);
    e.family(
        "tend_metrics_sample_cpu_seconds_total",
        Type::Counter,
        "CPU time the sampler spent reading /proc.",
    )
    .sample(&[], sm.cpu_seconds);
    e.family(
        "tend_metrics_last_sample_duration_seconds",
        Type::Gauge,
        "Wall time of the last sample's /proc reads.",
    )
    .sample(&[], sm.last_duration_s);
    e.family(
        "tend_metrics_sampled_processes",
        Type::Gauge,
        "Processes read by the last sample.",
    )
    .sample(&[], sm.last_processes as f64);

    // ---- services ----
    let mut f = e.family(
        "tend_service_up",
        Type::Gauge,
        "1 when the service is running.",
    );
    for (name, s) in &status.services {
        let up = if s.status == Status::Running {
            1.0
        } else {
            0.0
        };
        f.sample(&[("service", name)], up);
    }
    let mut f = e.family(
        "tend_service_state",
        Type::Gauge,
        "1 for the service's current lifecycle status.",
    );
    for (name, s) in &status.services {
        f.sample(&[("service", name), ("status", s.status.as_str())], 1.0);
    }
    let mut f = e.family(
        "tend_service_restarts",
        Type::Gauge,
        "Restarts since the service was last started by a user or at boot.",
    );
    for (name, s) in &status.services {
        f.sample(&[("service", name)], f64::from(s.restart_count));
    }
    let mut f = e.family(
        "tend_service_uptime_seconds",
        Type::Gauge,
        "Seconds since the current process started.",
    );
    for (name, s) in &status.services {
        if let Some(up) = s.uptime_s {
            f.sample(&[("service", name)], up);
        }
    }
    let mut f = e.family(
        "tend_service_healthy",
        Type::Gauge,
        "1 healthy, 0 unhealthy; absent without a health check or before its first result.",
    );
    for (name, s) in &status.services {
        let v = match s.health {
            Some(HealthState::Healthy) => 1.0,
            Some(HealthState::Unhealthy) => 0.0,
            _ => continue,
        };
        f.sample(&[("service", name)], v);
    }
    let services: Vec<(&str, &Figures)> = current
        .services
        .iter()
        .map(|(n, f)| (n.as_str(), f))
        .collect();
    figures(&mut e, "service", "service", &services);
    totals(&mut e, &current, Kind::Service, "service");
    let mut f = e.family(
        "tend_service_disk_bytes",
        Type::Gauge,
        "Disk usage of the service's watch_dirs at the last walk.",
    );
    for (name, d) in &current.disk {
        f.sample(&[("service", name)], d.bytes as f64);
    }
    let mut f = e.family(
        "tend_service_disk_walk_partial",
        Type::Gauge,
        "1 when the last disk walk hit its deadline (the figure is a lower bound).",
    );
    for (name, d) in &current.disk {
        f.sample(&[("service", name)], if d.partial { 1.0 } else { 0.0 });
    }

    // ---- jobs ----
    let jobs: Vec<(&str, &Figures)> = current
        .watched
        .iter()
        .filter(|((k, _), _)| *k == Kind::Job)
        .map(|((_, n), (f, _))| (n.as_str(), f))
        .collect();
    let mut f = e.family(
        "tend_job_running",
        Type::Gauge,
        "Executions of the cron job running at the last sample.",
    );
    for ((k, name), (_, n)) in &current.watched {
        if *k == Kind::Job {
            f.sample(&[("cron_job", name)], f64::from(*n));
        }
    }
    figures(&mut e, "job", "cron_job", &jobs);
    totals(&mut e, &current, Kind::Job, "cron_job");

    // ---- plugins ----
    let mut f = e.family(
        "tend_plugin_state",
        Type::Gauge,
        "1 for the plugin's state (loaded, suspended, rejected).",
    );
    for p in &plugins {
        let state = match p.state {
            PluginState::Loaded => "loaded",
            PluginState::Suspended => "suspended",
            PluginState::Rejected => "rejected",
        };
        f.sample(&[("plugin", &p.name), ("state", state)], 1.0);
    }
    let mut f = e.family(
        "tend_plugin_calls_total",
        Type::Counter,
        "Calls asked of the plugin, including those refused while suspended.",
    );
    for p in &plugins {
        f.sample(&[("plugin", &p.name)], p.stats.calls as f64);
    }
    let mut f = e.family(
        "tend_plugin_calls_ok_total",
        Type::Counter,
        "Calls that succeeded.",
    );
    for p in &plugins {
        f.sample(&[("plugin", &p.name)], p.stats.ok as f64);
    }
    let mut f = e.family(
        "tend_plugin_call_failures_total",
        Type::Counter,
        "Failed calls by outcome kind (trap, timeout, out_of_memory, denied, plugin_error, ...).",
    );
    for p in &plugins {
        for (kind, n) in &p.stats.failures {
            f.sample(&[("plugin", &p.name), ("kind", kind)], *n as f64);
        }
    }
    let mut f = e.family(
        "tend_plugin_denials_total",
        Type::Counter,
        "Capability requests the sandbox refused.",
    );
    for p in &plugins {
        f.sample(&[("plugin", &p.name)], p.stats.denials as f64);
    }
    let mut f = e.family(
        "tend_plugin_call_duration_seconds",
        Type::Histogram,
        "Call latency (no _sum: the plugin host keeps bucket counts only).",
    );
    for p in &plugins {
        let h = &p.stats.latency;
        let bounds: Vec<f64> = h.bounds_us.iter().map(|b| *b as f64 / 1e6).collect();
        f.histogram(&[("plugin", &p.name)], &bounds, &h.counts, None);
    }
    e.finish()
}

/// The gauges of the last sample, one family per figure: `tend_<subject>_<figure>`.
fn figures(e: &mut Exposition, subject: &str, label: &str, rows: &[(&str, &Figures)]) {
    type Get = fn(&Figures) -> f64;
    let families: [(&str, &str, Get); 7] = [
        (
            "cpu_percent",
            "CPU use of the whole process tree over the last interval, % of one core.",
            |f| f.cpu_percent,
        ),
        (
            "memory_bytes",
            "Resident memory of the whole process tree.",
            |f| f.rss_bytes as f64,
        ),
        ("processes", "Processes in the tree.", |f| {
            f.processes as f64
        }),
        ("threads", "Threads in the tree.", |f| f.threads as f64),
        ("open_fds", "Open file descriptors in the tree.", |f| {
            f.open_fds as f64
        }),
        (
            "read_bytes_per_second",
            "Storage reads of the tree over the last interval.",
            |f| f.read_bps,
        ),
        (
            "write_bytes_per_second",
            "Storage writes of the tree over the last interval.",
            |f| f.write_bps,
        ),
    ];
    for (figure, help, get) in families {
        let mut f = e.family(format!("tend_{subject}_{figure}"), Type::Gauge, help);
        for (n, fig) in rows {
            f.sample(&[(label, n)], get(fig));
        }
    }
}

/// The counters since the daemon started.
fn totals(e: &mut Exposition, current: &Current, kind: Kind, label: &str) {
    let names: [(&str, &str); 3] = match kind {
        Kind::Service => [
            (
                "tend_service_cpu_seconds_total",
                "CPU time of the service's process trees.",
            ),
            (
                "tend_service_read_bytes_total",
                "Storage bytes read by the service's trees.",
            ),
            (
                "tend_service_write_bytes_total",
                "Storage bytes written by the service's trees.",
            ),
        ],
        Kind::Job => [
            (
                "tend_job_cpu_seconds_total",
                "CPU time of the job's executions.",
            ),
            (
                "tend_job_read_bytes_total",
                "Storage bytes read by the job's executions.",
            ),
            (
                "tend_job_write_bytes_total",
                "Storage bytes written by the job's executions.",
            ),
        ],
    };
    for (i, (name, help)) in names.into_iter().enumerate() {
        let mut f = e.family(name, Type::Counter, help);
        for ((k, n), t) in &current.totals {
            if *k == kind {
                let v = match i {
                    0 => t.cpu_seconds,
                    1 => t.read_bytes as f64,
                    _ => t.write_bytes as f64,
                };
                f.sample(&[(label, n)], v);
            }
        }
    }
}
