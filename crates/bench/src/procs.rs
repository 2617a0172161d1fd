//! Daemons under test as child processes: the bench binary re-executes itself with a hidden
//! `daemon master|marathon|agent` subcommand that runs `drover_master::run_on`,
//! `drover_marathon::serve` or `drover_agent::run`, exactly the code `drover master|marathon|
//! agent` runs (the agent's command executors are this binary's hidden `executor`). Each child binds
//! a free port and prints it; it dies with the harness (`PR_SET_PDEATHSIG`), and every
//! [`Daemon`] is SIGKILLed and reaped when dropped, so nothing outlives a run, even on panic.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    /// What it is ("master", "marathon").
    pub name: String,
    /// Its loopback port.
    pub port: u16,
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
}

impl Daemon {
    /// Starts `daemon <kind> <args…>` and waits until it listens.
    pub fn start(kind: &str, args: &[String], log: &Path) -> anyhow::Result<Daemon> {
        let exe = std::env::current_exe().context("locating the bench binary")?;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = Command::new(exe)
            .arg("daemon")
            .arg(kind)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting the {kind} daemon"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = match read {
            Ok(n) if n > 0 => line
                .trim()
                .strip_prefix("PORT ")
                .and_then(|p| p.parse::<u16>().ok()),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("the {kind} daemon did not start: {}", tail(&text));
        };
        Ok(Daemon {
            name: kind.to_owned(),
            port,
            child: Some(child),
            args: args.to_vec(),
            log: log.to_owned(),
        })
    }

    /// The child's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Resident set size in bytes (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let pid = self.pid().context("daemon not running")?;
        rss_bytes(pid)
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same arguments on the same port (after [`Daemon::kill`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let mut args = self.args.clone();
        replace_port(&mut args, self.port);
        let mut fresh = Daemon::start(&self.name, &args, &self.log)?;
        self.child = fresh.child.take();
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn replace_port(args: &mut [String], port: u16) {
    for arg in args.iter_mut() {
        for flag in ["--port=", "--http_port="] {
            if arg.starts_with(flag) {
                *arg = format!("{flag}{port}");
            }
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// Resident set size of a process in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?;
    Ok(kb * 1024)
}

/// Master flags for a bench run: loopback, a free port, a temp work dir.
pub fn master_args(work_dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--ip=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        format!("--work_dir={}", work_dir.display()),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// Marathon flags for a bench run.
pub fn marathon_args(master: &str, work_dir: &Path) -> Vec<String> {
    vec![
        format!("--master={master}"),
        "--http_port=0".to_owned(),
        "--hostname=127.0.0.1".to_owned(),
        format!("--work_dir={}", work_dir.display()),
    ]
}

/// Warnings (a disconnected slow reader, a failed commit) go to stderr, which is the run's
/// daemons.log for daemons and the sandbox's stderr for executors; `DROVER_BENCH_LOG` says more.
fn init_logging() {
    let filter = std::env::var("DROVER_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// The hidden `daemon` subcommand's body: runs one daemon in this process until killed.
pub fn run_daemon(kind: DaemonKind) -> anyhow::Result<()> {
    // Die with the harness even if it is SIGKILLed itself.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match kind {
            DaemonKind::Master(flags) => {
                let listener =
                    tokio::net::TcpListener::bind(std::net::SocketAddr::new(flags.ip, flags.port))
                        .await?;
                announce(listener.local_addr()?.port());
                drover_master::run_on(listener, flags, std::future::pending()).await
            }
            DaemonKind::Marathon(flags) => {
                let listener =
                    tokio::net::TcpListener::bind(("127.0.0.1", flags.http_port)).await?;
                announce(listener.local_addr()?.port());
                drover_marathon::serve(flags, listener, std::future::pending()).await
            }
            DaemonKind::Agent(flags) => {
                // The agent binds its `--port` itself (the harness picked a free one); callers
                // wait for it to register before using it.
                announce(flags.port);
                drover_agent::run(*flags, std::future::pending()).await
            }
        }
    })
}

fn announce(port: u16) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "PORT {port}");
    let _ = out.flush();
}

/// Which daemon the hidden subcommand runs.
#[derive(Debug, clap::Subcommand)]
pub enum DaemonKind {
    /// `drover master`.
    Master(drover_master::Flags),
    /// `drover marathon`.
    Marathon(drover_marathon::Flags),
    /// `drover agent` (boxed: the agent's flags are far larger than the others').
    Agent(Box<drover_agent::Flags>),
}

/// The hidden `executor` subcommand's body: the built-in command executor, as `drover
/// executor` runs it (an agent started by the harness launches `<this binary> executor`).
pub fn run_executor(flags: drover_executor::Flags) -> anyhow::Result<()> {
    init_logging();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(drover_executor::run(flags, std::future::pending()))
}

/// A free loopback port (bound and released; the caller binds it next).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Pids of the processes whose working directory lies under `dir` (the executors and tasks a
/// real agent started there).
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
            (pid != me && cwd.starts_with(dir)).then_some(pid)
        })
        .collect()
}

/// Polls `probe` every 10 ms until it returns true or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if probe().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Removes a cgroup subtree named `root` in every mounted hierarchy, deepest first (a
/// non-empty cgroup cannot be removed); true when none is left.
pub fn remove_cgroups(root: &str) -> bool {
    fn remove_tree(dir: &Path) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let mut all_gone = true;
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = hierarchy.path().join(root);
        if path.is_dir() {
            remove_tree(&path);
            all_gone &= !path.exists();
        }
    }
    all_gone
}

/// Unmounts (lazily, deepest first) every mount point at or under `dir`: what a killed agent's
/// image provisioner or a stopped dockerd left there, so the directory can be removed.
pub fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.as_os_str().len()));
    for point in points {
        let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
    }
}
