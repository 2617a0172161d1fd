//! The scenarios, one per goal (G1–G10 of `anchors.md` Part D). Each starts the daemons it
//! needs as child processes in a temp dir, drives them with simulated agents, the bench
//! framework or HTTP clients, and returns its report lines. Everything it starts is stopped
//! when it returns (or unwinds).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use drover_core::master::{Config, Conn, Effect, Input, Master, Registry};
use drover_wire::internal::{AgentCall, agent_call};
use drover_wire::v1;
use drover_wire::v1::scheduler;

use crate::framework::BenchFramework;
use crate::http::{Http, percentile};
use crate::procs::{Daemon, marathon_args, master_args, wait_until};
use crate::report::{Better, Line};
use crate::simagent::{Control, Counters, Fleet, FleetConfig};

mod containers;
mod marathon_groups;

pub use containers::{docker_launches, fetch_throughput, ucr_launches};
pub use marathon_groups::marathon_groups;

/// Problem sizes of one run.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// "full", "quick" or "tiny".
    pub mode: &'static str,
    /// G1: app instances.
    pub g1_tasks: usize,
    /// G1: simulated agents.
    pub g1_agents: usize,
    /// G2: agents in the core.
    pub g2_agents: usize,
    /// G2: frameworks in the core.
    pub g2_frameworks: usize,
    /// G3: launches per mode.
    pub g3_launches: usize,
    /// G7: real tasks (each with its command executor) on the agent that restarts.
    pub g7_tasks: usize,
    /// G4: tasks cycling updates.
    pub g4_tasks: usize,
    /// G4: agents.
    pub g4_agents: usize,
    /// G4: seconds per measurement.
    pub g4_secs: f64,
    /// G4: fixed rate of the latency measurement (updates/s).
    pub g4_rate: usize,
    /// G6: agents.
    pub g6_agents: usize,
    /// G6: tasks per agent.
    pub g6_tasks_per_agent: usize,
    /// G8: tasks reconciled.
    pub g8_tasks: usize,
    /// G8: agents.
    pub g8_agents: usize,
    /// G9: app instances.
    pub g9_instances: usize,
    /// G9: agents.
    pub g9_agents: usize,
    /// G9: also run with the shipped default flags (ping 3 s × 4).
    pub g9_default: bool,
    /// G10: Marathon apps.
    pub g10_apps: usize,
    /// G10: GETs per endpoint.
    pub g10_samples: usize,
    /// FETCH: bytes of the downloaded artifact.
    pub fetch_bytes: usize,
    /// FETCH: downloads each by the fetcher and by curl (medians).
    pub fetch_rounds: usize,
    /// FETCH: cache hits timed per artifact (median).
    pub fetch_hits: usize,
    /// UCR: tasks per kind and round (command tasks, then image tasks).
    pub ucr_tasks: usize,
    /// UCR: rounds of each kind, alternating (medians).
    pub ucr_rounds: usize,
    /// DOCKER: containers per side (the `docker run -d` loop, the agent).
    pub docker_tasks: usize,
}

impl Sizes {
    /// The documented full run.
    pub fn full() -> Sizes {
        Sizes {
            mode: "full",
            g1_tasks: 100_000,
            g1_agents: 1_000,
            g2_agents: 10_000,
            g2_frameworks: 1_000,
            g3_launches: 1_000,
            g7_tasks: 1000,
            g4_tasks: 5_000,
            g4_agents: 100,
            g4_secs: 10.0,
            g4_rate: 5_000,
            g6_agents: 10_000,
            g6_tasks_per_agent: 10,
            g8_tasks: 100_000,
            g8_agents: 1_000,
            g9_instances: 1_000,
            g9_agents: 20,
            g9_default: true,
            g10_apps: 10_000,
            g10_samples: 50,
            fetch_bytes: 100_000_000,
            fetch_rounds: 5,
            fetch_hits: 20,
            ucr_tasks: 200,
            ucr_rounds: 3,
            docker_tasks: 200,
        }
    }

    /// The largest run that fits in about 15 minutes on the 2-core VM while Marathon's
    /// per-input convergence is O(instances) and the master runs an allocation pass per ACCEPT
    /// (see BENCHMARKS.md): full sizes except G1, G8 and G10.
    pub fn medium() -> Sizes {
        Sizes {
            mode: "medium",
            g1_tasks: 5_000,
            g1_agents: 1_000,
            g8_tasks: 20_000,
            g8_agents: 100,
            g10_apps: 1_000,
            ..Sizes::full()
        }
    }

    /// CI-sized.
    pub fn quick() -> Sizes {
        Sizes {
            mode: "quick",
            g1_tasks: 5_000,
            g1_agents: 100,
            g2_agents: 2_000,
            g2_frameworks: 200,
            g3_launches: 200,
            g7_tasks: 100,
            g4_tasks: 1_000,
            g4_agents: 20,
            g4_secs: 3.0,
            g4_rate: 2_000,
            g6_agents: 1_000,
            g6_tasks_per_agent: 10,
            g8_tasks: 10_000,
            g8_agents: 100,
            g9_instances: 100,
            g9_agents: 5,
            g9_default: false,
            g10_apps: 200,
            g10_samples: 20,
            fetch_bytes: 100_000_000,
            fetch_rounds: 3,
            fetch_hits: 20,
            ucr_tasks: 50,
            ucr_rounds: 1,
            docker_tasks: 50,
        }
    }

    /// The smoke test's sizes: every code path, seconds in a debug build.
    pub fn tiny() -> Sizes {
        Sizes {
            mode: "tiny",
            g1_tasks: 200,
            g1_agents: 10,
            g2_agents: 200,
            g2_frameworks: 20,
            g3_launches: 20,
            g7_tasks: 10,
            g4_tasks: 100,
            g4_agents: 5,
            g4_secs: 1.0,
            g4_rate: 200,
            g6_agents: 50,
            g6_tasks_per_agent: 5,
            g8_tasks: 500,
            g8_agents: 10,
            g9_instances: 20,
            g9_agents: 3,
            g9_default: false,
            g10_apps: 30,
            g10_samples: 5,
            fetch_bytes: 10_000_000,
            fetch_rounds: 1,
            fetch_hits: 5,
            ucr_tasks: 10,
            ucr_rounds: 1,
            docker_tasks: 5,
        }
    }
}

