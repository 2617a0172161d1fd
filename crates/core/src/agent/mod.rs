//! The agent's decisions, as a pure state machine: frameworks, executors and tasks, the task
//! status update manager, executor (re)registration timeouts, kill paths, container endings
//! and what they mean for tasks, and recovery after an agent restart or a host reboot.
//!
//! Shape: [`Agent::handle`]`(now_ms, Input) -> Vec<Effect>`, [`Agent::next_deadline`] for the
//! driver's single timer, read-only views, and [`Agent::check_invariants`]. No I/O, no clock,
//! no randomness (uuids come from a seed the driver passes in).
//!
//! The driver's contract: it commits every [`Effect::Checkpoint`] of a step (many steps may
//! share one commit) **before** it carries out any other effect of those steps, so nothing is
//! sent, acknowledged or launched on the strength of state that a crash could lose.
//!
//! Every update the agent generates itself comes from the emission table
//! ([`crate::task::emission`]), never from a state spelled at the call site.

pub mod container;
pub mod docker;
mod drain;
mod executor_api;
pub mod gc;
pub mod ids;
mod launch;
mod lifecycle;
pub mod model;
mod qos;
mod recovery;
pub mod session;
pub mod sum;
mod task_group;
mod views;
pub mod volumes;

use std::collections::BTreeMap;

use drover_wire::internal;
use drover_wire::v1;

pub use ids::{ConnId, ContainerId, ExecutorId, FrameworkId, RequestId, TaskId, UuidSource};
pub use model::{Executor, ExecutorState, Framework, Limitation, Task};
pub use recovery::{Recovered, RecoveredExecutor};
pub use views::{ExecutorView, FrameworkView, Snapshot};

use crate::task::TaskState;
use crate::task::emission::{Trigger, emission};

/// Mesos' default executor shutdown grace period (`--executor_shutdown_grace_period`).
pub const DEFAULT_EXECUTOR_SHUTDOWN_GRACE_MS: u64 = 5_000;
/// Resources Mesos adds for the command executor itself (`DEFAULT_EXECUTOR_CPUS`).
pub const COMMAND_EXECUTOR_CPUS: f64 = 0.1;
/// Memory Mesos adds for the command executor itself (`DEFAULT_EXECUTOR_MEM`).
pub const COMMAND_EXECUTOR_MEM_MB: f64 = 32.0;
/// How many completed tasks an executor remembers for the state endpoints.
pub const MAX_COMPLETED_TASKS_PER_EXECUTOR: usize = 200;
/// How many ended executors a framework remembers for `/state` (Mesos'
/// `--max_completed_executors_per_framework` default).
pub const MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK: usize = 150;
/// How many ended frameworks the agent remembers for `/state` (Mesos'
/// `MAX_COMPLETED_FRAMEWORKS`).
pub const MAX_COMPLETED_FRAMEWORKS: usize = 50;

/// Settings fixed for the agent process's lifetime.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--work_dir`: sandboxes live below it.
    pub work_dir: String,
    /// Path of the `drover` binary; the command executor is `<launcher> executor`.
    pub launcher: String,
    /// `--executor_registration_timeout`.
    pub executor_registration_timeout_ms: u64,
    /// `--executor_reregistration_timeout`.
    pub executor_reregistration_timeout_ms: u64,
    /// `--executor_shutdown_grace_period`.
    pub executor_shutdown_grace_ms: u64,
    /// The agent's `AgentInfo` without id (hostname, port, resources, attributes).
    pub agent_info: v1::AgentInfo,
    /// The IP address the agent serves on (`--ip`), sent with its registration so the
    /// master's offers carry it (`url.address.ip`, as Mesos' did); `None` when it listens on
    /// every address.
    pub ip: Option<String>,
    /// This boot's id (`/proc/sys/kernel/random/boot_id`), checkpointed to detect reboots.
    pub boot_id: String,
    /// The agent's own `run_tasks` ACLs (`--acls`): a task the master let through whose
    /// framework's principal may not run it as its user here is refused
    /// (`REASON_TASK_UNAUTHORIZED`, `REASON_TASK_GROUP_UNAUTHORIZED`). `None`: all may run.
    pub run_tasks: Option<crate::acl::RunTasks>,
    /// Whether a resource estimator runs (`--resource_estimator`): the agent then reports
    /// its estimate after every registration, even an empty one.
    pub oversubscription: bool,
}

