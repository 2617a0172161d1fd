//! The `drover` binary: every daemon and the CLI as subcommands of one executable.

use clap::{Parser, Subcommand};

mod logging;

/// Drover: a cluster manager compatible with Apache Mesos and Marathon.
#[derive(Debug, Parser)]
#[command(name = "drover", version, about)]
struct Cli {
    #[command(flatten)]
    logging: logging::LogFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Mesos-compatible master (Scheduler API v1, Operator API v1).
    Master(drover_master::Flags),
    /// Run the Marathon-compatible service scheduler (REST API v2).
    Marathon(drover_marathon::Flags),
    /// Run the Mesos-compatible agent (launches tasks; Executor API v1).
    Agent(drover_agent::Flags),
    /// Run the built-in command executor (started by the agent, not by hand).
    Executor(drover_executor::Flags),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("drover: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Master(flags) => drover_master::run(flags, shutdown_signal()).await,
            Command::Marathon(flags) => drover_marathon::run(flags, shutdown_signal()).await,
            Command::Agent(flags) => drover_agent::run(flags, shutdown_signal()).await,
            Command::Executor(flags) => drover_executor::run(flags, shutdown_signal()).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One clear line, never a backtrace: the chain of contexts says what failed.
            eprintln!("drover: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so daemons stop in order with nothing half-written.
async fn shutdown_signal() {
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
