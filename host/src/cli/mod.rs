//! The `tend` command line: argument parsing and dispatch. `tend daemon` hands over to
//! `crate::daemon`; every other command is a client of the REST API (`client`) whose failures map to
//! the exit codes of the contract. Owns no daemon logic and never touches the data dir except to read
//! `daemon.json` and `token`.

mod add;
mod caddy;
mod chat;
mod client;
mod commands;
mod cron;
mod dashboard;
mod edit;
mod export;
mod fix;
mod graph;
mod import;
mod llm;
mod onboard;
mod plugin;
mod policy;
mod render;
mod sse;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reqwest::Url;

use crate::config::DaemonArgs;

#[derive(Debug, Parser)]
#[command(name = "tend", version, about = "A service supervisor")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every client command understands, before or after the subcommand.
#[derive(Clone, Debug, clap::Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// Daemon URL [default: `url` in <data-dir>/daemon.json, else http://127.0.0.1:9900]
    #[arg(long, global = true, env = "TEND_URL", value_parser = client::parse_url)]
    url: Option<Url>,
    /// The daemon's data dir, where daemon.json and token are found [default: the user's data dir + /tend]
    #[arg(long, global = true, env = "TEND_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Bearer token [default: contents of <data-dir>/token]
    #[arg(long, global = true, env = "TEND_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of tables
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the supervisor daemon in the foreground
    Daemon(DaemonArgs),
    /// Run one service of a tend.toml in the foreground, without a daemon (a container's entrypoint),
    /// with `GET /healthz/NAME` running its health check
    Agent(crate::agent::AgentArgs),
    /// Show the supervisor and its services, or one service; -w prints transitions live
    Status {
        /// Only this service
        name: Option<String>,
        /// Print every state transition as it happens, until Ctrl-C
        #[arg(short, long)]
        watch: bool,
    },
    /// List services
    #[command(visible_alias = "list")]
    Ls,
    /// Register a service: `tend add NAME [FLAGS] -- PROGRAM [ARGS...]`
    Add(add::AddArgs),
    /// Stop a service and remove its definition (its logs and events are kept)
    #[command(visible_alias = "remove")]
    Rm {
        /// Service name
        name: String,
    },
    /// Start a service
    Start {
        /// Service name
        name: String,
    },
    /// Stop a service and its whole process tree
    Stop {
        /// Service name
        name: String,
    },
    /// Restart a service
    Restart {
        /// Service name
        name: String,
    },
    /// Change a service's spec with --set, or in $VISUAL/$EDITOR without it
    Edit {
        /// Service name
        name: String,
        /// FIELD=VALUE; VALUE is JSON when it parses, else a string; FIELD may be dotted
        /// (backoff.initial_delay_ms, env.KEY)
        #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = edit::parse_set)]
        set: Vec<edit::Assignment>,
    },
    /// Print a service's output
    Logs(commands::LogsArgs),
    /// Inspect and reload WebAssembly plugins
    Plugin {
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
    /// The Caddy reverse proxy: show what tend generates, reload it now
    Caddy {
        #[command(subcommand)]
        command: caddy::CaddyCommand,
    },
    /// The LLM gateway: the configured models, budgets and today's usage; `tend llm test PROMPT`
    Llm {
        #[command(subcommand)]
        command: Option<llm::LlmCommand>,
    },
    /// Ask the configured model about your services (read-only tools; actions only proposed)
    Chat(chat::ChatArgs),
    /// The command policy's decisions, newest first
    Audit(policy::AuditArgs),
    /// The command-safety policy: `tend policy check -- COMMAND...`
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Cron jobs: ls, add, rm, run, stop, history, validate
    Cron {
        #[command(subcommand)]
        command: cron::CronCommand,
    },
    /// Run pre-commands, restart with extra args for that run only, run post-commands (a background
    /// job, followed until it ends unless --detach)
    CustomRestart(workflow::CustomRestartArgs),
    /// Show one background job and its steps; with --cancel, cancel it
    Job {
        /// Job id
        id: String,
        /// Cancel the job: stop its running command's process tree and skip the rest (a restart in
        /// progress is let finish)
        #[arg(long)]
        cancel: bool,
    },
    /// List background jobs, newest first
    Jobs(workflow::JobsArgs),
    /// Print (and open, where a browser can show) a one-time sign-in link to the web dashboard
    Dashboard(dashboard::DashboardArgs),
    /// Ask the fixer to fix a service (or a cron job with --cron); or `tend fix show|approve|reject|restore ID`
    Fix(fix::FixArgs),
    /// List a service's (or a cron job's) fixes, newest first
    Fixes(fix::FixesArgs),
    /// Onboard a project: preview its plan (--preview) or apply it and follow the job
    Onboard(onboard::OnboardArgs),
    /// The services' dependencies as a tree (each line: condition and current state); --json: the graph
    Graph {
        /// Only this service and what it depends on
        name: Option<String>,
    },
    /// Register the services of another supervisor's file (supervisord, PM2, process-compose,
    /// Procfile, docker-compose, MagicTunnel); every field without an equivalent is warned about
    Import(import::ImportArgs),
    /// Render the services and cron jobs for another engine (k8s, nomad, or a deploy-export
    /// plugin): print the documents or write them under --out; every field that does not carry
    /// over is a warning on stderr
    Export(export::ExportArgs),
    /// Compile the built-in plugins and append their code to the `tend` executable at --into (run
    /// from a copy: the running file cannot be written); `cargo xtask` runs it after each build
    #[command(name = "__precompile-builtins", hide = true)]
    PrecompileBuiltins {
        /// The executable to write (in place); the same build as this one
        #[arg(long)]
        into: PathBuf,
        /// Remove the precompiled code instead
        #[arg(long)]
        remove: bool,
    },
    /// Compile one plugin component to a file (the daemon's short-lived compile child)
    #[command(name = "__compile-plugin", hide = true)]
    CompilePlugin {
        #[arg(long)]
        max_memory_mb: u64,
        input: PathBuf,
        output: PathBuf,
    },
}

