//! The containerizer: launches a task as an isolated process tree, watches it, kills it and
//! cleans up after it. This is the I/O edge the agent driver calls; it makes no decisions about
//! task states (those live in `drover-core`).
//!
//! Shape of one container's life:
//!
//! 1. [`Containerizer::launch`] creates the sandbox (with Mesos' `stdout` and `stderr` files), a
//!    cgroup per controller with the limits, and the first process. The child joins its cgroups
//!    *before* it execs (the private `spawn` module explains how), runs in its own session and
//!    process group and, if available, in its own pid namespace behind a tiny forwarding init,
//!    with a mount namespace of its own in which the init binds the container's persistent
//!    volumes into the sandbox ([`ContainerSpec::volumes`]).
//! 2. [`Container::wait`] reports a [`Termination`]: exit code or signal, and whether the kernel's
//!    OOM killer acted in the container's memory cgroup.
//! 3. [`Container::kill`] sends SIGTERM to the whole tree and SIGKILL after the grace period.
//! 4. [`Container::destroy`] makes sure nothing of the tree is left and removes the cgroups.
//!
//! Processes never die with the agent: there is no kill-on-drop. After an agent restart the
//! driver calls [`Containerizer::recover`] with the [`Checkpoint`] it stored at launch.

mod cgroups;
mod container;
mod disk;
pub mod docker;
mod isolation;
mod process;
pub mod seam;
mod spawn;
mod user;

use std::ffi::CString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use cgroups::{CgroupPaths, CgroupVersion};
pub use container::{Container, ContainerStats, ExitStatus, KillOutcome, Termination};
pub use disk::dir_usage_bytes;
pub use isolation::{Controller, Isolation};
pub use spawn::SpawnStage;
pub use user::{UserInfo, lookup_user};

/// Identifies a container; it names the container's cgroups, so it must be a safe path component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Accepts ASCII letters, digits, `-`, `_` and `.` (not `.` or `..`), at most 255 bytes.
    pub fn new(id: impl Into<String>) -> Result<Self, LaunchError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= 255
            && id != "."
            && id != ".."
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(id))
        } else {
            Err(LaunchError::InvalidSpec(format!(
                "invalid container id {id:?}"
            )))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Creates the cgroups of a nested container `id` below its parent container's `parent`
/// cgroups (none when the parent has none).
pub fn cgroups_nested(parent: &CgroupPaths, id: &str) -> std::io::Result<CgroupPaths> {
    ContainerId::new(id).map_err(|e| std::io::Error::other(e.to_string()))?;
    cgroups::create_nested(parent, id)
}

/// Sets the limits of a nested container's cgroups (`LAUNCH_CONTAINER` with `resources`: a
/// default executor's task). Blocking.
pub fn cgroups_limit(paths: &CgroupPaths, limits: &Limits, cfs: bool) -> std::io::Result<()> {
    cgroups::update(paths, limits, cfs)
}

/// Kills whatever is left in `paths` (and below) and removes them. Blocking.
pub fn cgroups_destroy(paths: &CgroupPaths) -> std::io::Result<()> {
    cgroups::destroy(paths)
}

/// What to run, in Mesos' `CommandInfo` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    /// `shell=true`: run with `/bin/sh -c <command>`. A missing program is then the shell's
    /// business: the task exits with status 127 and the shell's complaint lands in `stderr`.
    Shell(String),
    /// `shell=false`: exec `value` (looked up in the task's `PATH` when it has no `/`) with
    /// `arguments` as the complete argv, `arguments[0]` included, as Mesos does. An empty
    /// `arguments` means argv = `[value]`. A missing executable is a [`LaunchError`].
    Argv {
        /// The program to execute.
        value: String,
        /// The full argv, including argv\[0\].
        arguments: Vec<String>,
    },
}

/// Resource limits of a container.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// CPU shares (`cpus * 1024`) and, with [`IsolationFlags::cfs`], a hard CFS quota.
    pub cpus: f64,
    /// Memory limit; 0 means unlimited.
    pub mem_mb: u64,
    /// Disk quota of the sandbox; not enforced here, see [`Container::sandbox_usage_bytes`].
    pub disk_mb: u64,
    /// Maximum number of processes and threads (`pids.max`); `None` means unlimited.
    pub max_pids: Option<u64>,
}

/// Which isolation a container asks for; it gets the intersection with what is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsolationFlags {
    /// Put the container in cgroups (memory, cpu, cpuacct, pids) with its limits.
    pub cgroups: bool,
    /// Also set a hard CFS bandwidth limit (`cpus` cores), like Mesos' `--cgroups_enable_cfs`.
    pub cfs: bool,
    /// Run the tree in its own pid namespace behind a forwarding init.
    pub pid_namespace: bool,
}

