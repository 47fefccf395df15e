//! Boots and stops the daemon: data dir (checked: owner, mode, token mode, no symlinks where tend's own
//! files go), single-instance lock, token, store (refused if it cannot be written), log recovery, log hub,
//! supervisor, API; systemd is told when it is ready and when it stops (`notify`).
//! `run` takes the shutdown trigger as a future so tests and `main` drive it the same way.

use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};

use crate::api::{self, AppState};
use crate::caddy::Caddy;
use crate::config::{DaemonArgs, Settings};
use crate::control::{self, ControlServer};
use crate::cron::Scheduler;
use crate::events::Bus;
use crate::logs::{self, LogHub};
use crate::metrics::Metrics;
use crate::ops::{Ops, SignIn};
use crate::plugins::PluginHost;
use crate::policy::Policy;
use crate::process;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::workflow::Workflows;

/// Runs `tend daemon` to completion: serves until SIGTERM/SIGINT or `POST /api/supervisor/shutdown`,
/// then stops every service and returns.
pub fn main(args: DaemonArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args)?;
    // SAFETY: nothing has started a thread yet (the log writer and the runtime come below).
    unsafe { crate::notify::scrub_env() };
    prepare_data_dir(&settings.data_dir)?;
    let _lock = lock_data_dir(&settings.data_dir)?;
    let _log = logs::init_daemon_log(&settings.data_dir, &settings.log_level, &settings.logs)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async { run(settings, terminate_signal()?).await });
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "daemon failed");
    }
    result
}

