//! `drover-soak`: a real cluster under a seeded nemesis for a configurable time, then healed,
//! then checked for convergence (issue 21, item 4). Needs root (network namespaces, cgroups)
//! and a built `drover` binary. Prints every nemesis action with its time, every violation
//! with the actions around it, and exits non-zero when any invariant failed.

mod check;
mod cluster;
mod http;
mod journal;
mod marathon;
mod nemesis;
mod net;
mod plain;
mod procs;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::check::Endpoints;
use crate::cluster::{Cluster, Shape};
use crate::journal::Journal;
use crate::marathon::{BASE_APPS, Marathon};
use crate::nemesis::Nemesis;
use crate::plain::Plain;

/// Runs a real Drover cluster under a nemesis and checks the simulator's invariants on it.
#[derive(Debug, Parser)]
#[command(name = "drover-soak")]
struct Args {
    /// How long the nemesis acts (`90s`, `30m`, `1h`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// The nemesis' seed (default: from the clock; printed, so a run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Agents, each in its own network namespace.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    agents: u16,
    /// Masters. More than one runs them in HA on a private ZooKeeper (started by the soak on
    /// the bridge address; Debian's `zookeeper` package), and the nemesis also deposes
    /// leaders.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    masters: u16,
    /// Marathons. More than one (or several masters) keeps Marathon's state in ZooKeeper,
    /// with a leader elected there.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    marathons: u16,
    /// Tasks the plain framework keeps running.
    #[arg(long, default_value_t = 3)]
    plain_tasks: usize,
    /// The `drover` binary (default: `drover` beside this binary).
    #[arg(long)]
    drover: Option<PathBuf>,
    /// How long the cluster has to converge once the nemesis stopped and everything healed.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    converge_timeout: Duration,
    /// Keep the run's directory (daemon logs, soak.log) even when the run passed.
    #[arg(long)]
    keep: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "" | "s" | "secs" => n,
        "m" | "mins" => n * 60,
        "h" | "hrs" => n * 3600,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

/// Writes to stdout and the run's log file.
struct Tee(std::fs::File);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write_all(buf)?;
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()?;
        self.0.flush()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("drover-soak: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("drover-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn drover_binary(args: &Args) -> anyhow::Result<PathBuf> {
    let exe = match &args.drover {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("locating this binary's directory")?
            .join("drover"),
    };
    if !exe.is_file() {
        bail!(
            "{} not found: build it (`cargo build -p drover`) or pass --drover",
            exe.display()
        );
    }
    Ok(exe)
}

async fn run(args: Args) -> anyhow::Result<bool> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the soak needs root (network namespaces, cgroups)");
    }
    let exe = drover_binary(&args)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let dir = tempfile::Builder::new().prefix("drover-soak-").tempdir()?;
    let log = std::fs::File::create(dir.path().join("soak.log"))?;
    let journal = Journal::new(Box::new(Tee(log)));
    journal.action(format!(
        "start: seed {seed}, duration {:?}, {} agents, {} masters, {} marathons, drover {}, run dir {}",
        args.duration,
        args.agents,
        args.masters,
        args.marathons,
        exe.display(),
        dir.path().display()
    ));
    for leftover in net::remove_leftovers() {
        journal.action(format!("removed {leftover}, left by a run that was killed"));
    }
    let outcome = tokio::select! {
        r = soak(&args, seed, &exe, dir.path(), &journal) => r,
        _ = tokio::signal::ctrl_c() => {
            journal.action("interrupted (SIGINT): cleaning up");
            Ok(false)
        }
        _ = terminate.recv() => {
            journal.action("terminated (SIGTERM): cleaning up");
            Ok(false)
        }
    };
    // `soak`'s cluster (daemons, namespaces, links, cgroups) is gone once its future is.
    let passed = matches!(outcome, Ok(true)) && journal.violation_count() == 0;
    println!("{}", journal.summary());
    if let Err(e) = &outcome {
        println!("run failed: {e:#}");
    }
    if passed && !args.keep {
        drop(dir);
    } else {
        let kept = dir.keep();
        println!("logs kept in {}", kept.display());
    }
    println!("{}", if passed { "SOAK PASSED" } else { "SOAK FAILED" });
    outcome.map(|_| passed)
}

async fn soak(
    args: &Args,
    seed: u64,
    exe: &std::path::Path,
    dir: &std::path::Path,
    journal: &Arc<Journal>,
) -> anyhow::Result<bool> {
    let shape = Shape {
        agents: usize::from(args.agents),
        masters: usize::from(args.masters),
        marathons: usize::from(args.marathons),
    };
    let mut cluster = Cluster::start(exe, dir, shape)?;
    let at = Endpoints {
        masters: cluster.master_urls.clone(),
        marathon: cluster.marathon_urls[0].clone(),
        agents: cluster.agent_urls.clone(),
    };
    journal.action(format!(
        "cluster: masters {:?} (found at {}), agents {:?}, marathons {:?}",
        at.masters, cluster.master_target, at.agents, cluster.marathon_urls
    ));
    let marathon = Marathon::new(cluster.marathon_urls.clone(), journal.clone());
    // Marathon answers once it has subscribed; create the apps as soon as it takes them.
    for (id, instances, healthy) in BASE_APPS {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !marathon.create(id, *instances, *healthy).await {
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "Marathon did not take {id}:\n{}",
                    cluster.marathons[0].log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    let plain = Plain::start(
        cluster.master_target.clone(),
        args.plain_tasks,
        journal.clone(),
    );
    let took = check::wait_converged(&at, journal, &plain.view(), Duration::from_secs(120))
        .await
        .context("the cluster did not settle before the nemesis")?;
    journal.action(format!(
        "settled: initial convergence in {:.1}s",
        took.as_secs_f64()
    ));

    let events = tokio::spawn(marathon.clone().follow_events());
    let leader = Arc::new(AtomicUsize::new(usize::MAX));
    let sampler = {
        let (at, journal, leader) = (at.clone(), journal.clone(), leader.clone());
        let view = plain.view();
        tokio::spawn(async move {
            let http = http::Http::new();
            let mut window = check::Window::default();
            loop {
                check::sample(&http, &at, &journal, &view, &mut window, &leader).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };

    let mut nemesis = Nemesis::new(seed, journal.clone(), leader, shape.ha());
    let end = tokio::time::Instant::now() + args.duration;
    let mut next = tokio::time::Instant::now();
    while tokio::time::Instant::now() < end {
        nemesis.end_due(&mut cluster, tokio::time::Instant::now());
        if tokio::time::Instant::now() >= next {
            let wait = nemesis.step(&mut cluster, &marathon, &plain);
            next = tokio::time::Instant::now() + wait;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nemesis.heal_all(&mut cluster);
    journal.action("nemesis stopped: everything healed; waiting for convergence");
    let converged = check::wait_converged(&at, journal, &plain.view(), args.converge_timeout).await;
    let ok = match converged {
        Ok(took) => {
            journal.action(format!(
                "converged {:.1}s after the nemesis stopped",
                took.as_secs_f64()
            ));
            true
        }
        Err(e) => {
            journal.violation(format!("convergence: {e:#}"));
            false
        }
    };
    sampler.abort();
    events.abort();
    drop(plain);
    cluster.shutdown();
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("m").is_err());
    }
}
