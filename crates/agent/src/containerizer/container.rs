//! The handle of one running (or finished) container: wait, kill, destroy, stats.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::cgroups::{self, CgroupPaths};
use super::process::{self, ExitWatch};
use super::{Checkpoint, ContainerId, Prepared};

/// How the container's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
    /// Not known: the process was re-attached after an agent restart and was not our child, or
    /// it was already gone when we re-attached.
    Unknown,
}

/// What [`Container::wait`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Exit code or signal of the task.
    pub status: ExitStatus,
    /// The kernel OOM killer acted in the container's memory cgroup: report
    /// `REASON_CONTAINER_LIMITATION_MEMORY` rather than a plain failure.
    pub oom_killed: bool,
    /// Mesos-style message: "Command exited with status 3", "Command terminated with signal
    /// Killed", "Memory limit exceeded: Requested: 32MB Maximum Used: 32MB".
    pub message: String,
    /// Peak memory usage of the cgroup, if known (Mesos reports it as the limited `mem`).
    pub mem_max_usage_bytes: Option<u64>,
}

/// What [`Container::kill`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillOutcome {
    /// The task outlived the grace period and got SIGKILL.
    pub escalated: bool,
}

/// Resource usage for `/monitor/statistics`; `None` where not measurable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerStats {
    /// Current memory usage of the cgroup (or the main process' RSS without cgroups).
    pub mem_usage_bytes: Option<u64>,
    /// Peak memory usage of the cgroup.
    pub mem_max_usage_bytes: Option<u64>,
    /// Anonymous (RSS) memory.
    pub mem_rss_bytes: Option<u64>,
    /// Page cache.
    pub mem_cache_bytes: Option<u64>,
    /// The memory limit applied.
    pub mem_limit_bytes: Option<u64>,
    /// User CPU time of the whole container (without cgroups: the main process and its reaped
    /// children).
    pub cpu_user_secs: Option<f64>,
    /// System CPU time, likewise.
    pub cpu_system_secs: Option<f64>,
    /// Total CPU time at nanosecond (v1) or microsecond (v2) resolution.
    pub cpu_usage_secs: Option<f64>,
    /// Processes and threads in the container.
    pub pids_current: Option<u64>,
    /// OOM kills so far in the memory cgroup.
    pub oom_kills: Option<u64>,
}

/// A launched or re-attached container.
///
/// Dropping the handle leaves the processes running (that is what lets the agent restart
/// under its tasks); a handle for them can be had again with
/// [`recover`](super::Containerizer::recover). Methods take `&self`, so one task can `wait`
/// while another `kill`s.
#[derive(Debug)]
pub struct Container {
    checkpoint: Checkpoint,
    watch: ExitWatch,
    /// Pid-namespace mode: where the init leaves the task's exact wait status.
    status_pipe: Option<OwnedFd>,
    termination: tokio::sync::OnceCell<Termination>,
}

/// How long to wait for processes that got SIGKILL to disappear before reporting an error.
const SIGKILL_TIMEOUT: Duration = Duration::from_secs(10);