impl Default for IsolationFlags {
    fn default() -> Self {
        Self {
            cgroups: true,
            cfs: false,
            pid_namespace: true,
        }
    }
}

impl IsolationFlags {
    /// No isolation at all: a plain process in its own session and process group.
    pub const NONE: Self = Self {
        cgroups: false,
        cfs: false,
        pid_namespace: false,
    };
}

/// Everything needed to launch one container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Names the container and its cgroups.
    pub container_id: ContainerId,
    /// Working directory of the task; created if missing, holds `stdout` and `stderr`.
    pub sandbox_dir: PathBuf,
    /// What to run.
    pub command: CommandSpec,
    /// The task's complete environment, in order. Nothing is inherited from the agent; adding
    /// what Mesos sets by default (`MESOS_SANDBOX`, `PATH`, ...) is the caller's job.
    pub env: Vec<(String, String)>,
    /// Run as this user (uid, primary gid and supplementary groups); the sandbox is chowned to it.
    pub user: Option<String>,
    /// Resource limits.
    pub limits: Limits,
    /// Requested isolation.
    pub isolation: IsolationFlags,
    /// A terminal (the slave side of a pty whose master an I/O switchboard owns) for the
    /// container's stdin, stdout and stderr, instead of `/dev/null` and the sandbox's files.
    pub terminal: Option<std::sync::Arc<OwnedFd>>,
    /// Persistent volumes bind-mounted into the sandbox inside the container's own mount
    /// namespace (Mesos' `filesystem/linux`). They need the pid-namespace isolation in effect
    /// (it brings the mount namespace): a launch with volumes and without it is refused, the
    /// caller links them instead (`filesystem/posix`).
    pub volumes: Vec<VolumeMount>,
}

/// A persistent volume bound into a container's sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's directory on the host.
    pub source: PathBuf,
    /// Where it goes, relative to the sandbox (no `..`, not absolute).
    pub container_path: String,
    /// Remount it read-only (the volume's mode `RO`).
    pub read_only: bool,
}

/// The data the agent checkpoints at launch to re-attach to a container after its own restart.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The container's id.
    pub container_id: ContainerId,
    /// Host pid of the container's first process (the forwarding init in pid-namespace mode).
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22): guards
    /// against signalling an unrelated process that reused the pid.
    pub start_time_ticks: Option<u64>,
    /// Whether `pid` is a pid-namespace init (decides how signals reach the tree).
    pub pid_namespace: bool,
    /// The container's cgroups.
    pub cgroups: CgroupPaths,
    /// The sandbox directory.
    pub sandbox_dir: PathBuf,
    /// The memory limit that was applied, for the OOM message.
    pub mem_limit_bytes: Option<u64>,
}