/// Registers the SIGTERM/SIGINT handlers now (before anything is started, so an early signal is never
/// fatal) and returns the future that resolves on the first of them.
fn terminate_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// Runs the daemon until `shutdown` resolves or the API asks it to stop.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let data_dir = settings.data_dir.clone();
    prepare_data_dir(&data_dir)?;
    process::init().context("cannot become a child subreaper")?;
    let nofile = process::raise_nofile_limit().context("cannot read the descriptor limit")?;
    let token: Arc<str> = load_or_create_token(&data_dir)?.into();
    // Before anything parses a spec (the API, onboarding): the defaults of the fields specs leave out.
    settings.spec_defaults.install();
    if !settings.host.is_loopback() && token.len() < 16 {
        bail!(
            "refusing to listen on non-loopback {} with a token shorter than 16 characters",
            settings.host
        );
    }
    let node = load_or_create_secret(&data_dir.join("node-id"), 6)?;
    process::contain(settings.containment, &node).context("cannot contain processes")?;
    let store = match Store::open(&data_dir.join("tend.db")).await {
        Ok(store) => store,
        Err(e) => {
            // We hold the lock: anything carrying this node's marker is a dead daemon's, unmanaged.
            crate::supervisor::stop_leftovers_unrecorded(None, &node).await;
            return Err(e).context("cannot open the store");
        }
    };
    // Nothing is started unless what it does can be recorded: a daemon that cannot write its store
    // would run services it could neither stop after a crash nor report.
    if let Err(e) = store.check_writable().await {
        // Refusing must not leave a killed predecessor's services running unmanaged either.
        crate::supervisor::stop_leftovers_unrecorded(Some(&store), &node).await;
        return Err(e).with_context(|| {
            format!(
                "the store {} cannot be written (is the disk full?); refusing to start any service",
                data_dir.join("tend.db").display()
            )
        });
    }
    let listener = listen_api(settings.host, settings.port)
        .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
    let addr = listener.local_addr()?;
    let control_listener = control::bind(settings.host, &settings.control).await?;
    // Before any capture writes the files: lines a killed daemon had not stored yet are in them.
    // Not fatal: the files keep the lines, and the next boot tries again.
    match logs::recover_from_files(&store, &data_dir.join("logs"), &settings.logs).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(lines = n, "log lines recovered from the log files"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot store the log lines recovered from the log files")
        }
    }
    let hub = LogHub::start(
        store.clone(),
        data_dir.join("logs"),
        settings.logs.clone(),
        settings.retention.clone(),
    );
    let bus = Bus::start(store.clone())
        .await
        .context("cannot start the event bus")?;
    // Before the plugin host: plugins granted `llm` call through it.
    let llm = crate::llm::Gateway::new(settings.llm.clone(), store.clone())
        .context("cannot start the LLM gateway")?;
    let plugin_settings = crate::plugins::PluginSettings {
        reserved_ports: reserved_ports(
            addr.port(),
            control_listener.as_ref().and_then(|l| l.local_addr().ok()),
            &settings.caddy.admin_url,
        ),
        ..settings.plugins.clone()
    };
    // The plugins load (compile, on a fresh data dir) while the services start: nothing a service
    // needs to start waits for them; a probe's first call does, and so does the API below.
    let plugins = PluginHost::begin(store.clone(), bus.clone(), &data_dir, plugin_settings)
        .context("cannot start the plugin host")?;
    // Agent plugins' `llm` imports complete through the same gateway as the API (one set of budgets,
    // counters and keys); with no `[llm]` models it answers `not-configured`.
    plugins.set_llm(Some(std::sync::Arc::new(llm.clone())));
    let sup = Supervisor::boot(
        store.clone(),
        hub.clone(),
        plugins.clone(),
        bus.clone(),
        node.clone(),
        data_dir.clone(),
        settings.file_services.clone(),
    )
    .await
    .context("cannot start the supervisor")?;
    let cron = Scheduler::boot(
        store.clone(),
        bus.clone(),
        node,
        &data_dir,
        settings.file_cron_jobs.clone(),
    )
    .await
    .context("cannot start the cron scheduler")?;
    let metrics = Metrics::start(
        settings.metrics.clone(),
        store.clone(),
        sup.clone(),
        plugins.clone(),
        bus.clone(),
    );
    cron.attach_metrics(metrics.clone());
    let policy = Policy::new(
        plugins.clone(),
        store.clone(),
        bus.clone(),
        settings.policy.clone(),
        crate::policy::HostFacts::gather(&data_dir),
    );
    let workflows = Workflows::new(sup.clone(), policy.clone(), store.clone(), bus.clone());
    workflows
        .recover()
        .await
        .context("cannot recover the custom-restart jobs of the previous daemon")?;
    let fixer = crate::fix::Fixer::new(
        settings.autofix.clone(),
        sup.clone(),
        cron.clone(),
        store.clone(),
        bus.clone(),
        policy.clone(),
        plugins.clone(),
        hub.clone(),
        &data_dir,
    );
    fixer.recover().await;
    fixer.watch();
    let onboarding = crate::onboard::Onboarding::new(
        settings.onboard.clone(),
        sup.clone(),
        cron.clone(),
        store.clone(),
        bus.clone(),
        policy.clone(),
        plugins.clone(),
        hub.clone(),
    );
    onboarding.recover().await;
    let caddy = Caddy::start(
        settings.caddy.clone(),
        sup.clone(),
        plugins.clone(),
        bus.clone(),
    )
    .context("cannot start the Caddy integration")?;

    let (shutdown_tx, mut shutdown_rx) = mpsc::channel(1);
    let (closing_tx, closing_rx) = watch::channel(false);
    let ops = Ops {
        sup: sup.clone(),
        store: store.clone(),
        hub: hub.clone(),
        plugins: plugins.clone(),
        cron: cron.clone(),
        metrics: metrics.clone(),
        policy,
        workflows: workflows.clone(),
        fixer: fixer.clone(),
        onboarding: onboarding.clone(),
        caddy: caddy.clone(),
        bus: bus.clone(),
        llm,
        data_dir: data_dir.clone(),
        shutdown: shutdown_tx,
        sign_in: SignIn::new(token.clone(), settings.api.session_ttl()),
        compat: settings.compat.clone(),
        export: settings.export.clone(),
    };
    let control = match control_listener {
        Some(listener) => Some(ControlServer::start(
            listener,
            settings.control.clone(),
            token.clone(),
            ops.clone(),
            closing_rx.clone(),
        )?),
        None => None,
    };
    let app = api::router(AppState {
        ops,
        token,
        closing: closing_rx.clone(),
        body_timeout: settings.api.body_timeout(),
        hosts: Arc::new(api::HostPolicy::new(
            settings.host,
            &settings.api.allowed_hosts,
        )),
    });
    // The control port's connections (and the few it is refusing) count against the same limit.
    let control_fds = if control.is_some() {
        settings.control.max_connections + control::MAX_REFUSING
    } else {
        0
    };
    let limits = api::Limits {
        max_connections: settings.api.connection_cap(nofile, control_fds),
        header_timeout: settings.api.header_timeout(),
        idle_timeout: settings.api.idle_timeout(),
    };
    tracing::info!(
        nofile,
        max_connections = limits.max_connections,
        "API connection limit"
    );
    // Clients see a host with every plugin loaded (`GET /api/plugins`, `/metrics`), as before the
    // services started first; until then they wait in the listen backlog.
    plugins.loaded().await;
    let server = tokio::spawn(api::serve(listener, app, limits, closing_rx.clone()));
    let url = format!("http://{addr}");
    // Services run by now: a failure here (a full disk) must stop them in order, not orphan them.
    let announced = write_daemon_json(&data_dir, &url, control.as_ref().map(ControlServer::addr));
    let notifier = crate::notify::Notifier::new(settings.notify.as_ref());
    match &announced {
        Ok(()) => {
            tracing::info!(%url, data_dir = %data_dir.display(), "tend is ready");
            // The API listens and the boot-time services were started: systemd may start what
            // comes after tend.
            notifier.ready(&sup);
            notifier.start(sup.clone(), bus.clone(), closing_rx.clone());
            tokio::select! {
                _ = shutdown => {}
                _ = shutdown_rx.recv() => tracing::info!("shutdown requested through the API"),
            }
        }
        Err(e) => tracing::error!(error = %format!("{e:#}"), "cannot write daemon.json; stopping"),
    }
    tracing::info!("stopping every service");
    notifier.stopping();
    caddy.shutdown().await;
    metrics.shutdown().await;
    cron.shutdown().await;
    workflows.shutdown().await;
    fixer.shutdown();
    onboarding.shutdown();
    sup.shutdown().await;
    process::release_containment();
    hub.shutdown().await;
    plugins.shutdown();
    // Everything that publishes has stopped: what it published is stored before streams end.
    bus.flush().await;
    let _ = closing_tx.send(true);
    if let Some(control) = control {
        control.stopped().await;
    }
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Err(e)) => tracing::error!(error = %e, "API server task failed"),
        Err(_) => tracing::warn!("API connections still open after 5 s; closing anyway"),
        Ok(Ok(())) => {}
    }
    store.close().await;
    let _ = fs::remove_file(data_dir.join("daemon.json"));
    tracing::info!("tend stopped");
    announced
}

