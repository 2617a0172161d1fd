//! A container's cgroups, written directly through cgroupfs (v1: one directory per controller;
//! v2: one directory): create with limits, open `cgroup.procs` for the child to join, read OOM
//! and usage counters, kill what is inside, remove.
//!
//! Plain file writes instead of a cgroups crate: the operations are few, and the launch path
//! needs the raw `cgroup.procs` descriptors opened before fork, which wrappers do not expose.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::isolation::{Controller, Isolation};
use super::{LaunchError, Limits};

/// Which cgroup hierarchy layout is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CgroupVersion {
    /// One hierarchy per controller (`/sys/fs/cgroup/<controller>`).
    V1,
    /// The unified hierarchy.
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        })
    }
}

/// Mount roots of the usable controllers.
#[derive(Debug, Clone)]
pub(crate) struct CgroupRoots {
    pub version: CgroupVersion,
    pub memory: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub pids: Option<PathBuf>,
}

/// A container's cgroup directory per controller (`None`: not used). On v2 all are the same
/// directory. This is what the agent checkpoints for [`recover`](super::Containerizer::recover).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupPaths {
    /// v1 or v2 file names apply.
    pub version: CgroupVersion,
    /// Memory controller directory.
    pub memory: Option<PathBuf>,
    /// CPU controller directory.
    pub cpu: Option<PathBuf>,
    /// CPU accounting directory (v1 `cpuacct`; on v2 the cgroup itself).
    pub cpuacct: Option<PathBuf>,
    /// Pids controller directory.
    pub pids: Option<PathBuf>,
}

impl CgroupPaths {
    /// No cgroups: the container runs as a plain process.
    pub fn none() -> Self {
        Self {
            version: CgroupVersion::V1,
            memory: None,
            cpu: None,
            cpuacct: None,
            pids: None,
        }
    }

    /// Whether the container has no cgroup at all.
    pub fn is_empty(&self) -> bool {
        self.dirs().is_empty()
    }

    /// The distinct directories (co-mounted v1 controllers and v2 share one).
    pub fn dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        for dir in [&self.memory, &self.cpu, &self.cpuacct, &self.pids]
            .into_iter()
            .flatten()
        {
            if !dirs.contains(&dir.as_path()) {
                dirs.push(dir);
            }
        }
        dirs
    }
}

/// The parent must stay below the controller roots.
fn check_parent(parent: &Path) -> Result<(), String> {
    let ok = parent
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        && parent.components().next().is_some();
    if ok {
        Ok(())
    } else {
        Err(format!("bad cgroup parent {}", parent.display()))
    }
}

/// Creates the parent cgroup under every usable root; on v2 also enables our controllers for
/// the children at each level (`cgroup.subtree_control`).
pub(crate) fn prepare_parent(isolation: &Isolation, parent: &Path) -> Result<(), String> {
    let Some(version) = isolation.cgroup_version() else {
        return Ok(());
    };
    check_parent(parent)?;
    let roots = isolation.cgroup_roots();
    let mut distinct: Vec<&PathBuf> = Vec::new();
    for root in [&roots.memory, &roots.cpu, &roots.cpuacct, &roots.pids]
        .into_iter()
        .flatten()
    {
        if !distinct.contains(&root) {
            distinct.push(root);
        }
    }
    let describe = |path: &Path, e: io::Error| format!("creating cgroup {}: {e}", path.display());
    for root in distinct {
        match version {
            CgroupVersion::V1 => {
                let dir = root.join(parent);
                std::fs::create_dir_all(&dir).map_err(|e| describe(&dir, e))?;
            }
            CgroupVersion::V2 => {
                let enable: Vec<String> = [Controller::Memory, Controller::Cpu, Controller::Pids]
                    .into_iter()
                    .filter(|&c| isolation.controller(c).is_ok())
                    .map(|c| format!("+{}", c.name()))
                    .collect();
                let enable = enable.join(" ");
                let mut level = root.clone();
                write_file(&level.join("cgroup.subtree_control"), &enable)
                    .map_err(|e| describe(&level, e))?;
                for component in parent.components() {
                    level.push(component);
                    match std::fs::create_dir(&level) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(describe(&level, e)),
                    }
                    write_file(&level.join("cgroup.subtree_control"), &enable)
                        .map_err(|e| describe(&level, e))?;
                }
            }
        }
    }
    Ok(())
}

/// The paths a container with `id` has (or would have) under `parent`.
pub(crate) fn paths_for(isolation: &Isolation, parent: &Path, id: &str) -> CgroupPaths {
    if isolation.cgroup_version().is_none() {
        return CgroupPaths::none();
    }
    paths_under(&isolation.cgroup_roots(), parent, id)
}

