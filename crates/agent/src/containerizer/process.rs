//! Watching a container's first process: exit notification through a pidfd (tokio-registered),
//! signals that cannot hit a recycled pid, reaping, and identity checks for re-attached pids.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// How we learn that the process has exited.
#[derive(Debug)]
pub(crate) enum ExitWatch {
    /// A pidfd becomes readable when the process exits (zombie or reaped).
    Pidfd(AsyncFd<OwnedFd>),
    /// No pidfd support (kernel < 5.3): poll `/proc`, checking the start time against reuse.
    Poll { start_time_ticks: Option<u64> },
    /// The process was already gone when we attached.
    Gone,
}

impl ExitWatch {
    #[allow(unsafe_code)]
    pub(crate) fn from_pidfd(pidfd: OwnedFd) -> io::Result<Self> {
        // SAFETY: the OwnedFd owns an open descriptor that the AsyncFd keeps (and so keeps
        // open and unchanged) until it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE)? };
        Ok(Self::Pidfd(fd))
    }

    /// Resolves once `pid` has exited.
    pub(crate) async fn exited(&self, pid: i32) {
        match self {
            ExitWatch::Pidfd(fd) => {
                // Readiness is level-triggered and permanent once the process is dead, so the
                // guard is left as is and any number of waiters see it.
                let _ = fd.readable().await;
            }
            ExitWatch::Poll { start_time_ticks } => {
                while is_alive(pid, *start_time_ticks) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            ExitWatch::Gone => {}
        }
    }

    /// Non-blocking: whether `pid` has exited.
    pub(crate) fn has_exited(&self, pid: i32) -> bool {
        match self {
            ExitWatch::Pidfd(fd) => {
                let mut pollfd = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(fd.get_ref()),
                    nix::poll::PollFlags::POLLIN,
                )];
                matches!(nix::poll::poll(&mut pollfd, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
            }
            ExitWatch::Poll { start_time_ticks } => !is_alive(pid, *start_time_ticks),
            ExitWatch::Gone => true,
        }
    }

    /// Sends `signal` to the process itself (not its group). ESRCH counts as success: the
    /// process is gone, which is what every caller wants.
    pub(crate) fn signal(&self, pid: i32, signal: Signal) -> io::Result<()> {
        let result = match self {
            ExitWatch::Pidfd(fd) => pidfd_send_signal(fd.get_ref(), signal),
            ExitWatch::Poll { .. } => nix::sys::signal::kill(Pid::from_raw(pid), signal),
            ExitWatch::Gone => Ok(()),
        };
        match result {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[allow(unsafe_code)]
fn pidfd_send_signal(fd: &OwnedFd, signal: Signal) -> nix::Result<()> {
    // SAFETY: pidfd_send_signal(2) with a pidfd we own, a valid signal number, no siginfo and
    // no flags; it touches no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    Errno::result(rc).map(drop)
}

/// `pidfd_open(2)`.
#[allow(unsafe_code)]
pub(crate) fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor we then own.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0 as libc::c_uint) };
    let fd = Errno::result(rc)? as std::os::fd::RawFd;
    // SAFETY: `fd` is a fresh descriptor returned by the kernel, owned by nobody else.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Reaps `pid` if it is our child. `Ok(None)`: not our child (a re-attached process whose
/// parent is now init), so its status is unknowable.
pub(crate) fn reap(pid: i32) -> io::Result<Option<WaitStatus>> {
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(pid), Some(WaitPidFlag::__WALL)) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                return Ok(Some(status));
            }
            // Stopped/continued reports are not terminations; keep waiting.
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22), which together
/// with the pid identifies a process across pid reuse.
pub(crate) fn start_time_ticks(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Fields of `/proc/<pid>/stat` after the `(comm)` field (so index 0 is field 3, the state).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses; it ends at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Whether `pid` runs (not a zombie) and is still the process that started at
/// `start_time_ticks`.
pub(crate) fn is_alive(pid: i32, start_time_ticks: Option<u64>) -> bool {
    let Some(fields) = stat_fields(pid) else {
        return false;
    };
    let running = fields
        .first()
        .is_some_and(|state| state != "Z" && state != "X");
    let same = match start_time_ticks {
        Some(expected) => fields.get(19).and_then(|t| t.parse::<u64>().ok()) == Some(expected),
        None => true,
    };
    running && same
}

/// CPU time (user, system) in seconds and resident set size in bytes of one process, for
/// containers without cgroups.
pub(crate) fn process_usage(pid: i32) -> Option<(f64, f64, u64)> {
    let fields = stat_fields(pid)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .unwrap_or(100) as f64;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|&p| p > 0)
        .unwrap_or(4096) as u64;
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // utime, stime, cutime, cstime are fields 14-17; rss (pages) is field 24.
    let user = field(11)? + field(13)?;
    let system = field(12)? + field(14)?;
    let rss = field(21)? * page;
    Some((user as f64 / hz, system as f64 / hz, rss))
}