/// The API's listener, with a listen backlog deep enough that connections beyond the connection cap
/// wait there (holding none of the daemon's descriptors) instead of being dropped mid-handshake.
fn listen_api(host: std::net::IpAddr, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    crate::listen::listen(std::net::SocketAddr::new(host, port), API_BACKLOG)
}

/// The kernel caps it at `net.core.somaxconn` (4096 on current kernels).
const API_BACKLOG: u32 = 4096;

/// Creates the data dir (mode 0700) if needed and refuses one that others could tamper with: it must
/// be a directory owned by the daemon's user and not writable by group or others, and tend's own files
/// in it must not be symlinks (tend writes them without following links, and refuses rather than
/// guess what a planted link meant). Errors name the path and the fix.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let meta =
        fs::metadata(dir).with_context(|| format!("cannot read data dir {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("data dir {} is not a directory", dir.display());
    }
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        bail!(
            "refusing data dir {}: it is owned by uid {}, not by the daemon's user (uid {me}); \
             fix: `chown {me} {}` or choose another --data-dir",
            dir.display(),
            meta.uid(),
            dir.display()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        bail!(
            "refusing data dir {}: it is writable by group or others (mode {mode:04o}); \
             fix: `chmod 700 {}`",
            dir.display(),
            dir.display()
        );
    }
    for name in OWN_FILES {
        let path = dir.join(name);
        if let Ok(m) = fs::symlink_metadata(&path)
            && m.file_type().is_symlink()
        {
            bail!(
                "refusing data dir {}: {} is a symlink; tend's own files must be regular files \
                 (fix: remove it)",
                dir.display(),
                path.display()
            );
        }
    }
    let token = dir.join("token");
    if let Ok(m) = fs::symlink_metadata(&token) {
        let mode = m.mode() & 0o777;
        if m.uid() != me || mode & 0o077 != 0 {
            bail!(
                "refusing {}: the API token must be readable by the daemon's user only \
                 (it has mode {mode:04o}, owner uid {}); fix: `chmod 600 {}` and check who read it, \
                 or delete it to get a new token",
                token.display(),
                m.uid(),
                token.display()
            );
        }
    }
    Ok(())
}