/// Something that happened, for the agent to decide on.
// Values pass through the driver once per step; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Input {
    /// What the driver found in the checkpoint store at start (empty for a fresh agent); must
    /// be the first input.
    Recover(Recovered),
    /// The master accepted a REGISTER or REREGISTER.
    Registered {
        /// Our agent id.
        agent_id: String,
    },
    /// The session with the master broke.
    Disconnected,
    /// The master's CHECKPOINT_RESOURCES: the agent's whole set of dynamic reservations and
    /// persistent volumes.
    CheckpointResources(Vec<v1::Resource>),
    /// The master's DRAIN: an operator drains this agent ([`drain`]).
    Drain(v1::DrainConfig),
    /// The resource estimator's revocable resources (`--resource_estimator`): with `total`,
    /// all the machine may oversubscribe (the fixed estimator), of which what revocable tasks
    /// hold is part; otherwise what is free to oversubscribe now (measured), to which what
    /// revocable tasks hold is added. The master is sent the total, as Mesos' agent did.
    Oversubscribed {
        estimate: Vec<v1::Resource>,
        total: bool,
    },
    /// The QoS controller found the machine overloaded (`--qos_controller`): evict every
    /// container on revocable resources, saying why.
    QosCorrection(String),
    /// RUN_TASK from the master.
    RunTask(internal::agent_event::RunTask),
    /// KILL_TASK from the master.
    KillTask {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// Overrides the task's kill policy.
        kill_policy: Option<v1::KillPolicy>,
    },
    /// The framework acknowledged a status update.
    Acknowledge {
        /// The task's framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// The update's uuid.
        uuid: Vec<u8>,
    },
    /// The framework (re)subscribed: resend its pending updates now.
    UpdateFramework(v1::FrameworkInfo),
    /// Shut down every executor of the framework.
    ShutdownFramework(FrameworkId),
    /// Shut down one executor.
    ShutdownExecutor {
        /// The executor's framework.
        framework_id: FrameworkId,
        /// The executor.
        executor_id: ExecutorId,
    },
    /// The master's tasks on this agent (agent-side reconciliation after reregistration),
    /// each with whether the master knows its framework as PARTITION_AWARE (used when this
    /// agent does not know the framework).
    ReconcileTasks(Vec<(FrameworkId, TaskId, bool)>),
    /// Scheduler → executor message.
    FrameworkMessage {
        /// The framework.
        framework_id: FrameworkId,
        /// The executor.
        executor_id: ExecutorId,
        /// Opaque payload.
        data: Vec<u8>,
    },
    /// A call on the Executor HTTP API. `conn` is the new stream for SUBSCRIBE.
    ExecutorCall {
        /// Where the driver waits for the [`Effect::Reply`].
        request: RequestId,
        /// The SUBSCRIBE stream, if this is a SUBSCRIBE.
        conn: Option<ConnId>,
        /// The call.
        call: v1::executor::Call,
    },
    /// An executor's SUBSCRIBE stream closed.
    ExecutorDisconnected(ConnId),
    /// The container's first process started.
    ContainerLaunched(ContainerId),
    /// The container could not be launched.
    ContainerLaunchFailed {
        /// The container.
        container_id: ContainerId,
        /// What went wrong.
        message: String,
    },
    /// An isolator found the container over a limit (the driver's OOM or disk watcher).
    ContainerLimited {
        /// The container.
        container_id: ContainerId,
        /// `ContainerLimitationMemory` or `ContainerLimitationDisk`.
        trigger: Trigger,
        /// Mesos' wording of what was exceeded.
        message: String,
    },
    /// The container's first process (the executor) ended.
    ContainerTerminated {
        /// The container.
        container_id: ContainerId,
        /// How it ended, e.g. "Command exited with status 1".
        message: String,
        /// The kernel's OOM killer acted in the container.
        oom_killed: bool,
    },
    /// Time passed (the driver's timer for [`Agent::next_deadline`]).
    Tick,
    /// The share of the work directory's disk in use (0.0–1.0), measured every
    /// `--disk_watch_interval`: the fuller, the sooner ended sandboxes are deleted.
    DiskUsage(f64),
    /// The driver finished deleting a directory of an [`Effect::RemoveDirectories`].
    DirectoryRemoved(String),
    /// Directories of ended executors found on disk at start (what a previous agent process
    /// left), each with its age in ms (from its modification time): they are scheduled for
    /// deletion `--gc_delay` after that, unless a recovered executor still lives in them.
    /// After [`Input::Recover`].
    StaleDirectories(Vec<(String, u64)>),
}