/// What every scenario gets.
#[derive(Debug)]
pub struct Ctx {
    /// Sizes.
    pub sizes: Sizes,
    /// Scratch directory (removed at the end).
    pub dir: PathBuf,
    /// HTTP client.
    pub http: Http,
}

impl Ctx {
    fn sub(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let _ = std::fs::create_dir_all(&path);
        path
    }

    fn log(&self) -> PathBuf {
        self.dir.join("daemons.log")
    }

    fn master(&self, name: &str, extra: &[&str]) -> anyhow::Result<Daemon> {
        Daemon::start("master", &master_args(&self.sub(name), extra), &self.log())
    }

    async fn marathon(&self, name: &str, master: &Daemon) -> anyhow::Result<Daemon> {
        self.marathon_with(name, master, &[]).await
    }

    async fn marathon_with(
        &self,
        name: &str,
        master: &Daemon,
        extra: &[String],
    ) -> anyhow::Result<Daemon> {
        let mut args = marathon_args(&master.addr(), &self.sub(name));
        args.extend(extra.iter().cloned());
        let marathon = Daemon::start("marathon", &args, &self.log())?;
        let url = format!("http://{}/master/frameworks", master.addr());
        let http = self.http.clone();
        wait_until(Duration::from_secs(30), "marathon to subscribe", || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                matches!(http.get(&url).await, Ok((200, body)) if String::from_utf8_lossy(&body).contains("\"marathon\""))
            }
        })
        .await?;
        Ok(marathon)
    }
}