/// Why a launch failed. Every variant maps to `REASON_CONTAINER_LAUNCH_FAILED`.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The spec itself is unusable (bad id, NUL bytes, `=` in an env name).
    #[error("invalid container spec: {0}")]
    InvalidSpec(String),
    /// The requested user does not exist on this host.
    #[error("user '{user}' does not exist")]
    UserNotFound {
        /// The user name from the spec.
        user: String,
    },
    /// Looking the user up failed (NSS error).
    #[error("looking up user '{user}'")]
    UserLookup {
        /// The user name from the spec.
        user: String,
        /// The lookup error.
        #[source]
        source: nix::Error,
    },
    /// `shell=false` and the executable was not found or is not executable.
    #[error("executable '{program}' not found or not executable")]
    ExecutableNotFound {
        /// `CommandSpec::Argv::value`.
        program: String,
    },
    /// Creating the sandbox or its files failed.
    #[error("preparing sandbox {path}")]
    Sandbox {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Creating or configuring a cgroup failed.
    #[error("setting up cgroup {path}")]
    Cgroup {
        /// The cgroup file or directory that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A persistent volume could not be bound into the sandbox (in the container's mount
    /// namespace, or its paths failed the checks before).
    #[error("bind-mounting persistent volume {source_dir} at '{container_path}' of the sandbox")]
    VolumeMount {
        /// The volume's directory.
        source_dir: PathBuf,
        /// Its path in the sandbox.
        container_path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The child failed between fork and exec (including exec itself).
    #[error("starting '{program}': {stage} failed")]
    Spawn {
        /// The program being started.
        program: String,
        /// The step of the child's set-up that failed.
        stage: SpawnStage,
        /// The errno the child saw.
        #[source]
        source: nix::Error,
    },
    /// Anything else (clone failure, pipes, tokio registration).
    #[error("launching container")]
    Io(#[source] std::io::Error),
}

/// Settings of the containerizer that are fixed for the agent's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerizerConfig {
    /// Relative cgroup path under each controller's root that holds all containers
    /// (e.g. `drover` gives `/sys/fs/cgroup/memory/drover/<container-id>`).
    pub cgroup_parent: PathBuf,
}

impl Default for ContainerizerConfig {
    fn default() -> Self {
        Self {
            cgroup_parent: PathBuf::from("drover"),
        }
    }
}

/// Launches and re-attaches containers with the isolation found on this host.
#[derive(Debug)]
pub struct Containerizer {
    isolation: Isolation,
    parent: PathBuf,
}

impl Containerizer {
    /// Prepares the parent cgroups. If that fails, cgroup isolation is switched off and the
    /// reason shows in [`Isolation::summary`], which the agent logs at start.
    pub fn new(mut isolation: Isolation, config: ContainerizerConfig) -> Self {
        let parent = config.cgroup_parent;
        if let Err(reason) = cgroups::prepare_parent(&isolation, &parent) {
            isolation.disable_cgroups(&reason);
        }
        Self { isolation, parent }
    }

    /// What isolation containers get.
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The parent cgroup's path relative to each controller root.
    pub fn cgroup_parent(&self) -> &Path {
        &self.parent
    }

    /// Launches a container. Returns once the task's program has been exec'ed (or failed to).
    ///
    /// Must run inside a tokio runtime with I/O enabled (the exit watch is a registered pidfd).
    /// The work happens on the blocking pool; if this future is dropped early the launch still
    /// completes there and the container runs unwatched, findable through
    /// [`cgroup_container_ids`](Self::cgroup_container_ids) when it has cgroups.
    pub async fn launch(&self, spec: ContainerSpec) -> Result<Container, LaunchError> {
        let use_cgroups = spec.isolation.cgroups && self.isolation.cgroup_version().is_some();
        let pid_namespace = spec.isolation.pid_namespace && self.isolation.pid_namespace().is_ok();
        let roots = if use_cgroups {
            Some(self.isolation.cgroup_roots())
        } else {
            None
        };
        let parent = self.parent.clone();
        // Everything up to exec is blocking (NSS, mkdir, cgroupfs writes, fork, waiting for the
        // exec-status pipe), so it runs on the blocking pool; concurrent launches then overlap.
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_and_spawn(&spec, roots.as_ref(), &parent, pid_namespace)
        })
        .await
        .map_err(|e| LaunchError::Io(std::io::Error::other(e)))??;
        Container::launched(prepared).map_err(LaunchError::Io)
    }

    /// Re-attaches to a container launched earlier, possibly by a previous agent process.
    ///
    /// If the process is gone (or its pid now belongs to another process) the returned handle
    /// reports a termination at once; its cgroups can still be destroyed.
    pub fn recover(&self, checkpoint: Checkpoint) -> std::io::Result<Container> {
        Container::recovered(checkpoint)
    }

    /// Container ids that have a cgroup under the parent: lets the driver find orphans (cgroups
    /// no checkpoint mentions) after a restart.
    pub fn cgroup_container_ids(&self) -> Vec<ContainerId> {
        cgroups::list_children(&self.isolation, &self.parent)
            .into_iter()
            .filter_map(|name| ContainerId::new(name).ok())
            .collect()
    }

    /// Whether the container under our cgroup root is this agent's to destroy: another agent
    /// on this machine with the same `--cgroups_root` keeps its containers there too. A
    /// container's processes work in their sandbox, below the owning agent's work dir (whose
    /// `slaves/<agent id>/` names the agent), so that is the mark; an empty cgroup is no one's
    /// work and may go.
    pub fn owned_by(&self, id: &ContainerId, work_dir: &Path) -> bool {
        let paths = cgroups::paths_for(&self.isolation, &self.parent, id.as_str());
        let pids: Vec<String> = paths
            .dirs()
            .into_iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
            .flat_map(|procs| procs.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        let cwds: Vec<PathBuf> = pids
            .iter()
            .filter_map(|pid| std::fs::read_link(format!("/proc/{}/cwd", pid.trim())).ok())
            .collect();
        cwds.is_empty() || cwds.iter().any(|cwd| cwd.starts_with(work_dir))
    }

    /// Kills whatever runs in an orphan's cgroups and removes them.
    pub async fn destroy_orphan(&self, id: &ContainerId) -> std::io::Result<()> {
        let paths = cgroups::paths_for(&self.isolation, &self.parent, id.as_str());
        tokio::task::spawn_blocking(move || cgroups::destroy(&paths))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// What `launch` hands from the blocking pool back to the async side.
pub(crate) struct Prepared {
    checkpoint: Checkpoint,
    spawned: spawn::Spawned,
}

fn prepare_and_spawn(
    spec: &ContainerSpec,
    roots: Option<&cgroups::CgroupRoots>,
    parent: &Path,
    pid_namespace: bool,
) -> Result<Prepared, LaunchError> {
    let user = spec.user.as_deref().map(lookup_user).transpose()?;
    let (program, argv) = resolve_command(spec)?;
    let envp = spec
        .env
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.contains('=') {
                return Err(LaunchError::InvalidSpec(format!(
                    "bad environment name {k:?}"
                )));
            }
            cstring(format!("{k}={v}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (stdout, stderr) = prepare_sandbox(&spec.sandbox_dir, user.as_ref())?;
    let (stdin, stdout, stderr) = match &spec.terminal {
        Some(terminal) => {
            let dup = || terminal.try_clone().map_err(LaunchError::Io);
            (dup()?, dup()?, dup()?)
        }
        None => (
            OwnedFd::from(File::open("/dev/null").map_err(LaunchError::Io)?),
            OwnedFd::from(stdout),
            OwnedFd::from(stderr),
        ),
    };

    let cgroup_paths = match roots {
        Some(roots) => cgroups::create(
            roots,
            parent,
            spec.container_id.as_str(),
            &spec.limits,
            spec.isolation.cfs,
        )?,
        None => CgroupPaths::none(),
    };
    let spawned = (|| {
        let mounts = child_mounts(spec, pid_namespace)?;
        let cgroup_procs = cgroups::open_procs(&cgroup_paths)?;
        let plan = spawn::SpawnPlan {
            program: cstring(program.as_os_str().as_bytes().to_vec())?,
            argv,
            envp,
            cwd: cstring(spec.sandbox_dir.as_os_str().as_bytes().to_vec())?,
            stdin,
            stdout,
            stderr,
            cgroup_procs,
            user: user.as_ref().map(|u| spawn::ChildUser {
                uid: u.uid,
                gid: u.gid,
                groups: u.groups.clone(),
            }),
            pid_namespace,
            // The init is a copy of the agent: without its own title `ps` and `pgrep -f
            // 'drover agent'` would list one more "agent" per running task.
            title: cstring(format!("drover-init {}", spec.container_id.as_str()))?,
            mounts,
        };
        spawn::spawn(&plan).map_err(|e| match e {
            spawn::SpawnError::Child {
                stage: SpawnStage::VolumeMount,
                errno,
                index,
            } => {
                let volume = spec.volumes.get(index as usize);
                LaunchError::VolumeMount {
                    source_dir: volume.map(|v| v.source.clone()).unwrap_or_default(),
                    container_path: volume.map(|v| v.container_path.clone()).unwrap_or_default(),
                    source: std::io::Error::from(errno),
                }
            }
            spawn::SpawnError::Child { stage, errno, .. } => LaunchError::Spawn {
                program: program.display().to_string(),
                stage,
                source: errno,
            },
            spawn::SpawnError::Parent(err) => LaunchError::Io(err),
        })
    })();
    let spawned = match spawned {
        Ok(spawned) => spawned,
        Err(err) => {
            // Nothing runs in the fresh cgroups: remove them so a failed launch leaves no trace.
            if let Err(cleanup) = cgroups::destroy(&cgroup_paths) {
                tracing::warn!(container_id = %spec.container_id, error = %cleanup, "removing cgroups of failed launch");
            }
            return Err(err);
        }
    };
    let checkpoint = Checkpoint {
        container_id: spec.container_id.clone(),
        pid: spawned.pid,
        start_time_ticks: process::start_time_ticks(spawned.pid),
        pid_namespace,
        cgroups: cgroup_paths,
        sandbox_dir: spec.sandbox_dir.clone(),
        mem_limit_bytes: (roots.is_some() && spec.limits.mem_mb > 0)
            .then(|| spec.limits.mem_mb * 1024 * 1024),
    };
    tracing::debug!(container_id = %spec.container_id, pid = spawned.pid, pid_namespace, "container launched");
    Ok(Prepared {
        checkpoint,
        spawned,
    })
}

/// The spec's volumes as the namespace init mounts them: absolute paths, each volume an
/// existing directory, and every component of its mount point below the sandbox a real
/// directory (made if missing, except the last, which the init makes) — never a link, which
/// `mount` would follow out of the sandbox.
fn child_mounts(
    spec: &ContainerSpec,
    pid_namespace: bool,
) -> Result<Vec<spawn::ChildMount>, LaunchError> {
    if spec.volumes.is_empty() {
        return Ok(Vec::new());
    }
    if !pid_namespace {
        return Err(LaunchError::InvalidSpec(
            "persistent volumes as bind mounts need the container's own mount namespace \
             (the namespaces/pid isolation)"
                .to_owned(),
        ));
    }
    spec.volumes
        .iter()
        .map(|volume| {
            let failed = |source: std::io::Error| LaunchError::VolumeMount {
                source_dir: volume.source.clone(),
                container_path: volume.container_path.clone(),
                source,
            };
            let invalid =
                |why: String| failed(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
            drover_core::operations::validate_container_path(&volume.container_path)
                .map_err(|e| invalid(format!("container_path {e}")))?;
            let meta = std::fs::symlink_metadata(&volume.source).map_err(failed)?;
            if !meta.is_dir() {
                return Err(invalid("the volume is not a directory".to_owned()));
            }
            let parts: Vec<&str> = volume
                .container_path
                .split('/')
                .filter(|p| !p.is_empty())
                .collect();
            let mut at = spec.sandbox_dir.clone();
            for (i, part) in parts.iter().enumerate() {
                at.push(part);
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(invalid(format!("{} is not a directory", at.display())));
                    }
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
                    Err(_) if i + 1 < parts.len() => {
                        std::fs::create_dir(&at).map_err(failed)?;
                    }
                    Err(_) => {}
                }
            }
            Ok(spawn::ChildMount {
                source: cstring(volume.source.as_os_str().as_bytes().to_vec())?,
                target: cstring(at.as_os_str().as_bytes().to_vec())?,
                read_only: volume.read_only,
            })
        })
        .collect()
}

fn cstring(bytes: impl Into<Vec<u8>>) -> Result<CString, LaunchError> {
    CString::new(bytes).map_err(|e| {
        LaunchError::InvalidSpec(format!(
            "NUL byte in {:?}",
            String::from_utf8_lossy(&e.into_vec())
        ))
    })
}

/// The program to exec and the argv, with the executable resolved like `execvp` would (in the
/// task's own `PATH`), so that a missing executable is a launch error with its name rather
/// than an anonymous ENOENT from the child.
fn resolve_command(spec: &ContainerSpec) -> Result<(PathBuf, Vec<CString>), LaunchError> {
    match &spec.command {
        CommandSpec::Shell(command) => Ok((
            PathBuf::from("/bin/sh"),
            vec![cstring("sh")?, cstring("-c")?, cstring(command.as_str())?],
        )),
        CommandSpec::Argv { value, arguments } => {
            let not_found = || LaunchError::ExecutableNotFound {
                program: value.clone(),
            };
            let program = if value.contains('/') {
                let candidate = Path::new(value);
                // A relative path is relative to the sandbox, the child's working directory.
                let on_disk = spec.sandbox_dir.join(candidate);
                if !is_executable(&on_disk) {
                    return Err(not_found());
                }
                candidate.to_path_buf()
            } else {
                // glibc's execvp falls back to this when PATH is unset.
                let path = spec
                    .env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "PATH")
                    .map_or("/bin:/usr/bin", |(_, v)| v.as_str());
                path.split(':')
                    .filter(|dir| !dir.is_empty())
                    .map(|dir| Path::new(dir).join(value))
                    .find(|p| is_executable(&spec.sandbox_dir.join(p)))
                    .ok_or_else(not_found)?
            };
            let argv = if arguments.is_empty() {
                vec![cstring(value.as_str())?]
            } else {
                arguments
                    .iter()
                    .map(|a| cstring(a.as_str()))
                    .collect::<Result<_, _>>()?
            };
            Ok((program, argv))
        }
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Creates the sandbox and opens `stdout`/`stderr` for appending (so a relaunch into the same
/// sandbox keeps earlier output, like Mesos), chowning all three to the task's user.
fn prepare_sandbox(dir: &Path, user: Option<&UserInfo>) -> Result<(File, File), LaunchError> {
    let sandbox_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LaunchError::Sandbox { path, source }
    };
    std::fs::create_dir_all(dir).map_err(sandbox_err(dir))?;
    let open = |name: &str| {
        let path = dir.join(name);
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(&path)
            .map_err(sandbox_err(&path))
    };
    let (stdout, stderr) = (open("stdout")?, open("stderr")?);
    if let Some(user) = user {
        for path in [dir.to_path_buf(), dir.join("stdout"), dir.join("stderr")] {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))
                .map_err(sandbox_err(&path))?;
        }
    }
    Ok((stdout, stderr))
}
