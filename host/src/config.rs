//! Daemon settings: flags, environment variables and the `tend.toml` file, merged in that order of
//! precedence (flag > env > file > default; among variables, `TEND_*` > the replaced systems' names,
//! `legacy_env.rs`). Owns parsing and validation of the file; knows nothing of HTTP or processes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::api::ApiSettings;
use crate::control::ControlSettings;
use crate::logs::LogSettings;
use crate::metrics::MetricsSettings;
use crate::plugins::PluginSettings;
use crate::process::ContainmentMode;
use crate::wire::{CronJobSpec, ServiceSpec};

/// Flags of `tend daemon`. Every flag has an environment variable; unset ones fall back to the
/// `[daemon]` table of the config file, then to the defaults.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DaemonArgs {
    /// Address to bind the REST API to (default 127.0.0.1).
    #[arg(long, env = "TEND_HOST")]
    pub host: Option<IpAddr>,
    /// REST API port (default 9900; 0 picks a free port, written to <data-dir>/daemon.json).
    #[arg(long, env = "TEND_PORT")]
    pub port: Option<u16>,
    /// Where the database, logs and token live (default: the user's data dir + /tend).
    #[arg(long, env = "TEND_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Declarative service file (default: <data-dir>/tend.toml when it exists).
    #[arg(long, env = "TEND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter for the daemon's own log (tracing EnvFilter syntax, default "info").
    #[arg(long, env = "TEND_LOG")]
    pub log_level: Option<String>,
    /// Rotate a service's log file when it reaches this size (default 10485760).
    #[arg(long, env = "LOG_MAX_BYTES")]
    pub log_max_bytes: Option<u64>,
    /// Rotated log files kept per service (default 5).
    #[arg(long, env = "LOG_BACKUP_COUNT")]
    pub log_backup_count: Option<u32>,
    /// Days of log lines kept in the database (default 7).
    #[arg(long, env = "LOG_RETENTION_DAYS")]
    pub log_retention_days: Option<u32>,
    /// Below this much free disk space (MiB) in the data dir, service output is dropped instead of
    /// logged, keeping room for the daemon's state (default 32; 0 disables the floor).
    #[arg(long, env = "LOG_MIN_FREE_MB")]
    pub log_min_free_mb: Option<u64>,
    /// Seconds between two resource samples of every service and running job (default 30, at least
    /// 1; `[metrics] interval_s` in the file).
    #[arg(long, env = "MONITOR_INTERVAL")]
    pub monitor_interval: Option<u64>,
    /// TCP control port on the API's host (default 9901; 0 disables it; `[control] port` in the file).
    #[arg(long, env = "TEND_CONTROL_PORT")]
    pub control_port: Option<u16>,
    /// The daemon's environment name for the command policy (default "development"; "production"
    /// requires commands declared allowed_in_production; `[policy] environment` in the file).
    #[arg(long, env = "TEND_ENVIRONMENT")]
    pub environment: Option<String>,
    /// How runs are contained: auto (cgroup v2 where a writable hierarchy exists, else process
    /// groups + markers + subreaper), cgroup (or refuse to start), process (`[supervisor] containment`).
    #[arg(long, env = "TEND_CONTAINMENT", value_enum)]
    pub containment: Option<ContainmentMode>,
}

/// The `[supervisor]` table of `tend.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSupervisor {
    containment: Option<ContainmentMode>,
    /// `max_restarts` of services that do not set it (`MAX_RESTART_ATTEMPTS` beats it).
    max_restarts: Option<u32>,
    /// `backoff.initial_delay_ms` of services that do not set it (`RESTART_DELAY` beats it).
    initial_delay_ms: Option<u64>,
}

/// What a service spec gets for the fields it leaves out, where the daemon can configure it. Resolved
/// when a spec is registered (API, `tend.toml`, onboarding): the stored spec holds the value, so
/// changing a default later changes only specs registered (or, for `tend.toml`, reloaded) after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecDefaults {
    pub max_restarts: u32,
    pub initial_delay_ms: u64,
}

impl SpecDefaults {
    /// Makes these the defaults of every spec parsed from now on in this process.
    pub fn install(&self) {
        crate::wire::set_spec_defaults(self.max_restarts, self.initial_delay_ms);
    }