/// Why an Executor API call was refused (the driver maps these to HTTP codes, spec §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// 400 "Framework cannot be found".
    FrameworkNotFound,
    /// 400 "Executor cannot be found".
    ExecutorNotFound,
    /// 403: the executor has not subscribed.
    NotSubscribed,
    /// 400 with the validation message.
    Invalid(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::FrameworkNotFound => f.write_str("Framework cannot be found"),
            CallError::ExecutorNotFound => f.write_str("Executor cannot be found"),
            CallError::NotSubscribed => f.write_str("Executor is not subscribed"),
            CallError::Invalid(message) => f.write_str(message),
        }
    }
}

/// A durable change, committed by the driver before the step's other effects.
// Values pass through the driver once per step; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CheckpointOp {
    /// The agent's id and the boot it runs in.
    Agent {
        /// Assigned by the master.
        agent_id: String,
        /// This boot's id.
        boot_id: String,
    },
    /// A (checkpointing) framework's info.
    PutFramework(v1::FrameworkInfo),
    /// The framework is gone from the agent.
    RemoveFramework(FrameworkId),
    /// An executor run.
    PutExecutor(RecoveredExecutor),
    /// The executor run is gone.
    RemoveExecutor {
        /// Its framework.
        framework_id: FrameworkId,
        /// The executor.
        executor_id: ExecutorId,
        /// Its container (the driver drops the container checkpoint too).
        container_id: ContainerId,
    },
    /// A task and its latest state.
    PutTask(v1::Task),
    /// The task is gone, with its remaining update and acknowledgement records.
    RemoveTask {
        /// Its framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// Update records still present.
        update_seqs: Vec<u64>,
        /// Acknowledgement records.
        acks: Vec<Vec<u8>>,
    },
    /// The agent's checkpointed resources (dynamic reservations, persistent volumes), whole.
    PutResources(Vec<v1::Resource>),
    /// The drain the agent is carrying out, or none (it finished): replayed after a restart.
    Drain(Option<v1::DrainConfig>),
    /// An accepted status update, under its stream position.
    PutUpdate {
        /// Its framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// Stream position.
        seq: u64,
        /// The update.
        status: v1::TaskStatus,
    },
    /// The framework acknowledged the update at `seq` (its uuid is `uuid`).
    AckUpdate {
        /// Its framework.
        framework_id: FrameworkId,
        /// The task.
        task_id: TaskId,
        /// Stream position of the acknowledged update.
        seq: u64,
        /// Its uuid, remembered for deduplication.
        uuid: Vec<u8>,
    },
}

/// A persistent volume a container uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeUse {
    /// Where it appears, relative to the container's sandbox (the volume's `container_path`).
    pub container_path: String,
    /// Its directory on the agent.
    pub dir: String,
    /// Whether the volume's mode is `RO`.
    pub read_only: bool,
}

/// What a container needs to be launched.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    /// The framework.
    pub framework_id: FrameworkId,
    /// The framework's info (for `MESOS_CHECKPOINT` and the user).
    pub framework_info: v1::FrameworkInfo,
    /// The executor (its command is what runs).
    pub executor_info: v1::ExecutorInfo,
    /// The container.
    pub container_id: ContainerId,
    /// The host sandbox.
    pub directory: String,
    /// Whether this is the built-in command executor.
    pub command_executor: bool,
    /// CPU limit (executor and tasks).
    pub cpus: f64,
    /// Memory limit in MB (executor and tasks).
    pub mem_mb: f64,
    /// Disk quota in MB (executor and tasks).
    pub disk_mb: f64,
    /// Run as this user.
    pub user: Option<String>,
    /// The URIs of a task group's tasks, each fetched into `tasks/<task id>` of the sandbox
    /// before the executor starts (Mesos fetched them into each task's own sandbox).
    pub task_uris: Vec<(String, Vec<v1::command_info::Uri>)>,
    /// The `SECRET` environment variables of the executor's command and of its first tasks:
    /// the agent resolves each from its secret store into the container's environment before
    /// anything starts (Mesos' `environment_secret` isolator), or fails the launch naming it.
    pub secret_env: Vec<(String, v1::Secret)>,
    /// Persistent volumes the container uses. With a mount namespace of its own (the agent's
    /// `namespaces/pid` isolation, or an image) each is a bind mount at its path of the
    /// sandbox, read-only for a `RO` volume (Mesos' `filesystem/linux`); without one, a link
    /// (Mesos' `filesystem/posix`).
    pub persistent_volumes: Vec<VolumeUse>,
    /// Secret files (the executor's MESOS container's `SECRET` volumes; a command task's
    /// container is its executor's): sandbox-relative path and secret, written by the agent
    /// before anything starts, readable by the task's user only (Mesos' `volume/secret`
    /// isolator).
    pub secret_files: Vec<(String, v1::Secret)>,
}