fn paths_under(roots: &CgroupRoots, parent: &Path, id: &str) -> CgroupPaths {
    let dir = |root: &Option<PathBuf>| root.as_ref().map(|r| r.join(parent).join(id));
    CgroupPaths {
        version: roots.version,
        memory: dir(&roots.memory),
        cpu: dir(&roots.cpu),
        cpuacct: dir(&roots.cpuacct),
        pids: dir(&roots.pids),
    }
}

/// Names of the container cgroups under `parent` (union over controllers).
pub(crate) fn list_children(isolation: &Isolation, parent: &Path) -> Vec<String> {
    let mut names = Vec::new();
    if isolation.cgroup_version().is_none() {
        return names;
    }
    let roots = isolation.cgroup_roots();
    for root in [&roots.memory, &roots.cpu, &roots.cpuacct, &roots.pids]
        .into_iter()
        .flatten()
    {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    names
}

/// Creates the container's cgroups and applies `limits`. On failure nothing is left behind.
pub(crate) fn create(
    roots: &CgroupRoots,
    parent: &Path,
    id: &str,
    limits: &Limits,
    cfs: bool,
) -> Result<CgroupPaths, LaunchError> {
    let paths = paths_under(roots, parent, id);
    let result = (|| {
        for dir in paths.dirs() {
            make_dir(dir)?;
        }
        apply_limits(&paths, limits, cfs)
    })();
    match result {
        Ok(()) => Ok(paths),
        Err((path, source)) => {
            let _ = remove_dirs(&paths, Duration::from_millis(200));
            Err(LaunchError::Cgroup { path, source })
        }
    }
}

type PathError = (PathBuf, io::Error);

fn make_dir(dir: &Path) -> Result<(), PathError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        // A leftover of a crashed agent with the same id: reuse it only if it is empty, which
        // rmdir checks for us (it fails with EBUSY while processes are inside).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
            std::fs::create_dir(dir).map_err(|e| (dir.to_path_buf(), e))
        }
        Err(e) => Err((dir.to_path_buf(), e)),
    }
}

