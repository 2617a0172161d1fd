//! Nested containers (the agent operator API's `LAUNCH_NESTED_CONTAINER[_SESSION]`,
//! `WAIT_`, `KILL_`, `REMOVE_NESTED_CONTAINER`, `ATTACH_CONTAINER_INPUT`/`OUTPUT`): a command
//! run inside a running executor's container — its pid and mount namespaces, a child cgroup of
//! its cgroups, its sandbox as working directory — behind an I/O switchboard process
//! ([`crate::switchboard`]) that owns its terminal or pipes and serves attach sessions.
//!
//! A nested container ends with its command; the switchboard then reports the raw wait
//! status. A switchboard that dies first makes the agent destroy the container and report
//! `TASK_FAILED` / `REASON_IO_SWITCHBOARD_EXITED`, as Mesos did. A nested container also ends
//! with its parent (they share the parent's namespaces and cgroup subtree). Launched with
//! resources (`LAUNCH_CONTAINER`, as the default executor launches its tasks), its child cgroup
//! gets their limits inside the parent's.
//!
//! Kept across an agent restart, as Mesos recovered them ([`Nested::recover`]): each one's
//! record is written before its launch is answered; a restarted agent re-adopts those whose
//! switchboard still runs and keeps how the others ended for `WAIT`. Sessions end with the
//! agent (their output went to a connection that is gone).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_wire::v1;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::watch;

use crate::containerizer::{CgroupPaths, Container, Limits, UserInfo};
use crate::switchboard;

/// The descriptor a terminal's switchboard finds the pty master on.
const TERMINAL_FD: i32 = 3;

/// How long a switchboard may take to start its command.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How a nested container ended, as `WAIT_NESTED_CONTAINER` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The command's raw wait status, when it ended by itself.
    pub exit_status: Option<i32>,
    /// Set when the agent ended it for a reason of its own.
    pub state: Option<v1::TaskState>,
    /// Why, then.
    pub reason: Option<v1::task_status::Reason>,
    /// And in words.
    pub message: Option<String>,
}

/// Why a call on nested containers was refused; each maps to Mesos' status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedError {
    /// 400.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 503: too many at once.
    Busy(String),
    /// 500.
    Internal(String),
}

impl NestedError {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(m) | Self::NotFound(m) | Self::Conflict(m) | Self::Busy(m) => m,
            Self::Internal(m) => m,
        }
    }
}

/// What to launch.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The new container's id.
    pub id: String,
    /// The running parent container.
    pub parent: Arc<Container>,
    /// Who runs the command (the command's `user`, else the parent's), when the agent switches
    /// users.
    pub user: Option<UserInfo>,
    /// That user's name (what the ACLs decide on).
    pub user_name: String,
    /// argv.
    pub argv: Vec<String>,
    /// The environment.
    pub env: Vec<(String, String)>,
    /// A terminal of (rows, columns), or pipes.
    pub tty: Option<(u16, u16)>,
    /// `LAUNCH_NESTED_CONTAINER_SESSION`.
    pub session: bool,
    /// The working directory (and `MESOS_SANDBOX`): the parent's sandbox for a session, the
    /// container's own `containers/<id>` in it otherwise (Mesos' layout).
    pub sandbox: PathBuf,
    /// Where its `stdout` and `stderr` are written: its own sandbox, or (for a session, whose
    /// output is the caller's) the agent's runtime directory.
    pub log_dir: Option<PathBuf>,
    /// Limits of its own child cgroup (`LAUNCH_CONTAINER`'s `resources`); `None`: only the
    /// parent's bound it.
    pub limits: Option<Limits>,
    /// The nested container it is nested in (in `parent`'s namespaces), if any: its cgroups
    /// are the new one's parent cgroups.
    pub nested_parent: Option<Arc<Entry>>,
}

/// What the agent writes of a nested container before answering its launch, to re-adopt it
/// after a restart.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Record {
    id: String,
    parent: String,
    session: bool,
    tty: bool,
    user: String,
    sandbox: PathBuf,
    pid: i32,
    switchboard_pid: i32,
    cgroups: CgroupPaths,
}