impl Container {
    pub(crate) fn launched(prepared: Prepared) -> io::Result<Self> {
        let Prepared {
            checkpoint,
            spawned,
        } = prepared;
        let watch = match spawned.pidfd {
            Some(fd) => ExitWatch::from_pidfd(fd)?,
            None => ExitWatch::Poll {
                start_time_ticks: checkpoint.start_time_ticks,
            },
        };
        if let Some(pipe) = &spawned.status_pipe {
            // The read happens after the init has exited, so the data is either there or will
            // never come; non-blocking keeps a stray copy of the write end (held for a moment
            // by a concurrently cloned child) from stalling us.
            let flags = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_GETFL)?;
            let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        }
        Ok(Self {
            checkpoint,
            watch,
            status_pipe: spawned.status_pipe,
            termination: tokio::sync::OnceCell::new(),
        })
    }

    pub(crate) fn recovered(checkpoint: Checkpoint) -> io::Result<Self> {
        let pid = checkpoint.pid;
        let expected = checkpoint.start_time_ticks;
        let same_process = || match expected {
            Some(ticks) => process::start_time_ticks(pid) == Some(ticks),
            // Without a start time, membership in the container's cgroups is the best
            // evidence that the pid was not recycled; with neither, trust the checkpoint.
            None => {
                checkpoint.cgroups.is_empty() || cgroups::procs(&checkpoint.cgroups).contains(&pid)
            }
        };
        let watch = match process::pidfd_open(pid) {
            // Checked after opening: if the pid is ours now, the pidfd pins that process.
            Ok(fd) if same_process() => ExitWatch::from_pidfd(fd)?,
            Ok(_) | Err(Errno::ESRCH) => ExitWatch::Gone,
            Err(Errno::ENOSYS) if process::is_alive(pid, expected) => ExitWatch::Poll {
                start_time_ticks: expected,
            },
            Err(Errno::ENOSYS) => ExitWatch::Gone,
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            checkpoint,
            watch,
            status_pipe: None,
            termination: tokio::sync::OnceCell::new(),
        })
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.checkpoint.container_id
    }

    /// Host pid of the first process: the task itself, or in pid-namespace mode the init that
    /// runs it.
    pub fn pid(&self) -> i32 {
        self.checkpoint.pid
    }

    /// Whether the tree runs in its own pid namespace.
    pub fn pid_namespace(&self) -> bool {
        self.checkpoint.pid_namespace
    }

    /// The container's cgroups.
    pub fn cgroups(&self) -> &CgroupPaths {
        &self.checkpoint.cgroups
    }

    /// The sandbox directory.
    pub fn sandbox_dir(&self) -> &Path {
        &self.checkpoint.sandbox_dir
    }

    /// What to checkpoint so a restarted agent can [`recover`](super::Containerizer::recover).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Waits for the first process to exit and reports how. Later calls return the same
    /// answer at once. Background processes of the tree may outlive it until
    /// [`kill`](Self::kill) or [`destroy`](Self::destroy).
    pub async fn wait(&self) -> Termination {
        self.termination
            .get_or_init(|| self.terminate())
            .await
            .clone()
    }

    async fn terminate(&self) -> Termination {
        let pid = self.pid();
        self.watch.exited(pid).await;
        // A `Gone` process is not reaped: its pid may already belong to someone else.
        let reaped = match self.watch {
            ExitWatch::Gone => None,
            _ => process::reap(pid).unwrap_or_else(|e| {
                tracing::warn!(container_id = %self.id(), error = %e, "reaping container process");
                None
            }),
        };
        let mut status = match reaped {
            Some(WaitStatus::Exited(_, code)) => ExitStatus::Exited(code),
            Some(WaitStatus::Signaled(_, signal, _)) => ExitStatus::Signaled(signal as i32),
            _ => ExitStatus::Unknown,
        };
        if let Some(task_status) = self.status_pipe.as_ref().and_then(read_status) {
            status = task_status;
        }
        let paths = &self.checkpoint.cgroups;
        let oom_killed = cgroups::oom_killed(paths, status == ExitStatus::Signaled(libc::SIGKILL));
        let mem_max_usage_bytes = cgroups::max_memory_usage(paths);
        let message = if oom_killed {
            let mb = |bytes: Option<u64>| {
                bytes.map_or_else(
                    || "unknown".to_owned(),
                    |b| format!("{}MB", b / (1024 * 1024)),
                )
            };
            format!(
                "Memory limit exceeded: Requested: {} Maximum Used: {}",
                mb(self.checkpoint.mem_limit_bytes),
                mb(mem_max_usage_bytes)
            )
        } else {
            match status {
                ExitStatus::Exited(code) => format!("Command exited with status {code}"),
                ExitStatus::Signaled(signal) => {
                    format!(
                        "Command terminated with signal {}",
                        signal_description(signal)
                    )
                }
                ExitStatus::Unknown => {
                    "Command terminated; exit status unknown (not a child of this agent)".to_owned()
                }
            }
        };
        tracing::debug!(container_id = %self.id(), ?status, oom_killed, "container terminated");
        Termination {
            status,
            oom_killed,
            message,
            mem_max_usage_bytes,
        }
    }

    /// Whether the first process has exited (without waiting).
    pub fn has_exited(&self) -> bool {
        self.termination.initialized() || self.watch.has_exited(self.pid())
    }

    /// SIGTERM to the whole tree, SIGKILL once `grace` has passed with the first process still
    /// alive; then SIGKILL to whatever else of the tree is left (background children), as Mesos
    /// destroys a container once its executor is gone. Returns when the first process has
    /// exited; its [`Termination`] is then available from [`wait`](Self::wait).
    ///
    /// The tree is: in pid-namespace mode, the namespace (the init forwards SIGTERM to all of
    /// it; SIGKILL to the init ends it); otherwise the process group, plus with cgroups every
    /// process in them, which catches members that left the group with `setsid`.
    pub async fn kill(&self, grace: Duration) -> io::Result<KillOutcome> {
        let pid = self.pid();
        let mut escalated = false;
        if !self.has_exited() {
            self.signal_tree(Signal::SIGTERM)?;
            if tokio::time::timeout(grace, self.watch.exited(pid))
                .await
                .is_err()
            {
                escalated = true;
                self.signal_tree(Signal::SIGKILL)?;
            }
        }
        self.sweep().await?;
        tokio::time::timeout(SIGKILL_TIMEOUT, self.watch.exited(pid))
            .await
            .map_err(|_| io::Error::other(format!("pid {pid} survived SIGKILL")))?;
        tracing::debug!(container_id = %self.id(), escalated, "container killed");
        Ok(KillOutcome { escalated })
    }

    fn signal_tree(&self, signal: Signal) -> io::Result<()> {
        let pid = self.pid();
        if self.checkpoint.pid_namespace {
            return self.watch.signal(pid, signal);
        }
        if matches!(self.watch, ExitWatch::Gone) {
            return Ok(());
        }
        match nix::sys::signal::killpg(Pid::from_raw(pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// SIGKILL to what is left of the tree after the first process.
    async fn sweep(&self) -> io::Result<()> {
        if !self.checkpoint.pid_namespace && !matches!(self.watch, ExitWatch::Gone) {
            // The group outlives its leader while members remain, and its id cannot be
            // reused while it exists, so this reaches only the task's own processes.
            let _ = nix::sys::signal::killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        }
        let paths = self.checkpoint.cgroups.clone();
        if paths.is_empty() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || cgroups::kill_all(&paths, SIGKILL_TIMEOUT))
            .await
            .map_err(io::Error::other)?
    }

    /// Makes sure no process of the container is left (SIGKILL without grace), reaps the first
    /// process, and removes the cgroups. The sandbox stays (it belongs to the agent's GC).
    pub async fn destroy(&self) -> io::Result<()> {
        if !self.has_exited() {
            self.signal_tree(Signal::SIGKILL)?;
        }
        self.sweep().await?;
        let pid = self.pid();
        tokio::time::timeout(SIGKILL_TIMEOUT, self.watch.exited(pid))
            .await
            .map_err(|_| io::Error::other(format!("pid {pid} survived SIGKILL")))?;
        self.wait().await;
        let paths = self.checkpoint.cgroups.clone();
        tokio::task::spawn_blocking(move || cgroups::destroy(&paths))
            .await
            .map_err(io::Error::other)??;
        tracing::debug!(container_id = %self.id(), "container destroyed");
        Ok(())
    }

    /// Changes the container's cpu and memory limits (blocking cgroupfs writes, off the
    /// runtime). Without cgroups there is nothing to change.
    pub async fn update(&self, limits: super::Limits, cfs: bool) -> io::Result<()> {
        let paths = self.checkpoint.cgroups.clone();
        if paths.is_empty() {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || cgroups::update(&paths, &limits, cfs))
            .await
            .map_err(io::Error::other)?
    }

    /// Current resource usage. Reads a few small cgroupfs (or procfs) files.
    pub fn stats(&self) -> ContainerStats {
        let paths = &self.checkpoint.cgroups;
        let mut stats = ContainerStats {
            mem_limit_bytes: self.checkpoint.mem_limit_bytes,
            ..ContainerStats::default()
        };
        if paths.is_empty() {
            if !self.has_exited()
                && let Some((user, system, rss)) = process::process_usage(self.pid())
            {
                stats.cpu_user_secs = Some(user);
                stats.cpu_system_secs = Some(system);
                stats.mem_usage_bytes = Some(rss);
                stats.mem_rss_bytes = Some(rss);
            }
            return stats;
        }
        let c = cgroups::stats(paths);
        // The limit in force (a container of a default executor is resized as tasks join and
        // leave it), else the one it was launched with.
        if let Some(limit) = cgroups::memory_limit(paths) {
            stats.mem_limit_bytes = Some(limit);
        }
        stats.mem_usage_bytes = c.mem_usage_bytes;
        stats.mem_max_usage_bytes = c.mem_max_usage_bytes;
        stats.mem_rss_bytes = c.mem_rss_bytes;
        stats.mem_cache_bytes = c.mem_cache_bytes;
        stats.cpu_user_secs = c.cpu_user_secs;
        stats.cpu_system_secs = c.cpu_system_secs;
        stats.cpu_usage_secs = c.cpu_usage_secs;
        stats.pids_current = c.pids_current;
        stats.oom_kills = c.oom_kills;
        stats
    }

    /// Bytes the sandbox occupies on disk (like `du`), for the driver's disk-quota watcher.
    pub async fn sandbox_usage_bytes(&self) -> io::Result<u64> {
        let dir = self.checkpoint.sandbox_dir.clone();
        tokio::task::spawn_blocking(move || super::dir_usage_bytes(&dir))
            .await
            .map_err(io::Error::other)?
    }
}

/// The task's wait status as written by the namespace init, if it got that far.
fn read_status(pipe: &OwnedFd) -> Option<ExitStatus> {
    let mut buf = [0u8; 4];
    let mut filled = 0;
    while filled < buf.len() {
        match nix::unistd::read(pipe, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    if filled < buf.len() {
        return None;
    }
    let status = i32::from_ne_bytes(buf);
    if libc::WIFEXITED(status) {
        Some(ExitStatus::Exited(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(ExitStatus::Signaled(libc::WTERMSIG(status)))
    } else {
        None
    }
}

/// `strsignal`'s wording, which Mesos puts into its messages.
fn signal_description(signal: i32) -> String {
    let text = match signal {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "File size limit exceeded",
        libc::SIGSYS => "Bad system call",
        _ => return format!("Unknown signal {signal}"),
    };
    text.to_owned()
}