/// Files tend creates directly in the data dir; none may be a symlink.
const OWN_FILES: &[&str] = &[
    "token",
    "node-id",
    "daemon.lock",
    "daemon.json",
    "daemon.json.tmp",
    "tend.db",
    "tend.db-wal",
    "tend.db-shm",
    "tend.log",
    "logs",
    "plugins",
];

/// Holds an exclusive lock on `<data_dir>/daemon.lock` for the daemon's lifetime: two daemons on one
/// data dir would fight over the same processes.
fn lock_data_dir(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<fs::File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join("daemon.lock"))
        .with_context(|| format!("cannot open {}", dir.join("daemon.lock").display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "another tend daemon is already running on {} ({e})",
            dir.display()
        )
    })
}

/// `TEND_TOKEN` if set, else `SUPERVISOR_TOKEN` (the replaced supervisors' name), else the token file,
/// created (mode 0600) at first start.
fn load_or_create_token(dir: &Path) -> anyhow::Result<String> {
    for var in ["TEND_TOKEN", "SUPERVISOR_TOKEN"] {
        if let Ok(t) = std::env::var(var) {
            if t.trim().is_empty() {
                bail!("{var} is set but empty");
            }
            return Ok(t.trim().to_string());
        }
    }
    load_or_create_secret(&dir.join("token"), 32)
}

fn load_or_create_secret(path: &Path, bytes: usize) -> anyhow::Result<String> {
    if let Ok(existing) = fs::read_to_string(path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_string());
        }
    }
    let secret: String = (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    write_private(path, secret.as_bytes())?;
    Ok(secret)
}

/// Writes one of tend's own files in the data dir: a fresh `<name>.tmp` (mode 0600, created new, never
/// through a symlink: a stale one is removed first) synced and renamed over `path`, so a reader sees
/// the old or the new content and a planted link is replaced, not followed.
fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove {}", tmp.display()));
        }
        _ => {}
    }
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(content)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn write_daemon_json(
    dir: &Path,
    url: &str,
    control: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let mut body = serde_json::json!({ "pid": std::process::id(), "url": url });
    if let Some(control) = control {
        body["control"] = control.to_string().into();
    }
    write_private(&dir.join("daemon.json"), &serde_json::to_vec_pretty(&body)?)
}

/// The ports no plugin may reach: the API's, the control port's and Caddy's admin API's.
fn reserved_ports(
    api: u16,
    control: Option<std::net::SocketAddr>,
    caddy_admin_url: &str,
) -> Vec<u16> {
    let caddy = reqwest::Url::parse(caddy_admin_url)
        .ok()
        .and_then(|u| u.port_or_known_default());
    let mut ports: Vec<u16> = [Some(api), control.map(|a| a.port()), caddy]
        .into_iter()
        .flatten()
        .collect();
    ports.dedup();
    ports
}