const RECORD: &str = "record.json";

/// One nested container.
#[derive(Debug)]
pub struct Entry {
    /// Its id.
    pub id: String,
    /// Its parent's id.
    pub parent: String,
    /// Launched as a session.
    pub session: bool,
    /// Launched with a terminal.
    pub tty: bool,
    /// The user it runs as (what the ACLs decide on).
    pub user: String,
    /// Its working directory.
    pub sandbox: PathBuf,
    dir: PathBuf,
    socket: PathBuf,
    /// The command's pid (host namespace).
    pub pid: i32,
    /// The switchboard's pid.
    pub switchboard_pid: i32,
    cgroups: CgroupPaths,
    ended: watch::Receiver<Option<Ended>>,
}

impl Entry {
    /// How it ended, once it has.
    pub fn ended(&self) -> Option<Ended> {
        self.ended.borrow().clone()
    }
}

/// A container's terminal.
#[derive(Debug)]
struct Terminal {
    /// Its switchboard's socket.
    socket: PathBuf,
    /// The agent's own copy of the pty master, held until the container is gone: a
    /// switchboard that dies must not hang up the container's terminal (its tasks would end
    /// on their own, before the agent destroys the container and says why).
    _master: Option<std::os::fd::OwnedFd>,
}

/// The agent's nested containers.
#[derive(Debug)]
pub struct Nested {
    entries: Mutex<BTreeMap<String, Arc<Entry>>>,
    /// Terminals of top-level containers launched with a TTY, by container id.
    terminals: Mutex<BTreeMap<String, Terminal>>,
    root: PathBuf,
    terminals_root: PathBuf,
    launcher: PathBuf,
    /// `--cgroups_enable_cfs`: limits include a hard CPU quota.
    cfs: bool,
    /// `--max_nested_containers`: at most this many at once (each has a switchboard).
    max: usize,
}

impl Nested {
    /// Nested containers under `<work_dir>/nested`, switchboards run as `launcher
    /// io-switchboard`.
    pub fn new(work_dir: &Path, launcher: PathBuf, cfs: bool, max: usize) -> Self {
        Self {
            entries: Mutex::new(BTreeMap::new()),
            terminals: Mutex::new(BTreeMap::new()),
            root: work_dir.join("nested"),
            terminals_root: work_dir.join("terminals"),
            launcher,
            cfs,
            max,
        }
    }

    /// The `drover` binary the switchboards (and image launches) run as.
    pub fn launcher(&self) -> &Path {
        &self.launcher
    }

