//! The daemons under test as real processes of the `drover` binary: started (an agent inside
//! its network namespace through `nsenter --net`), dying with the soak (`setpriv --pdeathsig`),
//! SIGKILLed, SIGSTOPped and continued, restarted with the same arguments. Each daemon's
//! stderr goes to its own log file. A dropped [`Proc`] is killed and reaped; agents' cgroups
//! are removed by [`remove_cgroups`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// One daemon.
#[derive(Debug)]
pub struct Proc {
    /// "master", "agent0", "marathon".
    pub name: String,
    exe: PathBuf,
    netns: Option<String>,
    /// Its arguments (after the subcommand), kept for restarts; callers may change them.
    pub args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    stopped: bool,
}

impl Proc {
    /// Starts `drover <args…>` (in `netns` when given).
    pub fn start(
        name: &str,
        exe: &Path,
        netns: Option<&str>,
        args: Vec<String>,
        log: &Path,
    ) -> anyhow::Result<Proc> {
        let mut proc = Proc {
            name: name.to_owned(),
            exe: exe.to_owned(),
            netns: netns.map(str::to_owned),
            args,
            log: log.to_owned(),
            child: None,
            stopped: false,
        };
        proc.spawn()?;
        Ok(proc)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        // `setpriv --pdeathsig KILL`: the daemon dies with the soak even when the soak is
        // SIGKILLed (no unsafe `pre_exec` needed). `nsenter --net` enters only the network
        // namespace; `ip netns exec` would also give the daemon a mount namespace with a
        // fresh sysfs over /sys, which hides the cgroup hierarchies, and the agent would run
        // its tasks without cgroups. Both exec, so the pid is the daemon's.
        let mut command = Command::new("setpriv");
        command.args(["--pdeathsig", "KILL", "--"]);
        if let Some(ns) = &self.netns {
            command
                .arg("nsenter")
                .arg(format!("--net=/run/netns/{ns}"))
                .arg("--");
        }
        command.arg(&self.exe);
        let child = command
            .args(&self.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        self.stopped = false;
        Ok(())
    }

    /// The pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it runs (not killed by the nemesis, not exited by itself).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Whether it is SIGSTOPped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// SIGKILLs and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stopped = false;
    }

    /// Starts it again (after [`Proc::kill`], or after it died).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// SIGSTOP (true) or SIGCONT (false).
    pub fn pause(&mut self, stop: bool) -> anyhow::Result<()> {
        let pid = self.pid().context("not running")?;
        let signal = if stop {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        kill(Pid::from_raw(pid as i32), signal)?;
        self.stopped = stop;
        Ok(())
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.stopped {
            let _ = self.pause(false);
        }
        self.kill();
    }
}

/// A free port on `ip` (bound and released; the daemon binds it next).
pub fn free_port(ip: &str) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((ip, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Kills what is left in an agent's cgroups and removes them, in every v1 hierarchy (and the
/// unified one).
pub fn remove_cgroups(root: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for hierarchy in hierarchies.flatten() {
        let Ok(path) = hierarchy.path().canonicalize() else {
            continue;
        };
        if seen.insert(path.clone()) && path.join(root).is_dir() {
            remove_cgroup_tree(&path.join(root));
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&child.path());
            }
        }
    }
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        // Killed processes take a moment to leave their cgroup.
        std::thread::sleep(Duration::from_millis(20));
    }
}
