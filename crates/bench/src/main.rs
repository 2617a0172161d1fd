//! `drover-bench`: runs the scale scenarios and prints one line per goal (figure, goal,
//! anchor, ratio). `cargo run --release -p drover-bench -- [--quick|--tiny] [--only G1,G4]`.
//! The hidden `daemon` subcommand is how the harness starts the master and Marathon under
//! test as child processes.

use std::time::Instant;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use drover_bench::procs::{DaemonKind, run_daemon, run_executor};
use drover_bench::report::Line;
use drover_bench::scenarios::{self, Ctx, Sizes};

/// Drover's benchmarks against the anchors of anchors.md (goals G1–G10).
#[derive(Debug, Parser)]
#[command(name = "drover-bench")]
struct Cli {
    /// CI sizes (every scenario, well under two minutes in release).
    #[arg(long)]
    quick: bool,
    /// Smallest sizes (the smoke test).
    #[arg(long)]
    tiny: bool,
    /// Full sizes except where a daemon is still quadratic (fits ~15 min on 2 cores).
    #[arg(long)]
    medium: bool,
    /// Only these goals, comma-separated (G1,G2,…,TG for task groups, FETCH, UCR and DOCKER for
    /// issue 13's; G5 and G10 come with G1, G6 and G8).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once at start; the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one daemon under test (used by the harness itself).
    #[command(hide = true, subcommand)]
    Daemon(DaemonKind),
    /// The command executor, for the agent the harness starts (G7).
    #[command(hide = true)]
    Executor(drover_executor::Flags),
    /// The I/O switchboard of a nested container (a default executor's task, TG), for the
    /// agent the harness starts.
    #[command(name = "io-switchboard", hide = true)]
    IoSwitchboard {
        #[arg(value_name = "FILE")]
        spec: std::path::PathBuf,
    },
    /// Enters a container image's root filesystem and execs a task's command (`drover
    /// rootfs-launch`), for the command executors of the agent the harness starts (UCR).
    #[command(name = "rootfs-launch", hide = true)]
    RootfsLaunch {
        #[arg(value_name = "FILE")]
        config: std::path::PathBuf,
        /// Join this running task's mount namespace and root instead (its COMMAND checks).
        #[arg(long = "enter", value_name = "PID")]
        enter: Option<i32>,
        #[arg(last = true)]
        form: Vec<std::ffi::OsString>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::IoSwitchboard { spec }) = &cli.command {
        let code = drover_agent::switchboard::main(spec).clamp(0, 255) as u8;
        return std::process::ExitCode::from(code);
    }
    // Single-threaded: it unshares its mount namespace and pivots before exec.
    if let Some(Command::RootfsLaunch {
        config,
        enter,
        form,
    }) = &cli.command
    {
        let code = drover_agent::rootfs_launch::main(config, *enter, form).clamp(0, 255) as u8;
        return std::process::ExitCode::from(code);
    }
    if let Some(command) = cli.command {
        let result = match command {
            Command::Daemon(kind) => run_daemon(kind),
            Command::Executor(flags) => run_executor(flags),
            Command::IoSwitchboard { .. } | Command::RootfsLaunch { .. } => Ok(()),
        };
        return match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("daemon: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let sizes = if cli.tiny {
        Sizes::tiny()
    } else if cli.quick {
        Sizes::quick()
    } else if cli.medium {
        Sizes::medium()
    } else {
        Sizes::full()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("drover-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let failed = runtime.block_on(run(sizes, cli.only));
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Runs the selected scenarios; returns how many failed.
async fn run(sizes: Sizes, only: Vec<String>) -> usize {
    let dir = match tempfile::Builder::new().prefix("drover-bench-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("drover-bench: temp dir: {e}");
            return 1;
        }
    };
    let ctx = Ctx {
        sizes: sizes.clone(),
        dir: dir.path().to_owned(),
        http: drover_bench::http::Http::new(),
    };
    let wanted = |goal: &str| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(goal));
    println!(
        "drover-bench {} run, {} cores, load {}",
        sizes.mode,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let start = Instant::now();
    let mut failed = 0;
    let mut report = |name: &str, result: anyhow::Result<Vec<Line>>, t: Instant| match result {
        Ok(lines) => {
            for l in lines {
                println!("{}", l.render());
            }
            eprintln!("  ({name} took {:.1} s)", t.elapsed().as_secs_f64());
        }
        Err(e) => {
            failed += 1;
            println!("{name:<7} FAILED: {e:#}");
        }
    };
    if wanted("G1") || wanted("G5") {
        let t = Instant::now();
        report("G1", scenarios::g1_marathon(&ctx).await, t);
    }
    // With ZooKeeper (scripts/setup installs it): when asked for, or in a run of everything
    // (the smoke test's `--tiny` run too, so the scenario cannot rot).
    if only.iter().any(|o| o.eq_ignore_ascii_case("G1ZK")) || only.is_empty() {
        let t = Instant::now();
        report("G1ZK", scenarios::g1_marathon_zk(&ctx).await, t);
    }
    if wanted("G10") {
        let t = Instant::now();
        report("G10", scenarios::g10_apps(&ctx).await, t);
    }
    if wanted("MGRP") {
        let t = Instant::now();
        report("MGRP", scenarios::marathon_groups(&ctx).await, t);
    }
    if wanted("G2") {
        let t = Instant::now();
        let ctx2 = &ctx;
        let result = tokio::task::block_in_place(|| scenarios::g2_allocation(ctx2));
        report("G2", result, t);
    }
    if wanted("G3") {
        let t = Instant::now();
        report("G3", scenarios::g3_launches(&ctx).await, t);
    }
    if wanted("G4") {
        let t = Instant::now();
        report("G4", scenarios::g4_updates(&ctx).await, t);
    }
    if wanted("G6") || wanted("G5") {
        let t = Instant::now();
        report("G6", scenarios::g6_failover(&ctx).await, t);
    }
    // With ZooKeeper, as G1ZK.
    if only.iter().any(|o| o.eq_ignore_ascii_case("G6ZK")) || only.is_empty() {
        let t = Instant::now();
        report("G6ZK", scenarios::g6_failover_zk(&ctx).await, t);
    }
    if wanted("G7") {
        let t = Instant::now();
        report("G7", scenarios::g7_agent_restart(&ctx).await, t);
    }
    if wanted("TG") {
        let t = Instant::now();
        report("TG", scenarios::tg_groups(&ctx).await, t);
    }
    // Compares with `curl`, which scripts/setup installs.
    if wanted("FETCH") {
        let t = Instant::now();
        report("FETCH", scenarios::fetch_throughput(&ctx).await, t);
    }
    if wanted("UCR") {
        let t = Instant::now();
        report("UCR", scenarios::ucr_launches(&ctx).await, t);
    }
    if wanted("DOCKER") {
        let t = Instant::now();
        report("DOCKER", scenarios::docker_launches(&ctx).await, t);
    }
    if wanted("G8") || wanted("G10") || wanted("G5") {
        let t = Instant::now();
        report("G8", scenarios::g8_reconcile(&ctx).await, t);
    }
    if wanted("G9") {
        let t = Instant::now();
        report("G9", scenarios::g9_replacement(&ctx).await, t);
    }
    println!(
        "total {:.1} s, {failed} scenario(s) failed",
        start.elapsed().as_secs_f64()
    );
    drop(ctx);
    if std::env::var_os("DROVER_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    }
    failed
}
