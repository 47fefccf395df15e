//! `tend agent --service NAME`: the container entrypoint (pm2-runtime's role). Runs ONE service of a
//! normal `tend.toml` in the foreground with tend's semantics and no daemon: no database, no data dir
//! (when the service has a health check, a throw-away temp dir holds the plugin host's store and
//! compiled code, removed at exit), no API but `GET /healthz/NAME` (`api/agent.rs`), which runs the
//! service's health check through its WebAssembly probe on each request, so a Kubernetes or Nomad
//! probe pointed at it keeps custom probes. User plugins come from the `plugins/` dir next to the
//! config file (the daemon's layout: `<data_dir>/tend.toml` beside `<data_dir>/plugins`).
//!
//! What it reuses rather than repeats: the config loader (`config::Settings`), the pure lifecycle and
//! backoff (`lifecycle`, driven by `run.rs`), `process::Run` for every run (session or cgroup, whole
//! tree stopped), the probe call (`supervisor::check_once`). Restart inside the container is `never`
//! by default (the engine restarts the container); `--keep-restart` applies the service's own policy.
//! Exit status: the service's (its code, 128 + signal number), 127 when it could not be started, 2
//! when the agent itself could not start (flags, config, unknown service, port taken).

mod health;
mod run;

pub use health::Healthz;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{OnceCell, watch};

use crate::config::{DaemonArgs, Settings};
use crate::events::Bus;
use crate::plugins::{PluginHost, PluginSettings};
use crate::process;
use crate::store::Store;
use crate::wire::{ServiceSpec, Status};

/// The agent's exit status when it could not start supervising (bad config, unknown service, port
/// taken), as clap's for bad flags.
const AGENT_FAILED: u8 = 2;

/// Flags of `tend agent`.
#[derive(Clone, Debug, clap::Args)]
pub struct AgentArgs {
    /// The service to run: the `[services.NAME]` table of the config file
    #[arg(long)]
    pub service: String,
    /// The tend.toml to read the service (and `[plugins]`, `[supervisor]`) from; user plugins are
    /// loaded from the `plugins/` directory next to it
    #[arg(long, default_value = "tend.toml")]
    pub config: PathBuf,
    /// Address of the health endpoint `GET /healthz/NAME`
    #[arg(long, default_value = "127.0.0.1:9902")]
    pub listen: SocketAddr,
    /// Restart the service under its own restart policy, backoff and max_restarts (default: never
    /// restart; the container engine restarts the container)
    #[arg(long)]
    pub keep_restart: bool,
}

/// Runs `tend agent` to completion and returns its exit status.
pub fn main(args: AgentArgs) -> ExitCode {
    match boot(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tend agent: error: {e:#}");
            ExitCode::from(AGENT_FAILED)
        }
    }
}

fn boot(args: AgentArgs) -> anyhow::Result<u8> {
    let settings = Settings::resolve_one_service(
        DaemonArgs {
            config: Some(args.config.clone()),
            // Only paths are derived from it (nothing of the daemon's is written): the temp dir's parent.
            data_dir: Some(std::env::temp_dir()),
            ..DaemonArgs::default()
        },
        &args.service,
    )?;
    let spec = settings
        .file_services
        .first()
        .cloned()
        .context("the config file's service is missing")?;
    init_log();
    // The plugin host's store and compiled code, only when there is a probe to run.
    let scratch = match spec.effective_health() {
        Some(_) => Some(
            tempfile::Builder::new()
                .prefix("tend-agent-")
                .tempdir()
                .context("cannot create the agent's temp dir (for its plugin host; set TMPDIR)")?,
        ),
        None => None,
    };
    let user_plugins = args
        .config
        .parent()
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            }
        })
        .map(|dir| dir.join("plugins"))
        .filter(|dir| dir.is_dir());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let plugins = scratch.as_ref().map(|dir| PluginPlace {
        scratch: dir.path().to_path_buf(),
        // Never created next to the config file: a missing dir means no user plugins.
        user: user_plugins.unwrap_or_else(|| dir.path().join("plugins")),
    });
    let code = runtime.block_on(run(args, spec, settings, plugins))?;
    // The plugin runtime's threads and the bus's writer end with the runtime, before the temp dir goes.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    drop(scratch);
    Ok(code)
}

/// Where the plugin host keeps its store and compiled code, and where user plugins are.
struct PluginPlace {
    scratch: PathBuf,
    user: PathBuf,
}

/// The agent's own diagnostics go to stderr (the service's output is on stdout/stderr too, each line
/// whole); `TEND_LOG` filters them, warnings and errors by default.
fn init_log() {
    let filter = std::env::var("TEND_LOG").unwrap_or_else(|_| "warn".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(
    args: AgentArgs,
    spec: ServiceSpec,
    settings: Settings,
    place: Option<PluginPlace>,
) -> anyhow::Result<u8> {
    // Before anything starts, so an early SIGTERM is a stop, never the default fatal action.
    let stop = stop_signal()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "--listen: cannot listen on {} for /healthz (another agent on that port?)",
                args.listen
            )
        })?;
    let listen_port = listener.local_addr()?.port();
    process::init().context("cannot become a child subreaper")?;
    let node = format!("agent-{}", std::process::id());
    process::contain(settings.containment, &node).context("cannot contain processes")?;

    let (status_tx, status_rx) = watch::channel(Status::Starting);
    let plugins: Arc<OnceCell<Result<PluginHost, String>>> = Arc::default();
    let health = spec.effective_health();
    if let Some(place) = place {
        // Loaded beside the service, not before it: the service's start never waits for compilation.
        let cell = plugins.clone();
        let plugin_settings = PluginSettings {
            // A probe must not call the agent's own endpoint (it would check itself).
            reserved_ports: vec![listen_port],
            ..settings.plugins.clone()
        };
        tokio::spawn(async move {
            let host = start_plugins(place, plugin_settings)
                .await
                .map_err(|e| format!("{e:#}"));
            if let Err(e) = &host {
                eprintln!("tend agent: error: cannot start the plugin host: {e}");
            }
            let _ = cell.set(host);
        });
    }
    let healthz = Healthz::new(
        spec.name.clone(),
        spec.port,
        health,
        status_rx,
        plugins.clone(),
    );
    let server = tokio::spawn(crate::api::agent::serve(listener, healthz));
    let policy = run::agent_policy(&spec, args.keep_restart);
    let code = run::Driver::new(spec, policy, status_tx).drive(stop).await;
    server.abort();
    if let Some(Ok(host)) = plugins.get() {
        host.shutdown();
    }
    process::release_containment();
    Ok(code)
}

async fn start_plugins(place: PluginPlace, settings: PluginSettings) -> anyhow::Result<PluginHost> {
    let store = Store::open(&place.scratch.join("tend.db")).await?;
    let bus = Bus::start(store.clone()).await?;
    PluginHost::start_in(store, bus, &place.scratch, place.user, settings).await
}

/// Resolves on the first SIGTERM or SIGINT.
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => eprintln!("tend agent: SIGTERM received; stopping"),
            _ = int.recv() => eprintln!("tend agent: SIGINT received; stopping"),
        }
    })
}