// A report line is eight named facts; a builder would add nothing.
#[allow(clippy::too_many_arguments)]
fn line(
    goal: &str,
    what: &str,
    value: f64,
    unit: &str,
    target: Option<f64>,
    better: Better,
    anchor: &str,
    setup: String,
) -> Line {
    Line {
        goal: goal.into(),
        what: what.into(),
        value,
        unit: unit.into(),
        target,
        better,
        anchor: anchor.into(),
        setup,
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn wait_counter(
    counter: &AtomicU64,
    want: u64,
    limit: Duration,
    what: &str,
) -> anyhow::Result<()> {
    wait_until(limit, what, || {
        let n = Counters::get(counter);
        async move { n >= want }
    })
    .await
    .with_context(|| format!("{what}: {} of {want}", Counters::get(counter)))
}

fn app_json(id: &str, instances: usize) -> String {
    serde_json::json!({
        "id": id,
        "cmd": "sleep 100000",
        "cpus": 0.01,
        "mem": 1,
        "instances": instances,
        "portDefinitions": [],
    })
    .to_string()
}

/// G1 (launch throughput through Marathon), with G5's scheduler and master memory.
pub async fn g1_marathon(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    g1_marathon_on(ctx, None).await
}

/// G1 with the scheduler's state in ZooKeeper (`drover marathon --zk`, issue 17): a private
/// ZooKeeper server (Debian's package, as the tests use) on loopback, the same launch.
pub async fn g1_marathon_zk(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let zk = tokio::task::spawn_blocking(|| {
        // 100,000 instances and a batch log of that size need more than a test's heap.
        std::panic::catch_unwind(|| {
            drover_coord::testing::ZooKeeperServer::start_with_heap_mb(2048)
        })
    })
    .await?
    .map_err(|_| anyhow::anyhow!("cannot start ZooKeeper (run scripts/setup)"))?;
    let lines = g1_marathon_on(ctx, Some(zk.url("/bench-g1"))).await;
    drop(zk);
    let mut lines = lines?;
    lines.retain(|l| l.goal == "G1");
    for l in &mut lines {
        l.goal = "G1-ZK".into();
        l.what = "launch, state in ZooKeeper: POST -> all RUNNING+acked".into();
        l.anchor = "G1 with the embedded store, same run".into();
    }
    Ok(lines)
}

async fn g1_marathon_on(ctx: &Ctx, zk: Option<String>) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let (n, agents) = (s.g1_tasks, s.g1_agents);
    let name = if zk.is_some() { "g1zk" } else { "g1" };
    let master = ctx.master(&format!("{name}-master"), &[])?;
    let extra: Vec<String> = zk.iter().map(|url| format!("--zk={url}")).collect();
    let marathon = ctx
        .marathon_with(&format!("{name}-marathon"), &master, &extra)
        .await?;
    let master_rss0 = master.rss_bytes()?;
    let fleet = Fleet::start(FleetConfig::new(master.addr(), agents)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let master_rss1 = master.rss_bytes()?;
    let marathon_rss0 = marathon.rss_bytes()?;
    let api = format!("http://{}", marathon.addr());
    let t0 = Instant::now();
    let (status, body) = ctx
        .http
        .post_json(&format!("{api}/v2/apps"), app_json("/bench/g1", n))
        .await?;
    if status != 201 {
        bail!(
            "POST /v2/apps answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let limit = Duration::from_secs(120 + (n / 200) as u64);
    wait_counter(
        &fleet.counters().running_acked,
        n as u64,
        limit,
        "G1 tasks RUNNING and acknowledged",
    )
    .await?;
    let elapsed = t0.elapsed();
    let rate = n as f64 / elapsed.as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let master_rss2 = master.rss_bytes()?;
    let marathon_rss1 = marathon.rss_bytes()?;
    let setup = format!(
        "{n} instances, {agents} sim agents, {:.1} s",
        elapsed.as_secs_f64()
    );
    let mut lines = vec![line(
        "G1",
        "launch: POST /v2/apps -> all RUNNING+acked",
        rate,
        "tasks/s",
        Some(5_000.0),
        Better::Higher,
        "Nomad C1M 3,750/s; K8s 100-300 pods/s; Marathon ~35/s (MA4)",
        setup,
    )];
    lines.push(line(
        "G5",
        "master RSS per task (Marathon tasks)",
        (master_rss2.saturating_sub(master_rss1)) as f64 / n as f64 / 1024.0,
        "KiB",
        Some(2.0),
        Better::Lower,
        "Borgmaster up to 50 GiB for ~10k machines (B3)",
        format!("{n} tasks; master RSS {:.0} MiB", mib(master_rss2)),
    ));
    lines.push(line(
        "G5",
        "master RSS per agent",
        (master_rss1.saturating_sub(master_rss0)) as f64 / agents as f64 / 1024.0,
        "KiB",
        Some(16.0),
        Better::Lower,
        "Borgmaster (B3)",
        format!("{agents} agents"),
    ));
    lines.push(line(
        "G5",
        "scheduler (marathon) RSS per instance",
        (marathon_rss1.saturating_sub(marathon_rss0)) as f64 / n as f64 / 1024.0,
        "KiB",
        Some(3.0),
        Better::Lower,
        "Marathon ran with -Xmx2048m for 189 agents (MA4)",
        format!("{n} instances; marathon RSS {:.0} MiB", mib(marathon_rss1)),
    ));
    drop(fleet);
    Ok(lines)
}

/// G10: `GET /v2/apps` on a Marathon holding many apps (fresh cluster, apps with 0 instances).
pub async fn g10_apps(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let master = ctx.master("g10-master", &[])?;
    let marathon = ctx.marathon("g10-marathon", &master).await?;
    let api = format!("http://{}", marathon.addr());
    let mut lines = Vec::new();
    let apps = s.g10_apps;
    let created = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let t_create = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, api, next, created) =
            (ctx.http.clone(), api.clone(), next.clone(), created.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= apps {
                    return anyhow::Ok(());
                }
                let mut tries = 0;
                loop {
                    let (status, body) = http
                        .post_json(
                            &format!("{api}/v2/apps"),
                            app_json(&format!("/bench/apps/a{i}"), 0),
                        )
                        .await?;
                    let exists =
                        status == 409 && String::from_utf8_lossy(&body).contains("already exists");
                    if status == 201 || status == 200 || exists {
                        created.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    tries += 1;
                    if tries > 50 {
                        bail!(
                            "POST /v2/apps answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    let create_secs = t_create.elapsed().as_secs_f64();
    let (p50, p99, bytes) = ctx
        .http
        .latency(&format!("{api}/v2/apps"), s.g10_samples)
        .await?;
    lines.push(line(
        "G10",
        "GET /v2/apps p99",
        p99.as_secs_f64() * 1e3,
        "ms",
        Some(100.0),
        Better::Lower,
        "K8s read SLO p99 <= 1 s (one object) / 30 s (cluster)",
        format!(
            "{} apps (no tasks), {:.1} MiB body, p50 {:.1} ms; created at {:.0} apps/s",
            created.load(Ordering::Relaxed),
            bytes as f64 / 1048576.0,
            p50.as_secs_f64() * 1e3,
            apps as f64 / create_secs
        ),
    ));
    drop(marathon);
    drop(master);
    Ok(lines)
}

/// G2: one allocation pass in the pure master core.
pub fn g2_allocation(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let (agents, frameworks) = (ctx.sizes.g2_agents, ctx.sizes.g2_frameworks);
    let config = Config {
        allocation_interval_ms: 1_000_000_000,
        offer_timeout_ms: Some(1_000_000),
        ..Config::default()
    };
    let mut now = 1_700_000_000_000u64;
    let mut master = Master::new(config, Registry::new("G2"), now);
    let mut conn = 0u64;
    let mut next_conn = || {
        conn += 1;
        Conn(conn)
    };
    let resources = drover_core::resources::parse("cpus:32;mem:131072;disk:1048576")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let t_setup = Instant::now();
    for i in 0..agents {
        let c = next_conn();
        master.handle_deferred(
            now,
            Input::AgentSubscribe {
                conn: c,
                stream_id: format!("a{}", c.0),
                call: AgentCall {
                    r#type: Some(agent_call::Type::Register as i32),
                    register: Some(agent_call::Register {
                        agent_info: v1::AgentInfo {
                            hostname: format!("agent-{i}"),
                            port: Some(5051),
                            resources: resources.clone(),
                            ..Default::default()
                        },
                        version: Some("1.11.0".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            },
        );
    }
    for i in 0..frameworks {
        let c = next_conn();
        master.handle_deferred(
            now,
            Input::Subscribe {
                conn: c,
                stream_id: format!("f{}", c.0),
                call: scheduler::Call {
                    r#type: Some(scheduler::call::Type::Subscribe as i32),
                    subscribe: Some(scheduler::call::Subscribe {
                        framework_info: v1::FrameworkInfo {
                            user: "root".into(),
                            name: format!("fw-{i}"),
                            ..Default::default()
                        },
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            },
        );
    }
    // As the master's driver does with a batch of inputs: one pass after all of them.
    master.allocate_pending(now);
    let setup = t_setup.elapsed();
    // Every offer made so far expires: the tick rescinds them all and runs one pass with every
    // agent free and every framework eligible.
    now += 2_000_000;
    let t0 = Instant::now();
    let effects = master.handle(now, Input::Tick);
    let pass = t0.elapsed();
    let offers = effects
        .iter()
        .filter(|e| matches!(e, Effect::ToScheduler { event, .. } if event.offers.is_some()))
        .count();
    anyhow::ensure!(offers > 0, "the pass made no offers");
    Ok(vec![line(
        "G2",
        "allocation pass (rescind all + reallocate)",
        pass.as_secs_f64() * 1e3,
        "ms",
        Some(100.0),
        Better::Lower,
        "Mesos 1.8 allocator ~1.1 s at 10k agents/1k fw (M8)",
        format!(
            "{agents} agents, {frameworks} frameworks, {offers} offer events; setup {:.1} s",
            setup.as_secs_f64()
        ),
    )])
}

/// G3: real launches of `/bin/true` on one agent's containerizer, bare and with cgroups.
pub async fn g3_launches(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    use drover_agent::containerizer::{
        CommandSpec, ContainerId, ContainerSpec, Containerizer, ContainerizerConfig, Isolation,
        IsolationFlags, Limits,
    };
    let n = ctx.sizes.g3_launches;
    let parent = format!("drover-bench-{}", std::process::id());
    let containerizer = Arc::new(Containerizer::new(
        Isolation::detect(),
        ContainerizerConfig {
            cgroup_parent: parent.clone().into(),
        },
    ));
    let root = ctx.sub("g3");
    let mut lines = Vec::new();
    let modes = [
        ("bare", IsolationFlags::NONE, 500.0),
        (
            "cgroups",
            IsolationFlags {
                cgroups: true,
                cfs: false,
                pid_namespace: false,
            },
            250.0,
        ),
    ];
    for (mode, flags, target) in modes {
        let next = Arc::new(AtomicUsize::new(0));
        let t0 = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (next, containerizer, root) = (next.clone(), containerizer.clone(), root.clone());
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return anyhow::Ok(());
                    }
                    let id = format!("{mode}-{i}");
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
                    let container = containerizer.launch(spec).await?;
                    let termination = container.wait().await;
                    anyhow::ensure!(
                        termination.message == "Command exited with status 0",
                        "{termination:?}"
                    );
                    container.destroy().await?;
                }
            });
        }
        let mut failure = None;
        while let Some(result) = workers.join_next().await {
            if let Err(e) = result.map_err(anyhow::Error::from).and_then(|r| r) {
                failure = Some(e);
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        match failure {
            None => lines.push(line(
                "G3",
                &format!("real launches ({mode}), launch->exit->destroy"),
                n as f64 / secs,
                "tasks/s",
                Some(target),
                Better::Higher,
                "Mesos 1.7: 1,000 containers in ~30 s = 33/s (M9)",
                format!("{n} x /bin/true, 8 in flight, containerizer only"),
            )),
            Some(e) => lines.push(line(
                "G3",
                &format!("real launches ({mode}): skipped"),
                0.0,
                "tasks/s",
                None,
                Better::None,
                "Mesos 1.7 33/s (M9)",
                format!("not available here: {e:#}"),
            )),
        }
    }
    for controller in drover_agent::containerizer::Controller::ALL {
        if let Ok(root) = containerizer.isolation().controller(controller) {
            let _ = std::fs::remove_dir(root.join(&parent));
        }
    }
    Ok(lines)
}

/// Starts a master, a fleet and the bench framework, and launches `tasks` tasks.
async fn framework_cluster(
    ctx: &Ctx,
    name: &str,
    agents: usize,
    tasks: usize,
    extra: &[&str],
) -> anyhow::Result<(Daemon, Fleet, BenchFramework, Duration, u64, u64)> {
    let master = ctx.master(name, extra)?;
    let fleet = Fleet::start(FleetConfig::new(master.addr(), agents)).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = master.rss_bytes()?;
    let t0 = Instant::now();
    let per_offer = tasks.div_ceil(agents).max(1);
    let fw = BenchFramework::subscribe(&master.addr(), tasks, per_offer).await?;
    let limit = Duration::from_secs(120 + (tasks / 200) as u64);
    wait_counter(
        &fleet.counters().running_acked,
        tasks as u64,
        limit,
        "tasks RUNNING and acknowledged",
    )
    .await?;
    let elapsed = t0.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = master.rss_bytes()?;
    Ok((master, fleet, fw, elapsed, rss_before, rss_after))
}

/// G4: the status update pipeline, agent → master → framework → acknowledgement → agent.
pub async fn g4_updates(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let (master, fleet, fw, _, _, _) =
        framework_cluster(ctx, "g4-master", s.g4_agents, s.g4_tasks, &[]).await?;
    let counters = fleet.counters();
    // Throughput: every task keeps one update in flight.
    fleet.set_churn(true);
    for (i, agent) in fleet.agents.iter().enumerate() {
        let per_agent = s.g4_tasks / s.g4_agents + usize::from(i < s.g4_tasks % s.g4_agents);
        for _ in 0..per_agent {
            agent.send(Control::Emit);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acked0 = Counters::get(&counters.updates_acked);
    let master_pid = master.pid().context("master not running")?;
    let cpu0 = (cpu_secs(master_pid), cpu_secs(std::process::id()));
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(s.g4_secs)).await;
    let acked = Counters::get(&counters.updates_acked) - acked0;
    let throughput = acked as f64 / t0.elapsed().as_secs_f64();
    // CPU per update, per process: on a shared box the throughput moves with everyone
    // else's load, the cost of an update much less.
    let per_update = |before: anyhow::Result<f64>, after: anyhow::Result<f64>| match (before, after)
    {
        (Ok(b), Ok(a)) if acked > 0 => format!("{:.0} us", (a - b) / acked as f64 * 1e6),
        _ => "?".to_owned(),
    };
    let cpu = format!(
        "CPU per update: master {}, bench (agents + framework) {}",
        per_update(cpu0.0, cpu_secs(master_pid)),
        per_update(cpu0.1, cpu_secs(std::process::id())),
    );
    fleet.set_churn(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Latency at a fixed rate.
    fw.record_latency(true);
    let rate = s.g4_rate;
    let tick = Duration::from_millis(5);
    let per_tick = (rate as f64 * tick.as_secs_f64()).round() as usize;
    let t0 = Instant::now();
    let mut interval = tokio::time::interval(tick);
    let mut sent = 0usize;
    let mut cursor = 0usize;
    while t0.elapsed().as_secs_f64() < s.g4_secs {
        interval.tick().await;
        for _ in 0..per_tick {
            fleet.agents[cursor % fleet.agents.len()].send(Control::Emit);
            cursor += 1;
            sent += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    fw.record_latency(false);
    let mut latencies = fw.latencies();
    latencies.sort_by(f64::total_cmp);
    anyhow::ensure!(!latencies.is_empty(), "no update reached the framework");
    let achieved = latencies.len() as f64 / s.g4_secs;
    let p50 = percentile(&latencies, 0.5) * 1e3;
    let p99 = percentile(&latencies, 0.99) * 1e3;
    drop(fw);
    drop(fleet);
    drop(master);
    Ok(vec![
        line(
            "G4",
            "status updates, agent->master->fw->ack",
            throughput,
            "updates/s",
            // Issue 20 raised it from 20,000/s.
            Some(50_000.0),
            Better::Higher,
            "none published (Mesos libprocess bench); Marathon capped bursts at ~1,000 (MA3)",
            format!(
                "{} tasks cycling, {} agents, {:.0} s; {cpu}",
                s.g4_tasks, s.g4_agents, s.g4_secs
            ),
        ),
        line(
            "G4-p99",
            "update latency agent->framework, fixed rate",
            p99,
            "ms",
            Some(50.0),
            Better::Lower,
            "none published",
            format!("asked {rate}/s ({sent} emitted), delivered {achieved:.0}/s, p50 {p50:.2} ms"),
        ),
    ])
}

/// CPU time (user + system, every thread) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, in USER_HZ ticks (100 a second on Linux).
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i - 3).context("short stat")?.parse::<f64>()?)
    };
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

/// G5 (master per task), G8 (explicit reconciliation) and G10 (`/master/state`) on one
/// cluster launched through the Scheduler API.
pub async fn g8_reconcile(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let (n, agents) = (s.g8_tasks, s.g8_agents);
    let (master, fleet, fw, launch, rss_before, rss_after) =
        framework_cluster(ctx, "g8-master", agents, n, &[]).await?;
    let mut lines = vec![
        line(
            "G1-raw",
            "launch via Scheduler API (no Marathon)",
            n as f64 / launch.as_secs_f64(),
            "tasks/s",
            // Issue 20 raised it from 5,000/s.
            Some(15_000.0),
            Better::Higher,
            "Nomad C1M 3,750/s (N1)",
            format!(
                "{n} tasks, {agents} sim agents, {:.1} s",
                launch.as_secs_f64()
            ),
        ),
        line(
            "G5",
            "master RSS per task (Scheduler API tasks)",
            rss_after.saturating_sub(rss_before) as f64 / n as f64 / 1024.0,
            "KiB",
            Some(2.0),
            Better::Lower,
            "Borgmaster (B3)",
            format!("{n} tasks; master RSS {:.0} MiB", mib(rss_after)),
        ),
    ];
    let tasks = fw.launched();
    let before = Counters::get(&fw.counters().reconciled);
    let t0 = Instant::now();
    fw.reconcile(&tasks).await?;
    wait_counter(
        &fw.counters().reconciled,
        before + tasks.len() as u64,
        Duration::from_secs(120),
        "reconciliation answers",
    )
    .await?;
    let reconcile = t0.elapsed();
    lines.push(line(
        "G8",
        "explicit reconciliation, all answers",
        reconcile.as_secs_f64() * 1e3,
        "ms",
        // Issue 20 lowered it from 1 s.
        Some(200.0),
        Better::Lower,
        "Mesos SchedulerReconcileTasks_BENCHMARK (no result published); Marathon every 10 min",
        format!("{} tasks", tasks.len()),
    ));
    let samples = if n >= 50_000 { 10 } else { s.g10_samples };
    let (p50, p99, bytes) = ctx
        .http
        .latency(&format!("http://{}/master/state", master.addr()), samples)
        .await?;
    lines.push(line(
        "G10",
        "GET /master/state p99",
        p99.as_secs_f64() * 1e3,
        "ms",
        // Issue 20 lowered it from 1 s.
        Some(300.0),
        Better::Lower,
        "Mesos 1.7 /state ~3 s (M10)",
        format!(
            "{n} tasks, {agents} agents, {:.1} MiB, p50 {:.0} ms, {samples} GETs",
            bytes as f64 / 1048576.0,
            p50.as_secs_f64() * 1e3
        ),
    ));
    drop(fw);
    drop(fleet);
    Ok(lines)
}

/// G6: SIGKILL the master and restart it; time until every agent has reregistered.
pub async fn g6_failover(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let (agents, per) = (s.g6_agents, s.g6_tasks_per_agent);
    let mut master = ctx.master("g6-master", &[])?;
    let rss0 = master.rss_bytes()?;
    let fleet = Fleet::start(FleetConfig::new(master.addr(), agents)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss1 = master.rss_bytes()?;
    seed_tasks(&fleet, per, "g6").await?;
    let before = Counters::get(&fleet.counters().reregistered);
    let t0 = Instant::now();
    master.kill();
    master.restart()?;
    let recovered = t0.elapsed();
    wait_counter(
        &fleet.counters().reregistered,
        before + agents as u64,
        Duration::from_secs(300),
        "agents to reregister",
    )
    .await?;
    let all = t0.elapsed();
    let state = ctx
        .http
        .get(&format!("http://{}/metrics/snapshot", master.addr()))
        .await?;
    let metrics: serde_json::Value = serde_json::from_slice(&state.1).unwrap_or_default();
    let running = metrics
        .get("master/tasks_running")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(-1.0);
    drop(fleet);
    Ok(vec![
        line(
            "G6",
            "master failover: SIGKILL -> all reregistered",
            all.as_secs_f64(),
            "s",
            // Issue 20 lowered it from 3 s.
            Some(1.5),
            Better::Lower,
            "Mesos 1.5 ~4.5 s at 10k/100k, in-process, no HTTP (M6)",
            format!(
                "{agents} agents x {per} tasks; restart+recovery {:.0} ms; master reports {running} running",
                recovered.as_secs_f64() * 1e3
            ),
        ),
        line(
            "G5",
            "master RSS per agent (idle agents)",
            rss1.saturating_sub(rss0) as f64 / agents as f64 / 1024.0,
            "KiB",
            Some(16.0),
            Better::Lower,
            "Borgmaster (B3)",
            format!("{agents} agents; master RSS {:.0} MiB", mib(rss1)),
        ),
    ])
}

/// G6 on ZooKeeper (issue 17): two masters elect a leader in a private ZooKeeper (the registry
/// in ZooKeeper too, `--zk_session_timeout=4secs`), the simulated agents follow the leader as
/// `--master=zk://…` agents do; SIGKILL the leader, time until every agent has reregistered
/// with the other one.
pub async fn g6_failover_zk(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let (agents, per) = (s.g6_agents, s.g6_tasks_per_agent);
    let zk = tokio::task::spawn_blocking(|| {
        std::panic::catch_unwind(|| {
            drover_coord::testing::ZooKeeperServer::start_with_heap_mb(2048)
        })
    })
    .await?
    .map_err(|_| anyhow::anyhow!("cannot start ZooKeeper (run scripts/setup)"))?;
    let url = zk.url("/bench-g6");
    let zk_flag = format!("--zk={url}");
    let extra = [zk_flag.as_str(), "--zk_session_timeout=4secs", "--quorum=2"];
    let mut first = ctx.master("g6zk-master1", &extra)?;
    let state = format!("http://{}/master/state", first.addr());
    let http = ctx.http.clone();
    wait_until(Duration::from_secs(60), "the first master to lead", || {
        let (http, state) = (http.clone(), state.clone());
        async move { matches!(http.get(&state).await, Ok((200, _))) }
    })
    .await?;
    let second = ctx.master("g6zk-master2", &extra)?;
    let mut config = FleetConfig::new(first.addr(), agents);
    config.zk = Some(drover_coord::ZkUrl::parse(&url)?);
    let fleet = Fleet::start(config).await?;
    seed_tasks(&fleet, per, "g6zk").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = Counters::get(&fleet.counters().reregistered);
    let t0 = Instant::now();
    first.kill();
    wait_counter(
        &fleet.counters().reregistered,
        before + agents as u64,
        Duration::from_secs(300),
        "agents to reregister with the new leader",
    )
    .await?;
    let all = t0.elapsed();
    let metrics = ctx
        .http
        .get(&format!("http://{}/metrics/snapshot", second.addr()))
        .await?;
    let metrics: serde_json::Value = serde_json::from_slice(&metrics.1).unwrap_or_default();
    let running = metrics
        .get("master/tasks_running")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(-1.0);
    drop(fleet);
    drop(second);
    drop(zk);
    Ok(vec![line(
        "G6-ZK",
        "failover on ZooKeeper: SIGKILL leader -> all reregistered",
        all.as_secs_f64(),
        "s",
        Some(4.0 + 3.0),
        Better::Lower,
        "Mesos 1.5: 4.5 s after election, on top of a 10 s session timeout (M6)",
        format!(
            "{agents} agents x {per} tasks; 2 masters, --zk_session_timeout=4secs; new leader reports {running} running"
        ),
    )])
}

/// Gives each agent of `fleet` `per` running tasks of one framework (as if launched before),
/// and waits until every agent holds them.
async fn seed_tasks(fleet: &Fleet, per: usize, prefix: &str) -> anyhow::Result<()> {
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: format!("{prefix}-framework"),
        id: Some(v1::FrameworkId {
            value: format!("{prefix}-framework-0000"),
        }),
        failover_timeout: Some(3600.0),
        ..Default::default()
    };
    let resources = drover_core::resources::parse("cpus:0.01;mem:1").unwrap_or_default();
    for (i, agent) in fleet.agents.iter().enumerate() {
        let agent_id = v1::AgentId {
            value: agent.id().unwrap_or_default(),
        };
        let tasks = (0..per)
            .map(|k| {
                let id = format!("{prefix}-{i}-{k}");
                v1::TaskInfo {
                    name: id.clone(),
                    task_id: v1::TaskId { value: id },
                    agent_id: agent_id.clone(),
                    resources: resources.clone(),
                    ..Default::default()
                }
            })
            .collect();
        agent.send(Control::Seed {
            framework: Box::new(framework.clone()),
            tasks,
        });
    }
    // Every agent must hold its tasks before the kill, or it reregisters without them.
    wait_counter(
        &fleet.counters().seeded,
        fleet.agents.len() as u64,
        Duration::from_secs(60),
        "agents to take their seeded tasks",
    )
    .await
}

/// A real `drover agent` (cgroups under a root of its own) for the scenarios that run real
/// tasks (G7, TG, UCR, DOCKER): started and registered with `master`, with room for `tasks`
/// small tasks and their executors; [`RealAgent::stop`] kills it, whatever it left (processes,
/// mounts) and its cgroups.
struct RealAgent {
    daemon: Daemon,
    work_dir: PathBuf,
    cgroups_root: String,
    metrics: String,
    http: Http,
}

impl RealAgent {
    async fn start(ctx: &Ctx, name: &str, master: &Daemon, tasks: usize) -> anyhow::Result<Self> {
        Self::start_with(ctx, name, master, tasks, &[]).await
    }

    /// Like [`RealAgent::start`], with more agent flags.
    async fn start_with(
        ctx: &Ctx,
        name: &str,
        master: &Daemon,
        tasks: usize,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let work_dir = ctx.sub(&format!("{name}-agent"));
        let port = crate::procs::free_port()?;
        let cgroups_root = format!("drover-bench-{name}-{}", std::process::id());
        let mut args = vec![
            format!("--master={}", master.addr()),
            "--ip=127.0.0.1".to_owned(),
            format!("--port={port}"),
            format!("--work_dir={}", work_dir.display()),
            // Room for every task and its executor's Mesos overhead (0.1 cpus, 32 MB each).
            format!("--resources=cpus:{};mem:{}", tasks + 10, 64 * tasks + 1024),
            format!("--cgroups_root={cgroups_root}"),
        ];
        args.extend(extra.iter().cloned());
        let agent = RealAgent {
            daemon: Daemon::start("agent", &args, &ctx.log())?,
            work_dir,
            cgroups_root,
            metrics: format!("http://127.0.0.1:{port}/metrics/snapshot"),
            http: ctx.http.clone(),
        };
        wait_until(Duration::from_secs(60), "the agent to register", || async {
            agent.metric("slave/registered").await == Some(1.0)
        })
        .await?;
        Ok(agent)
    }

    /// One value of the agent's `/metrics/snapshot`.
    async fn metric(&self, name: &str) -> Option<f64> {
        let (status, body) = self.http.get(&self.metrics).await.ok()?;
        let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
        (status == 200).then(|| value[name].as_f64())?
    }

    /// Waits until the agent runs no executor (after a teardown). When they do not end, the
    /// error says which executors the agent still holds, and their tasks' states.
    async fn wait_idle(&self) -> anyhow::Result<()> {
        let waited = wait_until(
            Duration::from_secs(120),
            "the torn-down tasks to end",
            || async { self.metric("slave/executors_running").await == Some(0.0) },
        )
        .await;
        match waited {
            Ok(()) => Ok(()),
            Err(error) => Err(error.context(format!(
                "the agent still holds: {}",
                self.executors_left().await
            ))),
        }
    }

    /// The executors of the agent's `/state` with their tasks' states, in a few words.
    async fn executors_left(&self) -> String {
        let url = self.metrics.replace("/metrics/snapshot", "/state");
        let Ok((200, body)) = self.http.get(&url).await else {
            return "(its /state did not answer)".to_owned();
        };
        let Ok(state) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return "(its /state is not JSON)".to_owned();
        };
        let mut left = Vec::new();
        for framework in state["frameworks"].as_array().into_iter().flatten() {
            for executor in framework["executors"].as_array().into_iter().flatten() {
                let tasks: Vec<String> = ["tasks", "queued_tasks", "completed_tasks"]
                    .iter()
                    .flat_map(|k| executor[*k].as_array().cloned().unwrap_or_default())
                    .map(|t| {
                        format!(
                            "{} {}",
                            t["id"].as_str().unwrap_or("?"),
                            t["state"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                left.push(format!(
                    "executor {} [{}]",
                    executor["id"].as_str().unwrap_or("?"),
                    tasks.join(", ")
                ));
            }
        }
        if left.is_empty() {
            "no executor in its /state".to_owned()
        } else {
            left.join("; ")
        }
    }

    /// Kills the agent, then whatever it left running (after a failure), then its cgroups (a
    /// cgroup can only be removed once the kernel has torn its processes down).
    async fn stop(mut self) {
        self.daemon.kill();
        let work_dir = self.work_dir.clone();
        let _ = wait_until(
            Duration::from_secs(30),
            "the agent's processes to end",
            || {
                let left = crate::procs::processes_under(&work_dir);
                for pid in &left {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(*pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                async move { left.is_empty() }
            },
        )
        .await;
        // Image root filesystems (UCR) a killed agent left mounted.
        crate::procs::unmount_under(&self.work_dir);
        let root = self.cgroups_root.clone();
        let _ = wait_until(Duration::from_secs(10), "the agent's cgroups to go", || {
            let gone = crate::procs::remove_cgroups(&root);
            async move { gone }
        })
        .await;
    }
}

/// G7: a real agent with `g7_tasks` running tasks (each a real command executor and its
/// process, in cgroups) is SIGKILLed and started again on the same work dir; the time until it
/// has re-attached every executor and re-registered with the master, with every task still
/// RUNNING.
pub async fn g7_agent_restart(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let n = ctx.sizes.g7_tasks;
    let master = ctx.master("g7-master", &[])?;
    let mut agent = RealAgent::start(ctx, "g7", &master, n).await?;
    let result = async {
        let fw = BenchFramework::subscribe(&master.addr(), n, n).await?;
        let launch_limit = Duration::from_secs(120 + n as u64 / 5);
        wait_counter(
            &fw.counters().running,
            n as u64,
            launch_limit,
            "G7 tasks RUNNING",
        )
        .await?;
        let updates_before = Counters::get(&fw.counters().updates);
        let executors = executor_pids(&agent.work_dir);
        let t0 = Instant::now();
        agent.daemon.kill();
        agent.daemon.restart()?;
        wait_until(
            Duration::from_secs(120),
            "the agent to re-register",
            || async { agent.metric("slave/registered").await == Some(1.0) },
        )
        .await?;
        let reregistered = t0.elapsed();
        let running = agent.metric("slave/tasks_running").await.unwrap_or(-1.0);
        anyhow::ensure!(
            running == n as f64,
            "{running} of {n} tasks RUNNING after the restart"
        );
        let survivors = executors
            .iter()
            .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
            .count();
        anyhow::ensure!(
            survivors == executors.len(),
            "{} of {} executors died across the restart",
            executors.len() - survivors,
            executors.len()
        );
        let updates = Counters::get(&fw.counters().updates) - updates_before;
        fw.teardown().await?;
        agent.wait_idle().await?;
        Ok((reregistered, executors.len(), updates))
    }
    .await;
    agent.stop().await;
    let (reregistered, executors, updates) = result?;
    Ok(vec![line(
        "G7",
        "agent restart: SIGKILL -> executors re-attached, re-registered",
        reregistered.as_secs_f64(),
        "s",
        // Issue 20 lowered it from 1 s.
        Some(0.3),
        Better::Lower,
        "Mesos waits >= executor_reregistration_timeout 2 s (M13)",
        format!("{n} tasks, {executors} live executors kept; {updates} updates during the restart"),
    )])
}

/// TG (issue 16): launch throughput of task groups on one real agent against single command
/// tasks, same run: `g7_tasks` tasks as single command tasks (one command executor each), then
/// the same number as groups of 5 (one default executor per group). Each measures ACCEPT →
/// every task RUNNING, then tears the framework down and waits for its executors to end.
pub async fn tg_groups(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    const GROUP: usize = 5;
    let n = ctx.sizes.g7_tasks / GROUP * GROUP;
    let master = ctx.master("tg-master", &[])?;
    let agent = RealAgent::start(ctx, "tg", &master, n).await?;
    let result = async {
        let mut took = Vec::new();
        for group_size in [0, GROUP] {
            let t0 = Instant::now();
            let fw = BenchFramework::subscribe_grouped(&master.addr(), n, n, group_size).await?;
            wait_counter(
                &fw.counters().running,
                n as u64,
                Duration::from_secs(120 + n as u64 / 5),
                "TG tasks RUNNING",
            )
            .await?;
            took.push(t0.elapsed());
            fw.teardown().await?;
            agent.wait_idle().await?;
        }
        Ok::<_, anyhow::Error>(took)
    }
    .await;
    agent.stop().await;
    let took = result?;
    let (single, grouped) = (took[0].as_secs_f64(), took[1].as_secs_f64());
    Ok(vec![
        line(
            "TG",
            "single command tasks: ACCEPT -> all RUNNING, one agent",
            n as f64 / single,
            "tasks/s",
            None,
            Better::Higher,
            "same run as the groups",
            format!("{n} tasks, one command executor each, {single:.2} s"),
        ),
        line(
            "TG",
            "task groups of 5: ACCEPT -> all RUNNING, one agent",
            (n / GROUP) as f64 / grouped,
            "groups/s",
            None,
            Better::Higher,
            "same run as the single tasks",
            format!(
                "{} groups ({n} tasks, {:.0} tasks/s), one default executor each, {grouped:.2} s",
                n / GROUP,
                n as f64 / grouped
            ),
        ),
    ])
}

/// Pids of the command executors running under an agent's work dir (their cwd is a sandbox
/// and their command line says `executor`).
fn executor_pids(work_dir: &Path) -> Vec<u32> {
    crate::procs::processes_under(work_dir)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == b"executor".as_slice())
            })
        })
        .collect()
}

/// G9: time from cutting an agent off until Marathon's replacements are RUNNING.
pub async fn g9_replacement(ctx: &Ctx) -> anyhow::Result<Vec<Line>> {
    let s = &ctx.sizes;
    let mut lines = Vec::new();
    let mut runs: Vec<(&str, Vec<&str>, f64)> = vec![(
        "tuned (ping 1 s x 2)",
        vec!["--agent_ping_timeout=1secs", "--max_agent_ping_timeouts=2"],
        5.0,
    )];
    if s.g9_default {
        runs.push(("default flags (ping 3 s x 4)", vec![], 20.0));
    }
    for (label, flags, target) in runs {
        let name = format!("g9-{}", if flags.is_empty() { "default" } else { "tuned" });
        let master = ctx.master(&format!("{name}-master"), &flags)?;
        let marathon = ctx.marathon(&format!("{name}-marathon"), &master).await?;
        let fleet = Fleet::start(FleetConfig::new(master.addr(), s.g9_agents)).await?;
        let api = format!("http://{}", marathon.addr());
        let n = s.g9_instances;
        let (status, body) = ctx
            .http
            .post_json(&format!("{api}/v2/apps"), app_json("/bench/g9", n))
            .await?;
        anyhow::ensure!(
            status == 201,
            "POST answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        wait_counter(
            &fleet.counters().running_acked,
            n as u64,
            Duration::from_secs(120),
            "G9 instances",
        )
        .await?;
        // The victim: the agent with the most instances.
        let (_, tasks) = ctx.http.get(&format!("{api}/v2/tasks")).await?;
        let tasks: serde_json::Value = serde_json::from_slice(&tasks)?;
        let mut per_agent = std::collections::BTreeMap::<String, usize>::new();
        for t in tasks["tasks"].as_array().into_iter().flatten() {
            if let Some(id) = t["slaveId"].as_str() {
                *per_agent.entry(id.to_owned()).or_default() += 1;
            }
        }
        let (victim, on_victim) = per_agent
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .context("no task listed by /v2/tasks")?;
        let handle = fleet
            .agents
            .iter()
            .find(|a| a.id().as_deref() == Some(victim.as_str()))
            .context("victim agent not in the fleet")?;
        let t0 = Instant::now();
        handle.send(Control::Cut(true));
        let limit = Duration::from_secs(300);
        wait_counter(
            &fleet.counters().running_acked,
            (n + on_victim) as u64,
            limit,
            "replacements RUNNING",
        )
        .await?;
        lines.push(line(
            "G9",
            &format!("replacement after cut-off, {label}"),
            t0.elapsed().as_secs_f64(),
            "s",
            Some(target),
            Better::Lower,
            "Mesos 75 s + Marathon ~3 s; Nomad ~20 s; K8s ~5 min 50 s (M12, MA5, N3, K7)",
            format!(
                "{on_victim} of {n} instances on the cut agent, {} agents",
                s.g9_agents
            ),
        ));
        drop(fleet);
        drop(marathon);
        drop(master);
    }
    Ok(lines)
}

/// Removes a scratch directory tree, ignoring errors.
pub fn cleanup(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
