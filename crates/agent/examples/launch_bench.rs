//! Launch throughput and launch-to-exit latency of the containerizer.
//!
//! Launches N `/bin/true` containers sequentially and with a fixed number in flight, bare
//! (plain processes), with fresh cgroups each, and with cgroups plus a pid namespace. Each
//! launch is timed from `launch` to `wait` returning; throughput also counts `destroy` (cgroup
//! removal), since an agent pays for that on every task.
//!
//! Run as root, in release mode:
//! `cargo run --release -p drover-agent --example launch_bench -- [N] [IN_FLIGHT] [SANDBOX_ROOT]`
//!
//! Sandboxes go under a temp dir in SANDBOX_ROOT (default: the system temp dir). Creating the
//! sandbox directory and its `stdout`/`stderr` files is part of every launch, so a disk-backed
//! root measures the filesystem too; `/dev/shm` isolates the containerizer's own cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use drover_agent::containerizer::{
    CommandSpec, ContainerId, ContainerSpec, Containerizer, ContainerizerConfig, Isolation,
    IsolationFlags, Limits,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let in_flight: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);

    let parent = format!("drover-bench-{}", std::process::id());
    let containerizer = Arc::new(Containerizer::new(
        Isolation::detect(),
        ContainerizerConfig {
            cgroup_parent: parent.clone().into(),
        },
    ));
    let sandbox_root = args.next().map_or_else(std::env::temp_dir, Into::into);
    let sandboxes = tempfile::tempdir_in(&sandbox_root).context("creating sandbox root")?;
    println!("{}", containerizer.isolation().summary());
    println!(
        "{n} launches of /bin/true per row; concurrent = {in_flight} in flight; sandboxes in {}",
        sandbox_root.display()
    );

    let modes = [
        ("bare", IsolationFlags::NONE),
        (
            "cgroups",
            IsolationFlags {
                cgroups: true,
                cfs: false,
                pid_namespace: false,
            },
        ),
        (
            "cgroups+pidns",
            IsolationFlags {
                cgroups: true,
                cfs: false,
                pid_namespace: true,
            },
        ),
    ];
    let mut run = 0usize;
    for (mode, flags) in modes {
        for concurrency in [1, in_flight] {
            run += 1;
            let bench = Bench {
                containerizer: containerizer.clone(),
                root: sandboxes.path().join(format!("run{run}")),
                flags,
            };
            // Warm up (page cache, blocking-pool threads) before measuring.
            bench.run(concurrency.min(8) * 4, concurrency).await?;
            let (elapsed, mut latencies, phases) = bench.run(n, concurrency).await?;
            latencies.sort();
            let pct = |p: f64| {
                latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
            };
            println!(
                "{mode:>14} {:>10}: {:>6.0} launches/s   latency p50 {:>6.2} ms  p99 {:>6.2} ms",
                if concurrency == 1 {
                    "sequential".to_owned()
                } else {
                    format!("{concurrency} in flight")
                },
                n as f64 / elapsed.as_secs_f64(),
                ms(pct(0.50)),
                ms(pct(0.99)),
            );
            println!(
                "{:>26} mean launch {:.2} ms, exec-to-exit {:.2} ms, destroy {:.2} ms",
                "",
                ms(phases[0] / n as u32),
                ms(phases[1] / n as u32),
                ms(phases[2] / n as u32),
            );
        }
    }
    for controller in drover_agent::containerizer::Controller::ALL {
        if let Ok(root) = containerizer.isolation().controller(controller) {
            let _ = std::fs::remove_dir(root.join(&parent));
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Bench {
    containerizer: Arc<Containerizer>,
    root: std::path::PathBuf,
    flags: IsolationFlags,
}

impl Bench {
    /// Runs `n` launches with `concurrency` workers; returns wall time and per-launch latency.
    async fn run(
        &self,
        n: usize,
        concurrency: usize,
    ) -> anyhow::Result<(Duration, Vec<Duration>, [Duration; 3])> {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let next = next.clone();
            let containerizer = self.containerizer.clone();
            let root = self.root.clone();
            let flags = self.flags;
            workers.spawn(async move {
                let mut latencies = Vec::new();
                let mut phases = [Duration::ZERO; 3];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return anyhow::Ok((latencies, phases));
                    }
                    let id = format!("{}-{i}", root.file_name().unwrap().to_string_lossy());
                    let spec = ContainerSpec {
                        container_id: ContainerId::new(id.as_str())?,
                        sandbox_dir: root.join(&id),
                        command: CommandSpec::Argv {
                            value: "/bin/true".into(),
                            arguments: vec![],
                        },
                        env: vec![],
                        user: None,
                        limits: Limits {
                            cpus: 0.1,
                            mem_mb: 32,
                            disk_mb: 0,
                            max_pids: Some(16),
                        },
                        isolation: flags,
                        terminal: None,
                        volumes: Vec::new(),
                    };
                    let t0 = Instant::now();
                    let container = containerizer.launch(spec).await.context("launch")?;
                    let t1 = Instant::now();
                    let termination = container.wait().await;
                    let t2 = Instant::now();
                    latencies.push(t2 - t0);
                    anyhow::ensure!(
                        termination.message == "Command exited with status 0",
                        "{termination:?}"
                    );
                    container.destroy().await.context("destroy")?;
                    phases[0] += t1 - t0;
                    phases[1] += t2 - t1;
                    phases[2] += t2.elapsed();
                }
            });
        }
        let mut latencies = Vec::with_capacity(n);
        let mut phases = [Duration::ZERO; 3];
        while let Some(worker) = workers.join_next().await {
            let (worker_latencies, worker_phases) = worker??;
            latencies.extend(worker_latencies);
            for (total, phase) in phases.iter_mut().zip(worker_phases) {
                *total += phase;
            }
        }
        Ok((started.elapsed(), latencies, phases))
    }
}