    /// Writes the defaults into a `tend.toml` service table where it leaves the fields out (the
    /// file's services are parsed before [`SpecDefaults::install`] runs).
    fn fill(&self, table: &mut toml::Table) {
        table
            .entry("max_restarts")
            .or_insert(toml::Value::Integer(i64::from(self.max_restarts)));
        let initial = i64::try_from(self.initial_delay_ms).unwrap_or(i64::MAX);
        let backoff = table
            .entry("backoff")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(b) = backoff {
            b.entry("initial_delay_ms")
                .or_insert(toml::Value::Integer(initial));
            b.entry("max_delay_ms")
                .or_insert(toml::Value::Integer(initial.max(60_000)));
        }
    }
}

/// The `[daemon]` table of `tend.toml`: same keys as the flags.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDaemon {
    host: Option<IpAddr>,
    port: Option<u16>,
    log_level: Option<String>,
    log_max_bytes: Option<u64>,
    log_backup_count: Option<u32>,
    log_retention_days: Option<u32>,
    log_min_free_mb: Option<u64>,
}

/// A service entry in the file: the spec without `name` (the table key is the name).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    daemon: FileDaemon,
    /// `[supervisor]`: how runs are contained.
    #[serde(default)]
    supervisor: FileSupervisor,
    #[serde(default)]
    services: BTreeMap<String, toml::Table>,
    #[serde(default)]
    plugins: PluginSettings,
    #[serde(default)]
    metrics: MetricsSettings,
    /// `[cron.<name>]`: cron jobs, the spec without `name`.
    #[serde(default)]
    cron: BTreeMap<String, toml::Table>,
    /// `[control]`: the TCP control port.
    #[serde(default)]
    control: ControlSettings,
    /// `[api]`: the REST server's connection limit and timeouts.
    #[serde(default)]
    api: ApiSettings,
    /// `[policy]`: the command-safety policy.
    #[serde(default)]
    policy: crate::policy::PolicySettings,
    /// `[caddy]`: the Caddy integration (the `CADDY_*` variables beat it).
    #[serde(default)]
    caddy: crate::caddy::CaddyFile,
    /// `[retention]`: age and row limits of the audit, jobs and events tables.
    #[serde(default)]
    retention: crate::store::RetentionSettings,
    /// `[llm]`: the models of the LLM gateway.
    #[serde(default)]
    llm: crate::llm::LlmFile,
    /// `[autofix]`: modes, limits and backups of auto-fix (`AUTOFIX_*` beat it).
    #[serde(default)]
    autofix: crate::fix::AutofixSettings,
    /// `[onboard]`: where projects and their data dirs are, the onboarder plugin, confirmation time.
    #[serde(default)]
    onboard: crate::onboard::OnboardSettings,
    /// `[compat]`: the replaced dashboard's routes (`/dashboard/api/system/*`).
    #[serde(default)]
    compat: crate::ops::CompatSettings,
    /// `[export]`: the plugins of the export targets, and what the exports embed.
    #[serde(default)]
    export: crate::ops::ExportSettings,
}

/// Everything the daemon needs to run, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log_level: String,
    pub logs: LogSettings,
    /// What plugins may be granted at most (`[plugins]` table).
    pub plugins: PluginSettings,
    /// The metrics sampler (`[metrics]` table, `--monitor-interval`).
    pub metrics: MetricsSettings,
    /// Services declared in the config file, validated.
    pub file_services: Vec<ServiceSpec>,
    /// Cron jobs declared in the config file, validated.
    pub file_cron_jobs: Vec<CronJobSpec>,
    /// The TCP control port (`[control]` table, `--control-port`).
    pub control: ControlSettings,
    /// The REST server's connection limit and timeouts (`[api]` table).
    pub api: ApiSettings,
    /// The command-safety policy (`[policy]` table, `--environment`).
    pub policy: crate::policy::PolicySettings,
    /// The Caddy integration (`[caddy]` table, `CADDY_*`).
    pub caddy: crate::caddy::CaddySettings,
    /// How runs are contained (`[supervisor] containment`, `--containment`).
    pub containment: ContainmentMode,
    /// Retention of the audit, jobs and events tables (`[retention]` table).
    pub retention: crate::store::RetentionSettings,
    /// The LLM gateway's models and budgets (`[llm]` table).
    pub llm: crate::llm::LlmSettings,
    /// Auto-fix (`[autofix]` table, `AUTOFIX_ENABLED`, `AUTOFIX_TIMEOUT`).
    pub autofix: crate::fix::AutofixSettings,
    /// Onboarding (`[onboard]` table), `~/` expanded.
    pub onboard: crate::onboard::OnboardSettings,
    /// Defaults of spec fields (`[supervisor] max_restarts`/`initial_delay_ms`,
    /// `MAX_RESTART_ATTEMPTS`, `RESTART_DELAY`).
    pub spec_defaults: SpecDefaults,
    /// The replaced dashboard's routes (`[compat]` table).
    pub compat: crate::ops::CompatSettings,
    /// Exports to other engines (`[export]` table).
    pub export: crate::ops::ExportSettings,
    /// systemd's notification socket and watchdog (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    pub notify: Option<crate::notify::NotifyConfig>,
}