/// What the driver must do.
// Values pass through the driver once per step; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Persist; committed before any other effect of the same steps.
    Checkpoint(CheckpointOp),
    /// Launch a container.
    Launch(LaunchSpec),
    /// Kill a container: SIGTERM, SIGKILL after `grace_ms` (0: at once), then destroy it.
    Kill {
        /// The container.
        container_id: ContainerId,
        /// Grace before SIGKILL.
        grace_ms: u64,
    },
    /// Resize a running container to its executor's and live tasks' resources: a task or a
    /// group joined it, or a task of a default executor ended. If the kernel refuses (e.g. a
    /// memory limit below what the container uses), the driver reports `ContainerLimited`
    /// with `ContainerUpdateFailed` and the container is destroyed.
    UpdateContainer {
        /// The container.
        container_id: ContainerId,
        /// CPU limit.
        cpus: f64,
        /// Memory limit in MB.
        mem_mb: f64,
    },
    /// A call to the master on the current session.
    ToMaster(internal::AgentCall),
    /// An event on an executor's SUBSCRIBE stream.
    ToExecutor {
        /// The stream.
        conn: ConnId,
        /// The event.
        event: v1::executor::Event,
    },
    /// Close an executor's stream.
    CloseExecutor(ConnId),
    /// Answer an Executor API call.
    Reply {
        /// The waiting request.
        request: RequestId,
        /// Accepted (202, or 200 and the stream for SUBSCRIBE) or refused.
        result: Result<(), CallError>,
    },
    /// Delete these directories (their time under `--gc_delay` is up, or the disk is
    /// filling), then report each with [`Input::DirectoryRemoved`].
    RemoveDirectories(Vec<String>),
    /// Recovery is complete: (re)register with the master now.
    StartMasterSession,
    /// Make the persistent volumes' directories exactly these: create the missing ones,
    /// delete every other one under [`volumes::volumes_root`] (a DESTROY).
    SyncVolumes(Vec<String>),
}

/// The agent core.
#[derive(Debug, Clone)]
pub struct Agent {
    config: Config,
    agent_id: Option<String>,
    registered: bool,
    /// `Some(deadline)` while executors of a previous agent process may still resubscribe.
    recovering: Option<u64>,
    recovered: bool,
    frameworks: BTreeMap<FrameworkId, Framework>,
    /// Frameworks with nothing left on this agent, for `/state`, newest last, bounded by
    /// [`MAX_COMPLETED_FRAMEWORKS`] (memory only: Mesos' agent forgets them on restart too).
    completed_frameworks: std::collections::VecDeque<FrameworkView>,
    containers: BTreeMap<ContainerId, (FrameworkId, ExecutorId)>,
    sum: sum::StatusUpdateManager,
    uuids: UuidSource,
    gc: gc::Gc,
    gc_config: gc::GcConfig,
    /// Directories that ended during the current step, scheduled at its end (with its time).
    gc_ended: Vec<String>,
    /// Dynamic reservations and persistent volumes, as the master last sent them
    /// ([`volumes`]).
    checkpointed: Vec<v1::Resource>,
    /// The resource estimator's latest revocable resources ([`qos`]).
    oversubscribed: Vec<v1::Resource>,
    /// The drain in progress, until no framework is left ([`drain`]).
    drain: Option<v1::DrainConfig>,
    /// When this agent process began (or replayed) the drain: Mesos' estimated drain start.
    drain_started_ms: Option<u64>,
}