    /// Takes back the nested containers a previous agent run launched. One whose switchboard
    /// still runs is watched again; one that ended meanwhile keeps how it ended (its
    /// switchboard wrote the status) for `WAIT`; sessions, and anything without a record, are
    /// killed and removed. Called once at start, before serving.
    pub fn recover(self: &Arc<Self>) {
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return;
        };
        for dir in dirs.flatten() {
            let dir = dir.path();
            let record: Option<Record> = std::fs::read(dir.join(RECORD))
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let Some(record) = record.filter(|r| !r.session) else {
                for name in ["switchboard.pid", "pid"] {
                    if let Some(pid) = std::fs::read_to_string(dir.join(name))
                        .ok()
                        .and_then(|t| t.trim().parse::<i32>().ok())
                    {
                        kill_pid(pid);
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
                continue;
            };
            let running = is_switchboard(record.switchboard_pid);
            let (ended_tx, ended) = watch::channel(None);
            let entry = Arc::new(Entry {
                id: record.id.clone(),
                parent: record.parent,
                session: false,
                tty: record.tty,
                user: record.user,
                sandbox: record.sandbox,
                socket: dir.join("io.sock"),
                dir,
                pid: record.pid,
                switchboard_pid: record.switchboard_pid,
                cgroups: record.cgroups,
                ended,
            });
            self.lock().insert(record.id.clone(), entry.clone());
            tracing::info!(container = %entry.id, running, "nested container recovered");
            tokio::spawn(async move {
                if running {
                    wait_exit(entry.switchboard_pid).await;
                }
                let result = ended_from_status(&entry, "it ended while the agent was down");
                settle(&entry, result, &ended_tx).await;
            });
        }
    }

    /// Takes back the terminals of containers a previous agent run started whose switchboard
    /// still runs (they stay attachable), and removes the directories of the others.
    pub fn recover_terminals(&self) {
        let Ok(dirs) = std::fs::read_dir(&self.terminals_root) else {
            return;
        };
        for dir in dirs.flatten() {
            let alive = std::fs::read_to_string(dir.path().join("switchboard.pid"))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                .is_some_and(|pid| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                });
            let socket = dir.path().join("io.sock");
            if alive && socket.exists() {
                let id = dir.file_name().to_string_lossy().into_owned();
                self.terminals_lock().insert(
                    id,
                    Terminal {
                        socket,
                        _master: None,
                    },
                );
            } else {
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
    }

    fn terminals_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Terminal>> {
        self.terminals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The container `id` is gone: its terminal (if it had one) with it.
    pub fn forget_terminal(&self, id: &str) {
        self.terminals_lock().remove(id);
    }

    /// Whether the top-level container `id` has a terminal to attach to.
    pub fn has_terminal(&self, id: &str) -> bool {
        self.terminals_lock().contains_key(id)
    }

    /// Starts the I/O switchboard of a top-level container launched with a TTY of `size`
    /// (rows, columns) and returns the terminal's other side, for the container's stdin,
    /// stdout and stderr. The switchboard logs the terminal into the sandbox's `stdout` and
    /// serves attach sessions. `died` is called if it ends before the container closed its
    /// terminal (killed, crashed): the container must then be destroyed
    /// (`REASON_IO_SWITCHBOARD_EXITED`).
    pub async fn start_terminal(
        self: &Arc<Self>,
        container_id: &str,
        sandbox: &Path,
        size: (u16, u16),
        died: impl FnOnce(String) + Send + 'static,
    ) -> Result<std::os::fd::OwnedFd, String> {
        let dir = self.terminals_root.join(container_id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let socket = dir.join("io.sock");
        let winsize = nix::pty::Winsize {
            ws_row: size.0,
            ws_col: size.1,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&winsize), None).map_err(|e| format!("openpty: {e}"))?;
        for fd in [&pty.master, &pty.slave] {
            // Neither end may leak into the agent's other children.
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(|e| format!("fcntl: {e}"))?;
        }
        let config = switchboard::Config {
            socket: socket.clone(),
            status_file: dir.join("status"),
            log_dir: sandbox.to_path_buf(),
            enter_pid: None,
            cgroup_procs: Vec::new(),
            user: None,
            cwd: sandbox.to_path_buf(),
            env: Vec::new(),
            argv: Vec::new(),
            tty: Some(size),
            session: false,
            terminal_fd: Some(TERMINAL_FD),
        };
        let (mut switchboard, _) = match self
            .start_switchboard(&dir, &config, Some(&pty.master))
            .await
        {
            Ok(started) => started,
            Err(message) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(message);
            }
        };
        let pid = switchboard.id().map(|p| p as i32).unwrap_or_default();
        let _ = std::fs::write(dir.join("switchboard.pid"), pid.to_string());
        self.terminals_lock().insert(
            container_id.to_owned(),
            Terminal {
                socket,
                _master: Some(pty.master),
            },
        );
        let this = self.clone();
        let id = container_id.to_owned();
        tokio::spawn(async move {
            let status = switchboard.wait().await;
            match status {
                // The container closed its terminal: it ended.
                Ok(status) if status.success() => {
                    this.terminals_lock().remove(&id);
                    let _ = std::fs::remove_dir_all(&dir);
                }
                other => {
                    let how = match other {
                        Ok(status) => status.to_string(),
                        Err(e) => e.to_string(),
                    };
                    tracing::warn!(container = %id, %how, "the I/O switchboard of a container's terminal exited unexpectedly");
                    let _ = std::fs::remove_dir_all(&dir);
                    died(format!(
                        "The I/O switchboard server terminated unexpectedly: {how}"
                    ));
                }
            }
        });
        Ok(pty.slave)
    }

    /// The entry of `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.lock().get(id).cloned()
    }

    /// Every entry (for `GET_CONTAINERS`).
    pub fn list(&self) -> Vec<Arc<Entry>> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a nested container; returns once its command runs.
    pub async fn launch(self: &Arc<Self>, launch: Launch) -> Result<Arc<Entry>, NestedError> {
        let parent_id = match &launch.nested_parent {
            Some(entry) => entry.id.clone(),
            None => launch.parent.id().to_string(),
        };
        if launch.parent.has_exited() {
            return Err(NestedError::BadRequest(format!(
                "Parent container {parent_id} is not running"
            )));
        }
        if launch.argv.is_empty() {
            return Err(NestedError::BadRequest(
                "Expecting 'command' with a value to run".into(),
            ));
        }
        let dir = self.root.join(&launch.id);
        {
            let entries = self.lock();
            if entries.contains_key(&launch.id) || dir.exists() {
                return Err(NestedError::Conflict(format!(
                    "Container {} already exists",
                    launch.id
                )));
            }
            if entries.len() >= self.max {
                return Err(NestedError::Busy(format!(
                    "Too many nested containers on this agent (at most {}, \
                     --max_nested_containers)",
                    self.max
                )));
            }
        }
        let internal = |what: &str, e: io::Error| NestedError::Internal(format!("{what}: {e}"));
        std::fs::create_dir_all(&self.root).map_err(|e| internal("creating the nested dir", e))?;
        std::fs::create_dir(&dir).map_err(|e| internal("creating the container's dir", e))?;
        let socket = dir.join("io.sock");
        if socket.as_os_str().len() >= 100 {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(NestedError::Internal(format!(
                "The switchboard's socket path {} is too long for a unix socket; use a shorter \
                 --work_dir",
                socket.display()
            )));
        }
        let checkpoint = launch.parent.checkpoint().clone();
        let base = match &launch.nested_parent {
            Some(entry) => &entry.cgroups,
            None => &checkpoint.cgroups,
        };
        let cgroups = match crate::containerizer::cgroups_nested(base, &launch.id) {
            Ok(paths) => paths,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(internal("creating the nested cgroups", e));
            }
        };
        if let Some(limits) = launch.limits {
            let (paths, cfs) = (cgroups.clone(), self.cfs);
            let set = tokio::task::spawn_blocking(move || {
                crate::containerizer::cgroups_limit(&paths, &limits, cfs)
            })
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
            if let Err(e) = set {
                let _ = crate::containerizer::cgroups_destroy(&cgroups);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(internal("setting the nested container's limits", e));
            }
        }
        let config = switchboard::Config {
            socket: socket.clone(),
            status_file: dir.join("status"),
            log_dir: launch.log_dir.clone().unwrap_or_else(|| dir.clone()),
            enter_pid: checkpoint.pid_namespace.then_some(checkpoint.pid),
            cgroup_procs: cgroups
                .dirs()
                .into_iter()
                .map(|d| d.join("cgroup.procs"))
                .collect(),
            user: launch
                .user
                .as_ref()
                .map(|u| (u.uid, u.gid, u.groups.clone())),
            cwd: launch.sandbox.clone(),
            env: launch.env.clone(),
            argv: launch.argv.clone(),
            tty: launch.tty,
            session: launch.session,
            terminal_fd: None,
        };
        let started = self.start_switchboard(&dir, &config, None).await;
        let (switchboard, pid) = match started {
            Ok(started) => started,
            Err(message) => {
                let _ = tokio::task::spawn_blocking({
                    let cgroups = cgroups.clone();
                    move || crate::containerizer::cgroups_destroy(&cgroups)
                })
                .await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(NestedError::Internal(message));
            }
        };
        let switchboard_pid = switchboard.id().map(|p| p as i32).unwrap_or_default();
        let _ = std::fs::write(dir.join("switchboard.pid"), switchboard_pid.to_string());
        let _ = std::fs::write(dir.join("pid"), pid.to_string());
        // Written (and synced) before the launch is answered: a restarted agent re-adopts it.
        let record = Record {
            id: launch.id.clone(),
            parent: parent_id.clone(),
            session: launch.session,
            tty: launch.tty.is_some(),
            user: launch.user_name.clone(),
            sandbox: launch.sandbox.clone(),
            pid,
            switchboard_pid,
            cgroups: cgroups.clone(),
        };
        if let Err(e) = write_record(&dir, &record) {
            let mut switchboard = switchboard;
            kill_pid(pid);
            let _ = switchboard.start_kill();
            let _ = switchboard.wait().await;
            let _ = crate::containerizer::cgroups_destroy(&cgroups);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(internal("writing the nested container's record", e));
        }
        let (ended_tx, ended) = watch::channel(None);
        let entry = Arc::new(Entry {
            id: launch.id.clone(),
            parent: parent_id,
            session: launch.session,
            tty: launch.tty.is_some(),
            user: launch.user_name.clone(),
            sandbox: launch.sandbox.clone(),
            dir,
            socket,
            pid,
            switchboard_pid,
            cgroups,
            ended,
        });
        self.lock().insert(launch.id.clone(), entry.clone());
        tokio::spawn(monitor(entry.clone(), switchboard, launch.parent, ended_tx));
        tracing::info!(container = %launch.id, parent = %entry.parent, pid, "nested container started");
        Ok(entry)
    }