/// The data dir used when neither flag nor env names one: `<the user's data dir>/tend`. There is no
/// fallback to a shared temp dir, where another user could have prepared `tend/` (and its token).
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    match dirs::data_dir() {
        Some(dir) => Ok(dir.join("tend")),
        None => bail!(
            "cannot find the user's data dir (no HOME or XDG_DATA_HOME); pass --data-dir or set TEND_DATA_DIR"
        ),
    }
}

impl Settings {
    /// Resolves the settings from `args` (flags and the `TEND_*` variables clap read), the process's
    /// other environment variables and the config file.
    pub fn resolve(args: DaemonArgs) -> anyhow::Result<Settings> {
        Settings::resolve_env(args, &|k| std::env::var(k).ok())
    }

    /// [`Settings::resolve`] for `tend agent --service NAME`: of the file's services only `[services.NAME]`
    /// is parsed and validated (in a container, the other services' working dirs and env files are not
    /// there), and no cron job (the agent runs none); an error names NAME and the services the file has.
    pub fn resolve_one_service(args: DaemonArgs, name: &str) -> anyhow::Result<Settings> {
        Settings::resolve_with(args, &|k| std::env::var(k).ok(), Some(name))
    }

    /// [`Settings::resolve`] with the environment read through `env` (tests).
    fn resolve_env(
        args: DaemonArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Settings> {
        Settings::resolve_with(args, env, None)
    }

    fn resolve_with(
        args: DaemonArgs,
        env: &dyn Fn(&str) -> Option<String>,
        only: Option<&str>,
    ) -> anyhow::Result<Settings> {
        let legacy = crate::legacy_env::read(env).map_err(anyhow::Error::msg)?;
        let data_dir = match args.data_dir.clone() {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        let config_path = match &args.config {
            Some(p) => Some(p.clone()),
            None => Some(data_dir.join("tend.toml")).filter(|p| p.exists()),
        };
        let mut file = match &config_path {
            Some(p) => load_file(p)?,
            None => ConfigFile::default(),
        };
        if let Some(name) = only {
            let file_name = config_path.as_deref().unwrap_or(Path::new("tend.toml"));
            let Some(table) = file.services.remove(name) else {
                let have: Vec<&str> = file.services.keys().map(String::as_str).collect();
                if have.is_empty() {
                    bail!(
                        "--service: no service {name:?} in {}: it has no [services.*] tables",
                        file_name.display()
                    );
                }
                bail!(
                    "--service: no service {name:?} in {}; it has: {}",
                    file_name.display(),
                    have.join(", ")
                );
            };
            file.services = BTreeMap::from([(name.to_string(), table)]);
            file.cron.clear();
        }
        let d = file.daemon;
        let defaults = LogSettings::default();
        let logs = LogSettings {
            max_bytes: args
                .log_max_bytes
                .or(d.log_max_bytes)
                .unwrap_or(defaults.max_bytes),
            backup_count: args
                .log_backup_count
                .or(d.log_backup_count)
                .unwrap_or(defaults.backup_count),
            retention_days: args
                .log_retention_days
                .or(d.log_retention_days)
                .unwrap_or(defaults.retention_days),
            min_free_mb: args
                .log_min_free_mb
                .or(d.log_min_free_mb)
                .unwrap_or(defaults.min_free_mb),
            ..defaults
        };
        if logs.max_bytes < 1024 {
            bail!(
                "log_max_bytes must be at least 1024, got {}",
                logs.max_bytes
            );
        }
        // Upper bounds, so that no setting can overflow the arithmetic made with it or make rotation
        // walk billions of files.
        for (key, value, max) in [
            ("log_max_bytes", logs.max_bytes, 1u64 << 40),
            ("log_backup_count", u64::from(logs.backup_count), 1000),
            ("log_retention_days", u64::from(logs.retention_days), 36_500),
            ("log_min_free_mb", logs.min_free_mb, 1 << 24),
        ] {
            if value > max {
                bail!("{key} must be at most {max}, got {value}");
            }
        }
        let metrics = MetricsSettings {
            interval_s: args.monitor_interval.unwrap_or(file.metrics.interval_s),
            ..file.metrics
        };
        metrics.validate().map_err(|e| anyhow::anyhow!(e))?;
        let spec_defaults = SpecDefaults {
            max_restarts: legacy
                .max_restarts
                .or(file.supervisor.max_restarts)
                .unwrap_or(crate::wire::BUILTIN_MAX_RESTARTS),
            initial_delay_ms: legacy
                .initial_delay_ms
                .or(file.supervisor.initial_delay_ms)
                .unwrap_or(crate::wire::BUILTIN_INITIAL_DELAY_MS),
        };
        if spec_defaults.max_restarts > crate::spec::MAX_RESTARTS {
            bail!(
                "supervisor.max_restarts must be at most {}, got {}",
                crate::spec::MAX_RESTARTS,
                spec_defaults.max_restarts
            );
        }
        if spec_defaults.initial_delay_ms > crate::spec::MAX_BACKOFF_DELAY_MS {
            bail!(
                "supervisor.initial_delay_ms must be at most {} (one day), got {}",
                crate::spec::MAX_BACKOFF_DELAY_MS,
                spec_defaults.initial_delay_ms
            );
        }
        let mut file_services = Vec::new();
        for (name, table) in file.services {
            let mut table = table;
            if table.contains_key("name") {
                bail!(
                    "service {name:?} in the config file: `name` comes from the table key; remove it"
                );
            }
            table.insert("name".into(), toml::Value::String(name.clone()));
            spec_defaults.fill(&mut table);
            let mut spec: ServiceSpec = toml::Value::Table(table)
                .try_into()
                .with_context(|| format!("service {name:?} in the config file"))?;
            // Relative working dirs are relative to the file, so a checked-in tend.toml works anywhere.
            if let (Some(dir), Some(file)) = (&spec.working_dir, &config_path)
                && dir.is_relative()
            {
                let base = file.parent().unwrap_or(Path::new("."));
                let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
                spec.working_dir = Some(base.join(dir));
            }
            crate::spec::validate(&spec).map_err(|e| {
                anyhow::anyhow!(
                    "service {name:?} in the config file: {}: {}",
                    e.field,
                    e.message
                )
            })?;
            file_services.push(spec);
        }
        let file_cron_jobs = file_cron_jobs(file.cron, config_path.as_deref())?;
        let control = ControlSettings {
            port: args.control_port.unwrap_or(file.control.port),
            ..file.control
        };
        control.validate().map_err(anyhow::Error::msg)?;
        file.api.validate().map_err(anyhow::Error::msg)?;
        file.retention.validate().map_err(anyhow::Error::msg)?;
        file.compat.validate().map_err(anyhow::Error::msg)?;
        file.export.validate().map_err(anyhow::Error::msg)?;
        let policy = file.policy.with_env(args.environment);
        policy.validate().map_err(anyhow::Error::msg)?;
        let caddy = crate::caddy::CaddySettings::resolve(file.caddy, env, &data_dir)
            .map_err(anyhow::Error::msg)?;
        let llm = file.llm.resolve().map_err(anyhow::Error::msg)?;
        let autofix = file.autofix.with_env(env).map_err(anyhow::Error::msg)?;
        autofix.validate().map_err(anyhow::Error::msg)?;
        let onboard = file
            .onboard
            .resolve(dirs::home_dir().as_deref())
            .map_err(anyhow::Error::msg)?;
        let notify = crate::notify::NotifyConfig::from_env(env).map_err(anyhow::Error::msg)?;
        Ok(Settings {
            // tend's default stays loopback (the seeds' was 0.0.0.0): another address is used only
            // when asked for, and then under the non-loopback rules of `daemon::run`.
            host: args
                .host
                .or(legacy.host)
                .or(d.host)
                .unwrap_or(IpAddr::from([127, 0, 0, 1])),
            port: args
                .port
                .or(legacy.port)
                .or(d.port)
                .unwrap_or(crate::wire::DEFAULT_PORT),
            data_dir,
            log_level: args
                .log_level
                .or(legacy.log_level)
                .or(d.log_level)
                .unwrap_or_else(|| "info".into()),
            logs,
            plugins: file.plugins,
            metrics,
            file_services,
            file_cron_jobs,
            control,
            api: file.api,
            policy,
            caddy,
            containment: args
                .containment
                .or(file.supervisor.containment)
                .unwrap_or_default(),
            retention: file.retention,
            llm,
            autofix,
            onboard,
            spec_defaults,
            compat: file.compat,
            export: file.export,
            notify,
        })
    }
}

/// `[cron.<name>]` tables as validated specs; relative working dirs are taken from the file's dir.
fn file_cron_jobs(
    tables: BTreeMap<String, toml::Table>,
    config_path: Option<&Path>,
) -> anyhow::Result<Vec<CronJobSpec>> {
    let mut jobs = Vec::new();
    for (name, mut table) in tables {
        if table.contains_key("name") {
            bail!(
                "cron job {name:?} in the config file: `name` comes from the table key; remove it"
            );
        }
        table.insert("name".into(), toml::Value::String(name.clone()));
        let mut spec: CronJobSpec = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("cron job {name:?} in the config file"))?;
        if let (Some(dir), Some(file)) = (&spec.working_dir, config_path)
            && dir.is_relative()
        {
            let base = file.parent().unwrap_or(Path::new("."));
            let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
            spec.working_dir = Some(base.join(dir));
        }
        crate::cron::validate_spec(&spec).map_err(|e| {
            anyhow::anyhow!(
                "cron job {name:?} in the config file: {}: {}",
                e.field,
                e.message
            )
        })?;
        jobs.push(spec);
    }
    Ok(jobs)
}

fn load_file(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("tend.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn file_services_take_their_name_from_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[daemon]\nport = 1234\n[services.web]\ncommand = \"sleep 10\"\nrestart = \"on-failure\"\n",
        );
        let s = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.port, 1234);
        assert_eq!(s.file_services.len(), 1);
        assert_eq!(s.file_services[0].name, "web");
    }

    #[test]
    fn relative_working_dir_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        let p = write(
            dir.path(),
            "[services.web]\ncommand = \"true\"\nworking_dir = \"app\"\n",
        );
        let s = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            s.file_services[0].working_dir.as_deref(),
            Some(dir.path().join("app").as_path())
        );
    }

    #[test]
    fn plugins_table_sets_the_grant_ceiling() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[plugins]\nallow_hosts = [\"example.test\"]\nmax_memory_mb = 64\n",
        );
        let s = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.plugins.allow_hosts, vec!["example.test".to_string()]);
        assert_eq!(s.plugins.max_memory_mb, 64);
        assert_eq!(
            s.plugins.max_timeout_ms,
            PluginSettings::default().max_timeout_ms
        );
    }

    #[test]
    fn monitor_interval_flag_beats_the_metrics_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[metrics]\ninterval_s = 30\npublic = true\ndisk_interval_s = 60\n",
        );
        let args = DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        };
        let s = Settings::resolve(args.clone()).unwrap();
        assert_eq!((s.metrics.interval_s, s.metrics.public), (30, true));
        assert_eq!(s.metrics.disk_interval_s, 60);
        let s = Settings::resolve(DaemonArgs {
            monitor_interval: Some(1),
            ..args.clone()
        })
        .unwrap();
        assert_eq!(s.metrics.interval_s, 1);
        let err = Settings::resolve(DaemonArgs {
            monitor_interval: Some(0),
            ..args
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("interval"), "{err:#}");
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn legacy_variables_come_after_flags_and_tend_names_and_before_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[daemon]\nport = 1234\nhost = \"127.0.0.2\"\nlog_level = \"debug\"\n\
             [supervisor]\nmax_restarts = 5\ninitial_delay_ms = 300\n\
             [services.web]\ncommand = \"true\"\n\
             [services.set]\ncommand = \"true\"\nmax_restarts = 7\nbackoff = { initial_delay_ms = 50 }\n",
        );
        let args = DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        };
        let legacy = env_of(&[
            ("SUPERVISOR_PORT", "8081"),
            ("SUPERVISOR_HOST", "0.0.0.0"),
            ("SUPERVISOR_LOG_LEVEL", "warning"),
            ("MAX_RESTART_ATTEMPTS", "3"),
            ("RESTART_DELAY", "5"),
        ]);
        let s = Settings::resolve_env(args.clone(), &legacy).unwrap();
        assert_eq!(s.port, 8081);
        assert_eq!(s.host, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(s.log_level, "warn");
        assert_eq!(
            s.spec_defaults,
            SpecDefaults {
                max_restarts: 3,
                initial_delay_ms: 5000
            }
        );
        let spec = |name: &str| s.file_services.iter().find(|x| x.name == name).unwrap();
        assert_eq!(spec("web").max_restarts, 3);
        assert_eq!(spec("web").backoff.initial_delay_ms, 5000);
        assert_eq!(spec("web").backoff.max_delay_ms, 60_000);
        // What a service sets is its own.
        assert_eq!(spec("set").max_restarts, 7);
        assert_eq!(spec("set").backoff.initial_delay_ms, 50);

        // A flag (or its TEND_* variable, which clap puts in the same place) beats the legacy name.
        let s = Settings::resolve_env(
            DaemonArgs {
                port: Some(99),
                host: Some(IpAddr::from([127, 0, 0, 3])),
                log_level: Some("error".into()),
                ..args.clone()
            },
            &legacy,
        )
        .unwrap();
        assert_eq!(
            (s.port, s.host, s.log_level.as_str()),
            (99, IpAddr::from([127, 0, 0, 3]), "error")
        );

        // Without them, the file.
        let s = Settings::resolve_env(args.clone(), &env_of(&[])).unwrap();
        assert_eq!(
            (s.port, s.host, s.log_level.as_str()),
            (1234, IpAddr::from([127, 0, 0, 2]), "debug")
        );
        assert_eq!(
            s.spec_defaults,
            SpecDefaults {
                max_restarts: 5,
                initial_delay_ms: 300
            }
        );

        let err =
            Settings::resolve_env(args, &env_of(&[("MAX_RESTART_ATTEMPTS", "many")])).unwrap_err();
        assert!(
            format!("{err:#}").contains("MAX_RESTART_ATTEMPTS"),
            "{err:#}"
        );
    }

    #[test]
    fn without_anything_the_host_is_loopback_and_the_defaults_are_builtin() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings::resolve_env(
            DaemonArgs {
                data_dir: Some(dir.path().into()),
                ..Default::default()
            },
            &env_of(&[]),
        )
        .unwrap();
        assert!(s.host.is_loopback());
        assert_eq!(s.port, crate::wire::DEFAULT_PORT);
        assert_eq!(
            s.spec_defaults,
            SpecDefaults {
                max_restarts: 10,
                initial_delay_ms: 1000
            }
        );
        assert_eq!(s.notify, None);
    }

    #[test]
    fn flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[daemon]\nport = 1234\n");
        let s = Settings::resolve(DaemonArgs {
            config: Some(p),
            port: Some(99),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.port, 99);
    }

    #[test]
    fn bad_service_in_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[services.web]\ncommand = \"x\"\nbogus = 1\n");
        let err = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("web"), "{err:#}");
        let p = write(dir.path(), "[services.\"Bad Name\"]\ncommand = \"x\"\n");
        let err = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("name"), "{err:#}");
    }

    #[test]
    fn cron_tables_become_validated_jobs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        let p = write(
            dir.path(),
            "[cron.backup]\ncommand = \"true\"\nschedule = \"0 2 * * *\"\nworking_dir = \"jobs\"\noverlap = \"queue\"\n",
        );
        let s = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.file_cron_jobs.len(), 1);
        let job = &s.file_cron_jobs[0];
        assert_eq!(job.name, "backup");
        assert_eq!(job.overlap, crate::wire::Overlap::Queue);
        assert_eq!(
            job.working_dir.as_deref(),
            Some(dir.path().join("jobs").as_path())
        );
        let p = write(
            dir.path(),
            "[cron.bad]\ncommand = \"true\"\nschedule = \"61 * * * *\"\n",
        );
        let err = Settings::resolve(DaemonArgs {
            config: Some(p),
            data_dir: Some(dir.path().into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("bad") && format!("{err:#}").contains("schedule"),
            "{err:#}"
        );
    }
}
