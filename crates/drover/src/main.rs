//! The `drover` binary: every daemon, `drover dev` (all of them in one process) and the CLI as
//! subcommands of one executable.
//!
//! Exit codes are part of the interface: 0 success, 1 the operation failed (or a daemon stopped
//! with an error), 2 usage (bad flags, bad config file), 3 a daemon could not be reached.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cli;
mod config;
mod dev;
mod dev_ha;
mod logging;

/// Drover: a cluster manager compatible with Apache Mesos and Marathon.
///
/// `drover dev` runs a one-node cluster on this machine; the other commands run one daemon
/// each, or talk to a running cluster through its public HTTP APIs.
#[derive(Debug, Parser)]
#[command(name = "drover", version, about, long_about)]
struct Cli {
    /// TOML file of flag values for the command (keys are flag names without dashes, e.g.
    /// `port = 5050`, optionally under a `[master]`/`[agent]`/`[dev]`… table). Flags given on
    /// the command line or in the environment win over the file. The CLI commands also read
    /// `$XDG_CONFIG_HOME/drover/config.toml` (default `~/.config/drover/config.toml`).
    #[arg(long = "config", global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    logging: logging::LogFlags,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: boxing the big flag structs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a one-node cluster on this machine: master, agent and scheduler in one process.
    Dev(dev::DevFlags),
    /// Run the Mesos-compatible master (Scheduler API v1, Operator API v1).
    ///
    /// TLS as Mesos configured it, from the environment: LIBPROCESS_SSL_ENABLED,
    /// LIBPROCESS_SSL_CERT_FILE, LIBPROCESS_SSL_KEY_FILE, LIBPROCESS_SSL_CA_FILE/_CA_DIR,
    /// LIBPROCESS_SSL_VERIFY_SERVER_CERT, LIBPROCESS_SSL_REQUIRE_CLIENT_CERT,
    /// LIBPROCESS_SSL_SUPPORT_DOWNGRADE, LIBPROCESS_SSL_VERIFY_IPADD, LIBPROCESS_SSL_VERIFY_DEPTH,
    /// LIBPROCESS_SSL_ENABLE_TLS_V1_2/_V1_3, LIBPROCESS_SSL_ECDH_CURVE. LIBPROCESS_SSL_CIPHERS,
    /// SSLv3/TLS 1.0/1.1 and the `legacy` hostname scheme are refused by name.
    Master(drover_master::Flags),
    /// Run the Marathon-compatible service scheduler (REST API v2).
    ///
    /// HTTPS with --ssl_cert_file and --ssl_key_file (--https_port, --disable_http); its
    /// connection to the Mesos master follows Mesos' LIBPROCESS_SSL_* variables.
    Marathon(drover_marathon::Flags),
    /// Run the Mesos-compatible agent (`drover agent --master … --work_dir …`), or list, show
    /// and mark agents gone (`drover agent list|show|mark-gone`).
    ///
    /// TLS as Mesos configured it, from the environment: LIBPROCESS_SSL_ENABLED,
    /// LIBPROCESS_SSL_CERT_FILE, LIBPROCESS_SSL_KEY_FILE, LIBPROCESS_SSL_CA_FILE/_CA_DIR,
    /// LIBPROCESS_SSL_VERIFY_SERVER_CERT, LIBPROCESS_SSL_REQUIRE_CLIENT_CERT,
    /// LIBPROCESS_SSL_SUPPORT_DOWNGRADE, LIBPROCESS_SSL_VERIFY_IPADD, LIBPROCESS_SSL_VERIFY_DEPTH,
    /// LIBPROCESS_SSL_ENABLE_TLS_V1_2/_V1_3, LIBPROCESS_SSL_ECDH_CURVE. LIBPROCESS_SSL_CIPHERS,
    /// SSLv3/TLS 1.0/1.1 and the `legacy` hostname scheme are refused by name.
    Agent(cli::agent::AgentArgs),
    /// Run the built-in command executor (started by the agent, not by hand).
    Executor(drover_executor::Flags),
    /// Deploy, inspect, scale, restart and remove Marathon apps.
    App(cli::app::AppArgs),
    /// Deploy, inspect, update (scale, roll back) and remove Marathon groups.
    Group(cli::group::GroupArgs),
    /// Deploy, inspect, update, scale and remove Marathon pods.
    Pod(cli::pod::PodArgs),
    /// List, inspect, kill tasks and read their logs.
    Task(cli::task::TaskArgs),
    /// List the frameworks registered with the master.
    Framework(cli::framework::FrameworkArgs),
    /// Tail the scheduler's event stream (`/v2/events`) or the master's (operator SUBSCRIBE).
    Events(cli::events::EventsArgs),
    /// Internal: the I/O switchboard of one nested container, started by the agent.
    #[command(name = "io-switchboard", hide = true)]
    IoSwitchboard {
        /// The switchboard's configuration, written by the agent (positional: `--config` is
        /// the global flag of Drover's own config file).
        #[arg(value_name = "FILE")]
        spec: std::path::PathBuf,
    },
    /// Internal: enters a container image's root filesystem and execs a task's command,
    /// started by the command executor of a task with an image.
    #[command(name = "rootfs-launch", hide = true)]
    RootfsLaunch {
        /// The launch configuration, written by the agent.
        #[arg(value_name = "FILE")]
        config: std::path::PathBuf,
        /// Join this running task's mount namespace and root instead (its COMMAND checks).
        #[arg(long = "enter", value_name = "PID")]
        enter: Option<i32>,
        /// `shell VALUE`, `exec VALUE ARGV…` or `image ARGS…`, after `--`.
        #[arg(last = true)]
        form: Vec<std::ffi::OsString>,
    },
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = Cli::command();
    // Config-file values become ordinary flags before clap sees them, so that validation,
    // precedence (command line > environment > file > default) and errors are clap's own.
    let argv = match config::apply(&command, argv) {
        Ok(argv) => argv,
        Err(message) => {
            eprintln!("drover: {message}");
            return ExitCode::from(2);
        }
    };
    let matches = match command.try_get_matches_from(argv) {
        Ok(matches) => matches,
        // clap prints usage errors (exit 2) and --help/--version (exit 0) itself.
        Err(error) => error.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    logging::init(&cli.logging);
    // Mesos' LIBPROCESS_SSL_* variables, read once for every command (daemons, executor, CLI):
    // one that cannot be honoured stops here, named, before anything listens or connects.
    if let Err(error) = drover_http::tls::init() {
        eprintln!("drover: TLS: {error}");
        return ExitCode::from(2);
    }
    // Before any runtime exists: the switchboard enters another pid namespace to start its
    // command, which a multi-threaded process could not do.
    if let Command::IoSwitchboard { spec } = &cli.command {
        return ExitCode::from(drover_agent::switchboard::main(spec).clamp(0, 255) as u8);
    }
    // Single-threaded too: it unshares its mount namespace and pivots before exec.
    if let Command::RootfsLaunch {
        config,
        enter,
        form,
    } = &cli.command
    {
        let code = drover_agent::rootfs_launch::main(config, *enter, form);
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("drover: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let daemon = runtime.block_on(async move {
        match cli.command {
            Command::Dev(flags) => Outcome::Daemon(dev::run(flags).await),
            Command::Master(flags) => {
                Outcome::Daemon(drover_master::run(flags, shutdown_signal()).await)
            }
            Command::Marathon(flags) => {
                Outcome::Daemon(drover_marathon::run(flags, shutdown_signal()).await)
            }
            Command::Agent(args) => match args.into_daemon() {
                Ok(flags) => Outcome::Daemon(drover_agent::run(flags, shutdown_signal()).await),
                Err(command) => Outcome::Client(command.run().await),
            },
            Command::Executor(flags) => {
                Outcome::Daemon(drover_executor::run(flags, shutdown_signal()).await)
            }
            Command::App(args) => Outcome::Client(args.run().await),
            Command::Group(args) => Outcome::Client(args.run().await),
            Command::Pod(args) => Outcome::Client(args.run().await),
            Command::Task(args) => Outcome::Client(args.run().await),
            Command::Framework(args) => Outcome::Client(args.run().await),
            Command::Events(args) => Outcome::Client(args.run().await),
            Command::IoSwitchboard { .. } | Command::RootfsLaunch { .. } => Outcome::Daemon(Ok(())),
        }
    });
    // Streams (`task logs --follow`, `events`) may leave reads pending; do not wait for them.
    runtime.shutdown_background();
    match daemon {
        Outcome::Daemon(Ok(())) | Outcome::Client(Ok(())) => ExitCode::SUCCESS,
        Outcome::Daemon(Err(error)) => {
            // One clear line, never a backtrace: the chain of contexts says what failed.
            eprintln!("drover: {error:#}");
            ExitCode::FAILURE
        }
        Outcome::Client(Err(cli::CliError::Exit(code))) => ExitCode::from(code),
        Outcome::Client(Err(error)) => {
            eprintln!("drover: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// How a command ended: daemons report `anyhow` errors, CLI commands typed ones with exit codes.
enum Outcome {
    Daemon(anyhow::Result<()>),
    Client(Result<(), cli::CliError>),
}

/// Resolves on Ctrl-C or SIGTERM, so daemons stop in order with nothing half-written.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