    async fn start_switchboard(
        &self,
        dir: &Path,
        config: &switchboard::Config,
        terminal: Option<&std::os::fd::OwnedFd>,
    ) -> Result<(tokio::process::Child, i32), String> {
        // The config holds the command's environment (resolved secrets included): readable by
        // the agent's user only, and removed once the switchboard has read it.
        let config_path = dir.join("switchboard.json");
        let text = serde_json::to_vec(config).map_err(|e| e.to_string())?;
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&config_path)
                .and_then(|mut f| f.write_all(&text))
                .map_err(|e| format!("writing its config: {e}"))?;
        }
        let _remove_config = RemoveOnDrop(config_path.clone());
        let log = std::fs::File::create(dir.join("switchboard.log"))
            .map_err(|e| format!("creating the switchboard's log: {e}"))?;
        let mut command = tokio::process::Command::new(&self.launcher);
        command
            .arg("io-switchboard")
            .arg(&config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log);
        if let Some(fd) = terminal {
            let raw = std::os::fd::AsRawFd::as_raw_fd(fd);
            // SAFETY: runs in the child between fork and exec; dup2 is async-signal-safe and
            // the new descriptor (without close-on-exec) is the only one the switchboard gets.
            #[allow(unsafe_code)]
            unsafe {
                command.pre_exec(move || {
                    if libc::dup2(raw, TERMINAL_FD) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command.spawn().map_err(|e| {
            format!(
                "cannot start the I/O switchboard {}: {e}",
                self.launcher.display()
            )
        })?;
        let stdout = child.stdout.take().ok_or("the switchboard has no stdout")?;
        let mut line = String::new();
        let read =
            tokio::time::timeout(START_TIMEOUT, BufReader::new(stdout).read_line(&mut line)).await;
        let line = line.trim();
        if let Ok(Ok(n)) = read
            && n > 0
            && let Some(pid) = line
                .strip_prefix(switchboard::READY)
                .and_then(|p| p.trim().parse::<i32>().ok())
        {
            return Ok((child, pid));
        }
        let _ = child.start_kill();
        let status = child.wait().await;
        Err(match line.strip_prefix("error ") {
            Some(why) => format!("Failed to launch the nested container: {why}"),
            None => {
                let log = std::fs::read_to_string(dir.join("switchboard.log")).unwrap_or_default();
                let log: String = log.trim().chars().take(1000).collect();
                let status = status.map(|s| s.to_string()).unwrap_or_default();
                format!(
                    "Failed to launch the nested container: the I/O switchboard did not start \
                     ({status}){}{log}",
                    if log.is_empty() { "" } else { ": " }
                )
            }
        })
    }

    /// Waits until `id` ended.
    pub async fn wait(&self, id: &str) -> Result<Ended, NestedError> {
        let entry = self.get(id).ok_or_else(|| not_found(id))?;
        let mut ended = entry.ended.clone();
        let result = ended
            .wait_for(Option::is_some)
            .await
            .map_err(|_| NestedError::Internal("the container's monitor is gone".into()))?
            .clone();
        result.ok_or_else(|| NestedError::Internal("no result".into()))
    }

    /// Sends `signal` (default SIGKILL) to `id`'s command.
    pub fn kill(&self, id: &str, signal: Option<i32>) -> Result<(), NestedError> {
        let entry = self.get(id).ok_or_else(|| not_found(id))?;
        let signal = match signal {
            None => nix::sys::signal::Signal::SIGKILL,
            Some(n) => nix::sys::signal::Signal::try_from(n)
                .map_err(|_| NestedError::BadRequest(format!("Invalid signal {n}")))?,
        };
        if entry.ended().is_some() {
            return Ok(());
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(entry.pid), signal)
            .or_else(|e| {
                if e == nix::errno::Errno::ESRCH {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| NestedError::Internal(format!("kill: {e}")))
    }

    /// Forgets an ended container and removes its runtime directory.
    pub fn remove(&self, id: &str) -> Result<(), NestedError> {
        let entry = self.get(id).ok_or_else(|| not_found(id))?;
        if entry.ended().is_none() {
            return Err(NestedError::BadRequest(format!(
                "Container {id} is still running; kill and wait for it first"
            )));
        }
        self.lock().remove(id);
        let _ = std::fs::remove_dir_all(&entry.dir);
        Ok(())
    }

    /// Opens an `OUTPUT` (or `INPUT`) session on `id`'s switchboard.
    pub async fn attach(&self, id: &str, input: bool) -> Result<UnixStream, NestedError> {
        let terminal = self.terminals_lock().get(id).map(|t| t.socket.clone());
        let socket = match terminal {
            Some(socket) => socket,
            None => {
                let entry = self.get(id).ok_or_else(|| not_found(id))?;
                if entry.ended().is_some() {
                    return Err(NestedError::BadRequest(format!(
                        "Container {id} has ended; there is nothing to attach to"
                    )));
                }
                entry.socket.clone()
            }
        };
        let mut stream = UnixStream::connect(&socket)
            .await
            .map_err(|e| NestedError::Internal(format!("cannot reach the I/O switchboard: {e}")))?;
        let kind: &[u8] = if input { b"INPUT\n" } else { b"OUTPUT\n" };
        stream
            .write_all(kind)
            .await
            .map_err(|e| NestedError::Internal(format!("the I/O switchboard: {e}")))?;
        // The answer is one short line; read it byte by byte so nothing after it is consumed.
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while answer.len() < 256 {
            use tokio::io::AsyncReadExt;
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await {
                Ok(Ok(1)) if byte[0] == b'\n' => break,
                Ok(Ok(1)) => answer.push(byte[0]),
                _ => {
                    return Err(NestedError::Internal(
                        "the I/O switchboard did not answer".into(),
                    ));
                }
            }
        }
        let answer = String::from_utf8_lossy(&answer).into_owned();
        match answer.strip_prefix("BUSY") {
            None if answer == "OK" => Ok(stream),
            Some(why) => Err(NestedError::Conflict(format!(
                "Cannot attach to container {id}: {}",
                why.trim()
            ))),
            None => Err(NestedError::Internal(format!(
                "the I/O switchboard said {answer:?}"
            ))),
        }
    }
}

fn not_found(id: &str) -> NestedError {
    NestedError::NotFound(format!("Container {id} cannot be found"))
}

/// Waits for the switchboard (or the parent) to end, then settles how the container ended and
/// destroys what is left of it.
async fn monitor(
    entry: Arc<Entry>,
    mut switchboard: tokio::process::Child,
    parent: Arc<Container>,
    ended: watch::Sender<Option<Ended>>,
) {
    let outcome = tokio::select! {
        status = switchboard.wait() => Some(status),
        _ = parent.wait() => None,
    };
    let result = match outcome {
        Some(Ok(status)) if status.success() => {
            ended_from_status(&entry, &format!("it exited without a status ({status})"))
        }
        Some(Ok(status)) => switchboard_exited(&status.to_string()),
        Some(Err(e)) => switchboard_exited(&e.to_string()),
        None => {
            // Its command goes with it even where no pid namespace or cgroup would take it.
            kill_pid(entry.pid);
            let _ = switchboard.start_kill();
            let _ = switchboard.wait().await;
            Ended {
                exit_status: None,
                state: Some(v1::TaskState::TaskKilled),
                reason: None,
                message: Some(format!("Parent container {} ended", entry.parent)),
            }
        }
    };
    settle(&entry, result, &ended).await;
}

/// How a container whose switchboard ended by itself ended: the status it wrote, else the
/// switchboard died first (`how`).
fn ended_from_status(entry: &Entry, how: &str) -> Ended {
    match std::fs::read_to_string(entry.dir.join("status"))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    {
        Some(raw) => Ended {
            exit_status: Some(raw),
            state: None,
            reason: None,
            message: None,
        },
        None => switchboard_exited(how),
    }
}

/// Destroys what is left of an ended container and publishes how it ended.
async fn settle(entry: &Entry, result: Ended, ended: &watch::Sender<Option<Ended>>) {
    if result.reason == Some(v1::task_status::Reason::IoSwitchboardExited) {
        tracing::warn!(container = %entry.id, "the I/O switchboard exited unexpectedly; destroying the container");
        // The command itself (it was not reaped, so the pid is still its own); then whatever
        // it left behind, through its cgroups.
        kill_pid(entry.pid);
    }
    let cgroups = entry.cgroups.clone();
    let _ =
        tokio::task::spawn_blocking(move || crate::containerizer::cgroups_destroy(&cgroups)).await;
    ended.send_replace(Some(result));
}

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn kill_pid(pid: i32) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
}

fn write_record(dir: &Path, record: &Record) -> io::Result<()> {
    use std::io::Write;
    let tmp = dir.join("record.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(record).map_err(io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(RECORD))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Whether `pid` is a live I/O switchboard (a pid a previous run recorded may since have been
/// reused by something else).
fn is_switchboard(pid: i32) -> bool {
    pid > 0
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == b"io-switchboard"))
}

/// Waits until process `pid` (not our child: a previous agent run started it) has ended:
/// through a pidfd where the kernel has them, else by polling.
async fn wait_exit(pid: i32) {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd >= 0 {
        // SAFETY: the descriptor was just created and is owned by nothing else.
        #[allow(unsafe_code)]
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: the AsyncFd owns the descriptor and nothing closes or replaces it meanwhile.
        #[allow(unsafe_code)]
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        };
        if let Ok(fd) = registered {
            // A pidfd turns readable when its process ends.
            let _ = fd.readable().await;
            return;
        }
    }
    while nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn switchboard_exited(how: &str) -> Ended {
    Ended {
        exit_status: None,
        state: Some(v1::TaskState::TaskFailed),
        reason: Some(v1::task_status::Reason::IoSwitchboardExited),
        message: Some(format!(
            "The I/O switchboard server terminated unexpectedly: {how}"
        )),
    }
}