fn apply_limits(paths: &CgroupPaths, limits: &Limits, cfs: bool) -> Result<(), PathError> {
    let set = |dir: &Path, file: &str, value: &str| {
        let path = dir.join(file);
        write_file(&path, value).map_err(|e| (path, e))
    };
    const CFS_PERIOD_US: u64 = 100_000;
    // Mesos' conversions: shares = cpus * 1024 (kernel minimum 2); quota = cpus * period with
    // the kernel's 1 ms minimum.
    let shares = ((limits.cpus * 1024.0).round() as u64).max(2);
    let quota_us = ((limits.cpus * CFS_PERIOD_US as f64).round() as u64).max(1000);
    let mem_bytes = limits.mem_mb.saturating_mul(1024 * 1024);
    match paths.version {
        CgroupVersion::V1 => {
            if let Some(dir) = &paths.memory
                && mem_bytes > 0
            {
                set(dir, "memory.limit_in_bytes", &mem_bytes.to_string())?;
                // memsw (memory + swap) must be >= the memory limit, so it is written second.
                // Equal values mean the task may not use swap, as with Mesos'
                // `--cgroups_limit_swap`. The file exists only with swap accounting on.
                if dir.join("memory.memsw.limit_in_bytes").exists() {
                    set(dir, "memory.memsw.limit_in_bytes", &mem_bytes.to_string())?;
                }
            }
            if let Some(dir) = &paths.cpu
                && limits.cpus > 0.0
            {
                set(dir, "cpu.shares", &shares.to_string())?;
                if cfs {
                    set(dir, "cpu.cfs_period_us", &CFS_PERIOD_US.to_string())?;
                    set(dir, "cpu.cfs_quota_us", &quota_us.to_string())?;
                }
            }
            if let (Some(dir), Some(max)) = (&paths.pids, limits.max_pids) {
                set(dir, "pids.max", &max.to_string())?;
            }
        }
        CgroupVersion::V2 => {
            if let Some(dir) = &paths.memory
                && mem_bytes > 0
            {
                set(dir, "memory.max", &mem_bytes.to_string())?;
                if dir.join("memory.swap.max").exists() {
                    set(dir, "memory.swap.max", "0")?;
                }
            }
            if let Some(dir) = &paths.cpu
                && limits.cpus > 0.0
            {
                set(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
                if cfs {
                    set(dir, "cpu.max", &format!("{quota_us} {CFS_PERIOD_US}"))?;
                }
            }
            if let (Some(dir), Some(max)) = (&paths.pids, limits.max_pids) {
                set(dir, "pids.max", &max.to_string())?;
            }
        }
    }
    Ok(())
}

/// The memory limit in force, if one is set.
pub(crate) fn memory_limit(paths: &CgroupPaths) -> Option<u64> {
    let dir = paths.memory.as_ref()?;
    let file = match paths.version {
        CgroupVersion::V1 => "memory.limit_in_bytes",
        CgroupVersion::V2 => "memory.max",
    };
    // v1 reports "no limit" as a huge page-aligned number, v2 as "max" (not a number).
    read_u64(&dir.join(file)).filter(|v| *v < (1 << 60))
}

/// Changes a running container's limits (a task or group joined it, or one of its tasks
/// ended). Memory first when it shrinks and second when it grows, so v1's `memsw` limit (which
/// may not be below the memory limit) is never crossed; the kernel refuses to shrink memory
/// below what the container uses and cannot reclaim (EBUSY), which is reported as is.
pub(crate) fn update(paths: &CgroupPaths, limits: &Limits, cfs: bool) -> io::Result<()> {
    let described =
        |(path, e): PathError| io::Error::new(e.kind(), format!("writing {}: {e}", path.display()));
    let mem_bytes = limits.mem_mb.saturating_mul(1024 * 1024);
    if let Some(dir) = paths.memory.as_ref().filter(|_| mem_bytes > 0) {
        let value = mem_bytes.to_string();
        let write = |file: &str| {
            let path = dir.join(file);
            write_file(&path, &value).map_err(|e| described((path, e)))
        };
        match paths.version {
            CgroupVersion::V1 => {
                let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
                let current = read_u64(&dir.join("memory.limit_in_bytes")).unwrap_or(u64::MAX);
                if memsw && mem_bytes > current {
                    write("memory.memsw.limit_in_bytes")?;
                }
                write("memory.limit_in_bytes")?;
                if memsw && mem_bytes <= current {
                    write("memory.memsw.limit_in_bytes")?;
                }
            }
            CgroupVersion::V2 => write("memory.max")?,
        }
    }
    let rest = Limits {
        mem_mb: 0,
        ..*limits
    };
    apply_limits(paths, &rest, cfs).map_err(described)
}

/// The kernel's (and systemd's) mapping of v1 shares [2, 262144] onto v2 weight [1, 10000].
fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn write_file(path: &Path, value: &str) -> io::Result<()> {
    // One write(2) per value: cgroupfs parses each write separately.
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(value.as_bytes())
}

/// Opens `cgroup.procs` of every directory for writing, for the child to write "0" into (which
/// the kernel reads as "the writing process") before it execs.
pub(crate) fn open_procs(paths: &CgroupPaths) -> Result<Vec<OwnedFd>, LaunchError> {
    paths
        .dirs()
        .into_iter()
        .map(|dir| {
            let path = dir.join("cgroup.procs");
            OpenOptions::new()
                .write(true)
                .open(&path)
                .map(OwnedFd::from)
                .map_err(|source| LaunchError::Cgroup { path, source })
        })
        .collect()
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`memory.oom_control`, `memory.events`, `cpu.stat`,
/// `memory.stat`, `cpuacct.stat`).
fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// How often the kernel OOM killer killed a process in the container's memory cgroup
/// (v1 `memory.oom_control` `oom_kill`, kernel >= 4.13; v2 `memory.events` `oom_kill`).
pub(crate) fn oom_kills(paths: &CgroupPaths) -> Option<u64> {
    let dir = paths.memory.as_ref()?;
    match paths.version {
        CgroupVersion::V1 => read_key(&dir.join("memory.oom_control"), "oom_kill"),
        CgroupVersion::V2 => read_key(&dir.join("memory.events"), "oom_kill"),
    }
}

/// Whether the memory limit stopped the container. The kernel's `oom_kill` counter tells an OOM
/// kill apart from a SIGKILL sent by anyone else; without that counter (old v1 kernels) a
/// SIGKILL in a cgroup that hit its limit (`memory.failcnt` > 0) counts as one.
pub(crate) fn oom_killed(paths: &CgroupPaths, killed_by_sigkill: bool) -> bool {
    match oom_kills(paths) {
        Some(kills) => kills > 0,
        None => {
            killed_by_sigkill
                && paths.version == CgroupVersion::V1
                && paths
                    .memory
                    .as_ref()
                    .and_then(|dir| read_u64(&dir.join("memory.failcnt")))
                    .is_some_and(|n| n > 0)
        }
    }
}

/// Counters of a container's cgroups; `None` where a controller is not in use.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CgroupStats {
    pub mem_usage_bytes: Option<u64>,
    pub mem_max_usage_bytes: Option<u64>,
    pub mem_rss_bytes: Option<u64>,
    pub mem_cache_bytes: Option<u64>,
    pub cpu_user_secs: Option<f64>,
    pub cpu_system_secs: Option<f64>,
    pub cpu_usage_secs: Option<f64>,
    pub pids_current: Option<u64>,
    pub oom_kills: Option<u64>,
}

pub(crate) fn stats(paths: &CgroupPaths) -> CgroupStats {
    let mut s = CgroupStats {
        oom_kills: oom_kills(paths),
        ..CgroupStats::default()
    };
    s.mem_max_usage_bytes = max_memory_usage(paths);
    if let Some(dir) = &paths.memory {
        match paths.version {
            CgroupVersion::V1 => {
                s.mem_usage_bytes = read_u64(&dir.join("memory.usage_in_bytes"));
                let stat = dir.join("memory.stat");
                s.mem_rss_bytes = read_key(&stat, "total_rss").or_else(|| read_key(&stat, "rss"));
                s.mem_cache_bytes =
                    read_key(&stat, "total_cache").or_else(|| read_key(&stat, "cache"));
            }
            CgroupVersion::V2 => {
                s.mem_usage_bytes = read_u64(&dir.join("memory.current"));
                s.mem_rss_bytes = read_key(&dir.join("memory.stat"), "anon");
                s.mem_cache_bytes = read_key(&dir.join("memory.stat"), "file");
            }
        }
    }
    if let Some(dir) = &paths.cpuacct {
        match paths.version {
            CgroupVersion::V1 => {
                // cpuacct.stat is in USER_HZ ticks, cpuacct.usage in nanoseconds.
                let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
                    .ok()
                    .flatten()
                    .filter(|&hz| hz > 0)
                    .unwrap_or(100) as f64;
                let stat = dir.join("cpuacct.stat");
                s.cpu_user_secs = read_key(&stat, "user").map(|t| t as f64 / hz);
                s.cpu_system_secs = read_key(&stat, "system").map(|t| t as f64 / hz);
                s.cpu_usage_secs = read_u64(&dir.join("cpuacct.usage")).map(|ns| ns as f64 / 1e9);
            }
            CgroupVersion::V2 => {
                let stat = dir.join("cpu.stat");
                s.cpu_user_secs = read_key(&stat, "user_usec").map(|us| us as f64 / 1e6);
                s.cpu_system_secs = read_key(&stat, "system_usec").map(|us| us as f64 / 1e6);
                s.cpu_usage_secs = read_key(&stat, "usage_usec").map(|us| us as f64 / 1e6);
            }
        }
    }
    if let Some(dir) = &paths.pids {
        s.pids_current = read_u64(&dir.join("pids.current"));
    }
    s
}

/// Peak memory usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak` on kernels >= 5.19).
pub(crate) fn max_memory_usage(paths: &CgroupPaths) -> Option<u64> {
    let dir = paths.memory.as_ref()?;
    match paths.version {
        CgroupVersion::V1 => read_u64(&dir.join("memory.max_usage_in_bytes")),
        CgroupVersion::V2 => read_u64(&dir.join("memory.peak")),
    }
}

/// The cgroups of nested container `id` under its parent's: a child directory of each, with no
/// limits of its own unless given some ([`update`]); the parent's bound the whole subtree.
pub(crate) fn create_nested(parent: &CgroupPaths, id: &str) -> io::Result<CgroupPaths> {
    let child = |dir: &Option<PathBuf>| dir.as_ref().map(|d| d.join(id));
    let paths = CgroupPaths {
        version: parent.version,
        memory: child(&parent.memory),
        cpu: child(&parent.cpu),
        cpuacct: child(&parent.cpuacct),
        pids: child(&parent.pids),
    };
    for dir in paths.dirs() {
        if let Err((_, error)) = make_dir(dir) {
            let _ = remove_dirs(&paths, Duration::from_millis(200));
            return Err(error);
        }
    }
    Ok(paths)
}

/// `dir` and every cgroup below it, deepest first (nested containers live below their
/// parent's cgroups, and a cgroup with children can be neither emptied nor removed alone).
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(subtree(&entry.path()));
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

/// Pids (host namespace) of every process in any of the container's cgroups, nested ones
/// included.
pub(crate) fn procs(paths: &CgroupPaths) -> Vec<i32> {
    let mut pids = Vec::new();
    for dir in paths.dirs().into_iter().flat_map(subtree) {
        let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
            continue;
        };
        for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// SIGKILLs everything in the cgroups until they are empty or `deadline` passes. Processes that
/// fork while we read the list are caught by the next round; v2's `cgroup.kill` does it in one
/// atomic step where available.
pub(crate) fn kill_all(paths: &CgroupPaths, timeout: Duration) -> io::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    if paths.version == CgroupVersion::V2 {
        for dir in paths.dirs() {
            let kill_file = dir.join("cgroup.kill");
            if kill_file.exists() {
                let _ = write_file(&kill_file, "1");
            }
        }
    }
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        let pids = procs(paths);
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "processes {pids:?} still in cgroups after SIGKILL"
            )));
        }
        for pid in pids {
            // ESRCH: already gone between reading the list and now.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        // Killed processes leave the cgroup once the kernel has torn them down; give it a
        // moment, backing off so a stuck process does not make us spin.
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Removes the directories, retrying while the kernel still reports them busy (processes that
/// were just killed may take a moment to leave).
fn remove_dirs(paths: &CgroupPaths, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    for dir in paths.dirs().into_iter().flat_map(subtree) {
        let dir = dir.as_path();
        let mut pause = Duration::from_micros(200);
        loop {
            match std::fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("rmdir {}: {e}", dir.display()),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Kills what is left in the cgroups and removes them. Blocking.
pub(crate) fn destroy(paths: &CgroupPaths) -> io::Result<()> {
    kill_all(paths, Duration::from_secs(5))?;
    remove_dirs(paths, Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v2 weight mapping hits the documented end points and the default.
    #[test]
    fn shares_map_to_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
    }

    fn fake_cgroup(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    fn paths_in(version: CgroupVersion, dir: &Path) -> CgroupPaths {
        let d = Some(dir.to_path_buf());
        CgroupPaths {
            version,
            memory: d.clone(),
            cpu: d.clone(),
            cpuacct: d.clone(),
            pids: d,
        }
    }

    /// v2 limits go to memory.max, memory.swap.max, cpu.weight, cpu.max and pids.max (this CI
    /// host has no v2 controllers, so a fake cgroup directory stands in).
    #[test]
    fn v2_limits_are_written() {
        let names = [
            "memory.max",
            "memory.swap.max",
            "cpu.weight",
            "cpu.max",
            "pids.max",
        ];
        let dir = fake_cgroup(&names.map(|n| (n, "")));
        let paths = paths_in(CgroupVersion::V2, dir.path());
        let limits = Limits {
            cpus: 1.5,
            mem_mb: 64,
            disk_mb: 0,
            max_pids: Some(100),
        };
        apply_limits(&paths, &limits, true).unwrap();
        let read = |name| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("cpu.weight"), shares_to_weight(1536).to_string());
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("pids.max"), "100");
    }

    /// v2 OOM kills come from memory.events; peak usage from memory.peak.
    #[test]
    fn v2_oom_and_peak() {
        let dir = fake_cgroup(&[
            (
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n",
            ),
            ("memory.peak", "33554432\n"),
        ]);
        let paths = paths_in(CgroupVersion::V2, dir.path());
        assert!(oom_killed(&paths, false));
        assert_eq!(max_memory_usage(&paths), Some(32 << 20));
    }

    /// Old v1 kernels have no oom_kill line: a SIGKILL in a cgroup that hit its limit counts
    /// as OOM, any other end does not.
    #[test]
    fn v1_oom_without_counter_falls_back_to_failcnt() {
        let dir = fake_cgroup(&[
            ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n"),
            ("memory.failcnt", "7\n"),
        ]);
        let paths = paths_in(CgroupVersion::V1, dir.path());
        assert!(oom_killed(&paths, true));
        assert!(!oom_killed(&paths, false));
        std::fs::write(
            dir.path().join("memory.oom_control"),
            "oom_kill_disable 0\noom_kill 0\n",
        )
        .unwrap();
        assert!(
            !oom_killed(&paths, true),
            "the counter, when present, decides"
        );
    }

    /// Parents must be relative paths without `..`.
    #[test]
    fn parent_must_stay_below_root() {
        assert!(check_parent(Path::new("drover")).is_ok());
        assert!(check_parent(Path::new("drover/test-1")).is_ok());
        assert!(check_parent(Path::new("../etc")).is_err());
        assert!(check_parent(Path::new("/abs")).is_err());
        assert!(check_parent(Path::new("")).is_err());
    }
}
