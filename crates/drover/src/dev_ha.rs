//! `drover dev --ha`: a highly available cluster on this machine, around a ZooKeeper that is
//! already running — three masters, two schedulers and an agent, each its own `drover` process
//! on loopback (so any of them can be killed, the leader first), restarted when it exits as a
//! supervisor (systemd) would restart it in production. The masters elect a leader and keep the
//! registry in ZooKeeper; the schedulers elect theirs and keep their state there; the agent and
//! the schedulers find the leading master through ZooKeeper.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use drover_coord::ZkCoordinator;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::cli::Service;
use crate::dev::DevFlags;

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long start-up may take.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a supervisor waits before restarting a child that exited.
const RESTART_DELAY: Duration = Duration::from_secs(2);

/// One supervised `drover` process.
struct Proc {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let exe = std::env::current_exe().context("find the drover binary")?;
        let child = Command::new(exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("clone a log handle")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start the {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> String {
        self.child
            .as_ref()
            .and_then(Child::id)
            .map_or_else(|| "-".to_owned(), |p| p.to_string())
    }

    /// SIGTERM, then SIGKILL after the timeout.
    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(STOP_TIMEOUT, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// `zk://[user:pass@]servers<path>/<name>`, credentials included (the URL's `Display` hides
/// the password).
fn child_url(url: &drover_coord::ZkUrl, name: &str) -> String {
    let auth = url
        .credentials
        .as_ref()
        .map(|(user, pass)| format!("{user}:{pass}@"))
        .unwrap_or_default();
    format!(
        "zk://{auth}{}{}/{name}",
        url.servers.join(","),
        url.path.trim_end_matches('/')
    )
}

/// The ports of the cluster: masters on `--master_port` and the two after the agent's
/// (`5050, 5052, 5053` by default), schedulers on `--marathon_port` and the next.
pub fn ports(flags: &DevFlags) -> anyhow::Result<(Vec<u16>, Vec<u16>)> {
    let m = flags.master_port;
    let s = flags.marathon_port;
    let masters = [Some(m), m.checked_add(2), m.checked_add(3)];
    let schedulers = [Some(s), s.checked_add(1)];
    let (Some(masters), Some(schedulers)) = (
        masters.into_iter().collect::<Option<Vec<u16>>>(),
        schedulers.into_iter().collect::<Option<Vec<u16>>>(),
    ) else {
        bail!(
            "--master_port and --marathon_port leave no room for the other masters and schedulers"
        );
    };
    let mut all: Vec<u16> = masters.iter().chain(&schedulers).copied().collect();
    all.push(flags.agent_port);
    all.sort_unstable();
    if all.windows(2).any(|w| w[0] == w[1]) {
        bail!(
            "with --ha the masters take ports {masters:?}, the schedulers {schedulers:?} and the \
             agent {}: choose --master_port, --agent_port and --marathon_port so they do not overlap",
            flags.agent_port
        );
    }
    Ok((masters, schedulers))
}

/// Runs the HA cluster until Ctrl-C or SIGTERM.
pub async fn run(flags: DevFlags, work_dir: PathBuf) -> anyhow::Result<()> {
    if flags.credentials.is_some() {
        bail!(
            "--credentials is not supported with --ha yet: run the HA cluster without authentication, or one node with --credentials"
        );
    }
    let zk = flags.zk.clone();
    let (master_ports, scheduler_ports) = ports(&flags)?;
    // ZooKeeper first: without it nothing can start, and the reason should be plain.
    let probe = ZkCoordinator::connect(&zk, Duration::from_secs(10), Duration::from_secs(5))
        .await
        .map_err(|e| {
            anyhow!(
                "drover dev --ha needs a running ZooKeeper at {zk} ({e}). Start one, e.g. \
                 `apt-get install zookeeperd` (a service on 127.0.0.1:2181), or any ZooKeeper \
                 3.5+ on loopback, and give its address with --zk"
            )
        })?;
    drop(probe);
    for port in master_ports
        .iter()
        .chain(&scheduler_ports)
        .chain(std::iter::once(&flags.agent_port))
    {
        drop(
            crate::dev::bind(
                *port,
                "cluster",
                "--master_port/--agent_port/--marathon_port",
            )
            .await?,
        );
    }
    let logs = work_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let masters_zk = child_url(&zk, "mesos");
    let marathon_zk = child_url(&zk, "marathon");
    let mut procs = Vec::new();
    for (i, port) in master_ports.iter().enumerate() {
        procs.push(Proc {
            name: format!("master{}", i + 1),
            args: vec![
                "master".into(),
                "--ip=127.0.0.1".into(),
                format!("--port={port}"),
                format!(
                    "--work_dir={}",
                    work_dir.join(format!("master{}", i + 1)).display()
                ),
                format!("--zk={masters_zk}"),
                "--quorum=2".into(),
            ],
            log: logs.join(format!("master{}.log", i + 1)),
            child: None,
        });
    }
    let mut agent_args = vec!["agent".to_owned()];
    agent_args.extend(crate::dev::agent_args(&flags, &masters_zk, &work_dir));
    procs.push(Proc {
        name: "agent".into(),
        args: agent_args,
        log: logs.join("agent.log"),
        child: None,
    });
    for (i, port) in scheduler_ports.iter().enumerate() {
        procs.push(Proc {
            name: format!("scheduler{}", i + 1),
            args: vec![
                "marathon".into(),
                format!("--master={masters_zk}"),
                format!("--zk={marathon_zk}"),
                format!("--http_port={port}"),
                "--hostname=127.0.0.1".into(),
                format!(
                    "--work_dir={}",
                    work_dir.join(format!("scheduler{}", i + 1)).display()
                ),
            ],
            log: logs.join(format!("scheduler{}.log", i + 1)),
            child: None,
        });
    }
    for proc in &mut procs {
        proc.start()?;
    }
    let mut signals = crate::dev::Signals::new()?;
    let ready = tokio::select! {
        ready = wait_ready(&master_ports, &scheduler_ports, flags.agent_port) => Some(ready),
        _ = signals.recv() => None,
    };
    match ready {
        Some(Ok(())) => print_banner(
            &flags,
            &work_dir,
            &zk,
            &procs,
            &master_ports,
            &scheduler_ports,
        ),
        Some(Err(error)) => {
            stop_all(&mut procs).await;
            return Err(error.context(format!("the logs are in {}", logs.display())));
        }
        None => {
            stop_all(&mut procs).await;
            return Ok(());
        }
    }
    // Supervise: a child that exits (a killed leader, an abdicated scheduler) is started again.
    loop {
        let exited = tokio::select! {
            exited = next_exit(&mut procs) => exited,
            _ = signals.recv() => break,
        };
        let (index, status) = exited;
        let proc = &mut procs[index];
        println!(
            "drover dev: {} exited ({status}); restarting it in {}s, as a supervisor would (log: {})",
            proc.name,
            RESTART_DELAY.as_secs(),
            proc.log.display()
        );
        tokio::select! {
            _ = tokio::time::sleep(RESTART_DELAY) => {}
            _ = signals.recv() => break,
        }
        proc.start()?;
        println!("drover dev: {} is back (pid {})", proc.name, proc.pid());
    }
    stop_all(&mut procs).await;
    Ok(())
}

/// The index and exit status of the next child to exit.
async fn next_exit(procs: &mut [Proc]) -> (usize, String) {
    // Children are few: check each for an exit, then wait a moment (a child's exit has no
    // waker shared across all of them without a task per child).
    loop {
        for (index, proc) in procs.iter_mut().enumerate() {
            let Some(child) = proc.child.as_mut() else {
                continue;
            };
            match child.try_wait() {
                Ok(Some(status)) => {
                    proc.child = None;
                    return (index, status.to_string());
                }
                Ok(None) => {}
                Err(error) => {
                    proc.child = None;
                    return (index, error.to_string());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stop_all(procs: &mut [Proc]) {
    // Schedulers first (they would react to what follows), then the agent, the masters last.
    for proc in procs.iter_mut().rev() {
        println!("drover dev: stopping the {}", proc.name);
        proc.stop().await;
    }
}

/// Waits until one master leads with the agent registered and both schedulers name a leader.
async fn wait_ready(masters: &[u16], schedulers: &[u16], agent_port: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let mut waiting_for = "a leading master";
    loop {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the cluster did not start within {}s (still waiting for {waiting_for})",
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut leader_state = None;
        for port in masters {
            let master = Service::new("master", &format!("127.0.0.1:{port}"), "", "");
            if let Ok(state) = master.get("/master/state").await {
                leader_state = Some(state);
                break;
            }
        }
        let Some(state) = leader_state else {
            continue;
        };
        waiting_for = "the agent to register";
        let registered = crate::cli::array(&state, "slaves").iter().any(|a| {
            crate::cli::number(a, "port") as u16 == agent_port
                && a.get("active").and_then(Value::as_bool) == Some(true)
        });
        if !registered {
            continue;
        }
        waiting_for = "the schedulers to elect a leader";
        let mut named = Vec::new();
        for port in schedulers {
            let scheduler = Service::new("scheduler", &format!("127.0.0.1:{port}"), "", "");
            match scheduler.get("/v2/leader").await {
                Ok(body) => named.push(crate::cli::text(&body, "leader").to_owned()),
                Err(_) => break,
            }
        }
        if named.len() == schedulers.len() && named.windows(2).all(|w| w[0] == w[1]) {
            return Ok(());
        }
    }
}

fn print_banner(
    flags: &DevFlags,
    work_dir: &Path,
    zk: &drover_coord::ZkUrl,
    procs: &[Proc],
    masters: &[u16],
    schedulers: &[u16],
) {
    let mut lines = String::new();
    for proc in procs {
        // Masters and the agent speak TLS when LIBPROCESS_SSL_ENABLED is set; the schedulers
        // serve plain HTTP (their followers proxy over it).
        let (scheme, port) = match proc.args.iter().find_map(|a| a.strip_prefix("--port=")) {
            Some(port) => (drover_http::tls::scheme(), port),
            None => (
                "http",
                proc.args
                    .iter()
                    .find_map(|a| a.strip_prefix("--http_port="))
                    .unwrap_or("-"),
            ),
        };
        lines.push_str(&format!(
            "  {:<11} pid {:<8} {scheme}://127.0.0.1:{port}\n",
            proc.name,
            proc.pid()
        ));
    }
    println!(
        "\nDrover is running highly available on ZooKeeper {zk}:\n\n{lines}\n  \
         Find the leading master:    curl -si {}://127.0.0.1:{}/master/redirect\n  \
         Find the leading scheduler: curl -s http://127.0.0.1:{}/v2/leader\n  \
         Any scheduler serves the API (followers proxy to the leader); any master redirects.\n\n\
         Kill a leader (`kill -9 <pid>`): another takes over within the session timeout (10 s),\n\
         the agent and the schedulers follow it, and nothing running is killed. The killed\n\
         process is restarted as a supervisor would. Logs: {}.\n\
         The CLI reaches the leading master with --master zk://{}{}/mesos.\n\
         Ctrl-C stops everything; tasks are {}.",
        drover_http::tls::scheme(),
        masters[0],
        schedulers[0],
        work_dir.join("logs").display(),
        zk.servers.join(","),
        zk.path.trim_end_matches('/'),
        if flags.keep_tasks_running {
            "left running"
        } else {
            "killed"
        },
    );
}