impl Agent {
    /// A new agent core; feed it [`Input::Recover`] first.
    pub fn new(config: Config, uuid_seed: [u8; 16]) -> Self {
        Agent {
            config,
            agent_id: None,
            registered: false,
            recovering: None,
            recovered: false,
            frameworks: BTreeMap::new(),
            completed_frameworks: Default::default(),
            checkpointed: Vec::new(),
            oversubscribed: Vec::new(),
            drain: None,
            drain_started_ms: None,
            containers: BTreeMap::new(),
            sum: sum::StatusUpdateManager::new(),
            uuids: UuidSource::new(uuid_seed),
            gc: gc::Gc::default(),
            gc_config: gc::GcConfig::default(),
            gc_ended: Vec::new(),
        }
    }

    /// The garbage collector's settings (`--gc_delay`, `--gc_disk_headroom`); Mesos'
    /// defaults otherwise.
    pub fn with_gc_config(mut self, config: gc::GcConfig) -> Self {
        self.gc_config = config;
        self
    }

    /// Decides on one input.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::Recover(state) => self.recover(now_ms, state, &mut out),
            Input::CheckpointResources(list) => self.checkpoint_resources(list, &mut out),
            Input::Drain(config) => self.drain(now_ms, config, &mut out),
            Input::Oversubscribed { estimate, total } => {
                self.oversubscribed(estimate, total, &mut out)
            }
            Input::QosCorrection(message) => self.qos_correction(message, &mut out),
            Input::Registered { agent_id } => self.registered(now_ms, agent_id, &mut out),
            Input::Disconnected => {
                self.registered = false;
                self.sum.pause();
            }
            Input::RunTask(run) => self.run_task(now_ms, run, &mut out),
            Input::KillTask {
                framework_id,
                task_id,
                kill_policy,
            } => self.kill_task(now_ms, &framework_id, &task_id, kill_policy, &mut out),
            Input::Acknowledge {
                framework_id,
                task_id,
                uuid,
            } => self.acknowledge(now_ms, &framework_id, &task_id, &uuid, &mut out),
            Input::UpdateFramework(info) => self.update_framework(now_ms, info, &mut out),
            Input::ShutdownFramework(framework_id) => {
                self.shutdown_framework(now_ms, &framework_id, &mut out)
            }
            Input::ShutdownExecutor {
                framework_id,
                executor_id,
            } => self.shutdown_executor(now_ms, &framework_id, &executor_id, &mut out),
            Input::ReconcileTasks(tasks) => self.reconcile_tasks(now_ms, tasks, &mut out),
            Input::FrameworkMessage {
                framework_id,
                executor_id,
                data,
            } => self.framework_message(&framework_id, &executor_id, data, &mut out),
            Input::ExecutorCall {
                request,
                conn,
                call,
            } => self.executor_call(now_ms, request, conn, call, &mut out),
            Input::ExecutorDisconnected(conn) => self.executor_disconnected(conn),
            Input::ContainerLaunched(_) => {}
            Input::ContainerLaunchFailed {
                container_id,
                message,
            } => self.container_launch_failed(now_ms, &container_id, &message, &mut out),
            Input::ContainerLimited {
                container_id,
                trigger,
                message,
            } => self.container_limited(&container_id, trigger, message, &mut out),
            Input::ContainerTerminated {
                container_id,
                message,
                oom_killed,
            } => self.container_terminated(now_ms, &container_id, &message, oom_killed, &mut out),
            Input::Tick => self.tick(now_ms, &mut out),
            Input::DiskUsage(usage) => self.gc_disk_usage(now_ms, usage, &mut out),
            Input::DirectoryRemoved(path) => self.gc.removed(&path),
            Input::StaleDirectories(found) => self.gc_stale(now_ms, found),
        }
        self.gc_schedule_ended(now_ms);
        self.update_drain_status(&mut out);
        out
    }

    /// The earliest time at which [`Input::Tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let mut deadline = self.sum.next_deadline();
        let mut consider = |t: u64| deadline = Some(deadline.map_or(t, |d: u64| d.min(t)));
        if let Some(t) = self.recovering {
            consider(t);
        }
        if let Some(t) = self.gc.next_deadline() {
            consider(t);
        }
        for framework in self.frameworks.values() {
            for executor in framework.executors.values() {
                match executor.state {
                    ExecutorState::Registering { deadline_ms, .. } => consider(deadline_ms),
                    ExecutorState::Terminating {
                        kill_at_ms: Some(t),
                    } => consider(t),
                    _ => {}
                }
            }
        }
        deadline
    }

    /// The agent id, once known.
    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    /// Whether the agent is registered with a master.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether recovery is complete (executor API calls other than SUBSCRIBE are refused
    /// before, as Mesos answers 503).
    pub fn is_recovered(&self) -> bool {
        self.recovered && self.recovering.is_none()
    }

    /// The frameworks.
    pub fn frameworks(&self) -> &BTreeMap<FrameworkId, Framework> {
        &self.frameworks
    }

    /// The status update manager (read-only).
    pub fn status_updates(&self) -> &sum::StatusUpdateManager {
        &self.sum
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where a container belongs.
    pub fn container_owner(&self, id: &ContainerId) -> Option<&(FrameworkId, ExecutorId)> {
        self.containers.get(id)
    }

    /// Checks the cross-structure invariants; tests call it after every step.
    pub fn check_invariants(&self) {
        self.sum.check_invariants();
        for (framework_id, framework) in &self.frameworks {
            for (executor_id, executor) in &framework.executors {
                assert_eq!(
                    self.containers.get(&executor.container_id),
                    Some(&(framework_id.clone(), executor_id.clone())),
                    "container map disagrees for executor {executor_id}"
                );
                for task_id in &executor.queued {
                    let task = executor.tasks.get(task_id).unwrap_or_else(|| {
                        panic!("queued task {task_id} missing from executor {executor_id}")
                    });
                    assert!(!task.delivered, "queued task {task_id} marked delivered");
                }
                if matches!(executor.state, ExecutorState::Running) {
                    assert!(
                        executor.queued.is_empty(),
                        "running executor {executor_id} has queued tasks"
                    );
                }
                for (task_id, task) in &executor.tasks {
                    assert_eq!(&TaskId(task.info.task_id.value.clone()), task_id);
                    if !task.delivered {
                        assert!(
                            task.is_terminal() || executor.queued.contains(task_id),
                            "undelivered live task {task_id} not queued"
                        );
                    }
                }
                if executor.state == ExecutorState::Terminated {
                    assert!(
                        executor.live_tasks().next().is_none() || framework.terminating,
                        "terminated executor {executor_id} has live tasks"
                    );
                }
            }
        }
        for (container_id, (framework_id, executor_id)) in &self.containers {
            let found = self
                .frameworks
                .get(framework_id)
                .and_then(|f| f.executors.get(executor_id))
                .is_some_and(|e| &e.container_id == container_id);
            assert!(found, "container {container_id} has no executor");
        }
    }

    // ---- shared paths -------------------------------------------------------------------

    fn new_uuid(&mut self) -> Vec<u8> {
        self.uuids.next_bytes().to_vec()
    }

    fn agent_id_or_empty(&self) -> String {
        self.agent_id.clone().unwrap_or_default()
    }

    fn find_task(
        &self,
        framework_id: &FrameworkId,
        task_id: &TaskId,
    ) -> Option<(&ExecutorId, &Executor, &Task)> {
        let framework = self.frameworks.get(framework_id)?;
        framework
            .executors
            .iter()
            .find_map(|(eid, e)| e.tasks.get(task_id).map(|t| (eid, e, t)))
    }

    /// Generates an update from the emission table for a task and feeds it through the
    /// status update manager.
    fn generate(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        trigger: Trigger,
        detail: Option<&str>,
        out: &mut Vec<Effect>,
    ) {
        self.generate_for(now_ms, framework_id, task_id, trigger, detail, false, out);
    }

    /// [`Agent::generate`], with the framework's partition awareness when this agent does
    /// not know the framework.
    #[allow(clippy::too_many_arguments)]
    fn generate_for(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        task_id: &TaskId,
        trigger: Trigger,
        detail: Option<&str>,
        partition_aware_if_unknown: bool,
        out: &mut Vec<Effect>,
    ) {
        let framework = self.frameworks.get(framework_id);
        if framework.is_some_and(|f| f.terminating) {
            // Mesos sends nothing for a framework being torn down.
            return;
        }
        let partition_aware =
            framework.map_or(partition_aware_if_unknown, Framework::partition_aware);
        let found = self.find_task(framework_id, task_id);
        let current = found.map_or(TaskState::TaskStaging, |(_, _, t)| t.state);
        let executor_id = found.map(|(e, _, _)| e.clone());
        let limited_resources: Vec<v1::Resource> = match trigger {
            Trigger::ContainerLimitationMemory | Trigger::ContainerLimitationDisk => {
                let name = if trigger == Trigger::ContainerLimitationMemory {
                    "mem"
                } else {
                    "disk"
                };
                found
                    .map(|(_, _, t)| {
                        t.info
                            .resources
                            .iter()
                            .filter(|r| r.name == name)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let row = emission(trigger);
        let mut status = row.status(task_id.as_str(), partition_aware, current, detail);
        if matches!(
            trigger,
            Trigger::ContainerLimitationMemory | Trigger::ContainerLimitationDisk
        ) {
            status.limitation = Some(v1::TaskResourceLimitation {
                resources: limited_resources,
            });
        }
        status.uuid = Some(self.new_uuid());
        status.timestamp = Some(now_ms as f64 / 1000.0);
        status.agent_id = self.agent_id.clone().map(|value| v1::AgentId { value });
        status.executor_id = executor_id.map(|e| v1::ExecutorId { value: e.0 });
        self.accept_update(now_ms, framework_id, status, out);
    }

    /// Records an update on its task and queues it in the task's stream: the common path of
    /// executor and agent updates. Returns false for a duplicate.
    fn accept_update(
        &mut self,
        now_ms: u64,
        framework_id: &FrameworkId,
        mut status: v1::TaskStatus,
        out: &mut Vec<Effect>,
    ) -> bool {
        self.drain_rewrite(framework_id, &mut status);
        let task_id = TaskId(status.task_id.value.clone());
        let checkpoint = self
            .frameworks
            .get(framework_id)
            .is_some_and(Framework::checkpoint);
        let accepted = self.sum.update(now_ms, framework_id, status.clone());
        let sum::Accepted::Queued { seq, send } = accepted else {
            return false;
        };
        let agent_id = self.agent_id_or_empty();
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
        let mut resize = None;
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            for (executor_id, executor) in framework.executors.iter_mut() {
                if let Some(task) = executor.tasks.get_mut(&task_id) {
                    let ended = !task.is_terminal() && crate::task::state::is_terminal(state);
                    task.state = state;
                    task.last_status = Some(status.clone());
                    if checkpoint {
                        out.push(Effect::Checkpoint(CheckpointOp::PutTask(task.to_v1(
                            framework_id.as_str(),
                            Some(executor_id.as_str()),
                            &agent_id,
                        ))));
                    }
                    // A default executor's container shrinks when one of its tasks ends and
                    // others go on (a custom executor's own needs are unknown to the agent,
                    // so its container keeps what it had).
                    if ended
                        && executor.runs_task_groups()
                        && executor.state == ExecutorState::Running
                        && executor.live_tasks().next().is_some()
                    {
                        resize = Some(executor.container_update());
                    }
                    break;
                }
            }
        }
        out.extend(resize);
        if checkpoint {
            out.push(Effect::Checkpoint(CheckpointOp::PutUpdate {
                framework_id: framework_id.clone(),
                task_id: task_id.clone(),
                seq,
                status: status.clone(),
            }));
        }
        if send {
            self.send_update(framework_id, status, out);
        }
        true
    }

    /// Sends one update to the master with the task's latest state.
    fn send_update(
        &self,
        framework_id: &FrameworkId,
        status: v1::TaskStatus,
        out: &mut Vec<Effect>,
    ) {
        let task_id = TaskId(status.task_id.value.clone());
        let latest_state = self
            .find_task(framework_id, &task_id)
            .map(|(_, _, t)| t.state as i32)
            .or(Some(status.state));
        out.push(Effect::ToMaster(internal::AgentCall {
            r#type: Some(internal::agent_call::Type::StatusUpdate as i32),
            agent_id: self.agent_id.clone().map(|value| v1::AgentId { value }),
            status_update: Some(internal::agent_call::StatusUpdate {
                framework_id: v1::FrameworkId {
                    value: framework_id.0.clone(),
                },
                status,
                latest_state,
            }),
            ..Default::default()
        }));
    }
}