/// Entry point of the `tend` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Daemon(mut args) => {
            args.data_dir = args.data_dir.or(cli.global.data_dir);
            match crate::daemon::main(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Agent(args) => crate::agent::main(args),
        Command::CompilePlugin {
            max_memory_mb,
            input,
            output,
        } => crate::plugins::compile_plugin(&input, &output, max_memory_mb),
        Command::PrecompileBuiltins { into, remove } => {
            let done = if remove {
                crate::plugins::remove_builtins(&into).map(|had| {
                    format!(
                        "{}: {}",
                        into.display(),
                        if had {
                            "precompiled built-ins removed"
                        } else {
                            "had no precompiled built-ins"
                        }
                    )
                })
            } else {
                crate::plugins::precompile_builtins(&into)
                    .map(|n| format!("{}: {n} built-in plugins precompiled", into.display()))
            };
            match done {
                Ok(msg) => {
                    println!("{msg}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        command => {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    client::CliError::Other(anyhow::anyhow!("cannot start the async runtime: {e}"))
                })
                .and_then(|rt| rt.block_on(run(cli.global, command)));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    if !matches!(e, client::CliError::BrokenPipe) {
                        eprintln!("error: {e}");
                    }
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}

async fn run(global: GlobalArgs, command: Command) -> Result<(), client::CliError> {
    let data_dir = match global.data_dir {
        Some(dir) => dir,
        None => crate::config::default_data_dir().map_err(client::CliError::Other)?,
    };
    let endpoint = client::discover(global.url, global.token, &data_dir);
    let ctx = commands::Ctx {
        client: client::Client::new(endpoint)?,
        json: global.json,
    };
    match command {
        // `main` runs the daemon without this runtime; reaching here would be a dispatch mistake.
        Command::Daemon(_)
        | Command::Agent(_)
        | Command::CompilePlugin { .. }
        | Command::PrecompileBuiltins { .. } => Err(client::CliError::Other(anyhow::anyhow!(
            "`tend daemon`, `tend agent` and the hidden build commands cannot run as a client"
        ))),
        Command::Status { name, watch: true } => ctx.watch(name.as_deref()).await,
        Command::Status {
            name: Some(name),
            watch: false,
        } => ctx.service_status(&name).await,
        Command::Status {
            name: None,
            watch: false,
        } => ctx.status().await,
        Command::Ls => ctx.ls().await,
        Command::Add(args) => ctx.add(&args).await,
        Command::Rm { name } => ctx.remove(&name).await,
        Command::Start { name } => ctx.action(&name, "start").await,
        Command::Stop { name } => ctx.action(&name, "stop").await,
        Command::Restart { name } => ctx.action(&name, "restart").await,
        Command::Edit { name, set } if set.is_empty() => ctx.edit_interactive(&name).await,
        Command::Edit { name, set } => ctx.edit_set(&name, &set).await,
        Command::Logs(args) => ctx.logs(&args).await,
        Command::Plugin { command } => plugin::run(&ctx, &command).await,
        Command::Caddy { command } => caddy::run(&ctx, &command).await,
        Command::Llm { command } => llm::run(&ctx, command.as_ref()).await,
        Command::Chat(args) => chat::run(&ctx, &args).await,
        Command::Audit(args) => policy::audit(&ctx, &args).await,
        Command::Policy { command } => policy::run(&ctx, &command).await,
        Command::Cron { command } => cron::run(&ctx, &command).await,
        Command::CustomRestart(args) => workflow::custom_restart(&ctx, &args).await,
        Command::Job { id, cancel: false } => workflow::show_job(&ctx, &id).await,
        Command::Job { id, cancel: true } => workflow::cancel_job(&ctx, &id).await,
        Command::Jobs(args) => workflow::list_jobs(&ctx, &args).await,
        Command::Dashboard(args) => dashboard::run(&ctx, &args).await,
        Command::Fix(args) => fix::fix(&ctx, &args).await,
        Command::Fixes(args) => fix::fixes(&ctx, &args).await,
        Command::Onboard(args) => onboard::onboard(&ctx, &args).await,
        Command::Graph { name } => graph::run(&ctx, name.as_deref()).await,
        Command::Import(args) => import::import(&ctx, &args).await,
        Command::Export(args) => export::export(&ctx, &args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tend").chain(args.iter().copied()))
    }

    #[test]
    fn the_parser_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let cli = parse(&["--json", "ls", "--url", "http://h:1"]).unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.url.unwrap().as_str(), "http://h:1/");
        let cli = parse(&["status", "web", "-w", "--token", "t"]).unwrap();
        assert_eq!(cli.global.token.as_deref(), Some("t"));
        assert!(
            matches!(cli.command, Command::Status { name: Some(n), watch: true } if n == "web")
        );
    }

    #[test]
    fn daemon_data_dir_works_in_either_position() {
        for args in [
            &["daemon", "--data-dir", "/d", "--port", "0"][..],
            &["--data-dir", "/d", "daemon"],
        ] {
            let cli = parse(args).unwrap();
            let Command::Daemon(d) = cli.command else {
                panic!("not daemon")
            };
            assert_eq!(
                d.data_dir.or(cli.global.data_dir),
                Some(PathBuf::from("/d")),
                "{args:?}"
            );
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            &["edit", "web", "--set", "novalue"][..],
            &["frobnicate"],
            &["logs"],
            &["ls", "--url", "nope"],
        ] {
            assert_eq!(parse(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }
}
