//! The driver: one tokio task that owns the agent core, carries out its effects in the
//! project's order (commit checkpoints, then act), and owns the containers and executor
//! streams. Everything else talks to it over one bounded channel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use drover_core::agent::{
    Agent, CallError, ConnId, ContainerId, Effect, Input, LaunchSpec, RequestId, Snapshot,
};
use drover_core::task::emission::Trigger;
use drover_store::{Store, WriteBatch};
use drover_wire::codec::Encoding;
use drover_wire::{internal, v1};
use tokio::sync::{mpsc, oneshot, watch};

use crate::checkpoint;
use crate::containerizer::seam::{Kind, MesosRun, Record, Running};
use crate::containerizer::{
    self, CommandSpec, Container, ContainerSpec, Containerizer, IsolationFlags, Limits,
};
use crate::docker_task::DockerSettings;
use crate::gc;

/// How many inputs one step takes from the channel at most (one commit covers them all).
const MAX_BATCH: usize = 512;
/// Directories of earlier agent processes scheduled for GC at start, at most (the rest wait
/// for the next start; a work directory with more has bigger problems).
const MAX_STALE_DIRECTORIES: usize = 100_000;

/// Why an Executor API call was not accepted.
#[derive(Debug, Clone)]
pub enum CallRefusal {
    /// The core refused it.
    Call(CallError),
    /// The agent is still recovering (503).
    Recovering,
    /// The caller's token is for another container of the executor (403).
    Forbidden(String),
}

/// A message to the driver.
// Moved once through the channel; boxing the large input would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    /// An input for the core.
    Input(Input),
    /// An Executor API call; SUBSCRIBE brings its stream.
    ExecutorCall {
        /// The call.
        call: v1::executor::Call,
        /// The container the caller's token names (`--authenticate_http_executors`).
        container: Option<String>,
        /// The SUBSCRIBE stream and its encoding.
        stream: Option<(mpsc::Sender<Bytes>, Encoding)>,
        /// The answer.
        reply: oneshot::Sender<Result<(), CallRefusal>>,
    },
    /// The master session wants the REGISTER/REREGISTER call.
    RegistrationCall(oneshot::Sender<internal::AgentCall>),
    /// A container started.
    Launched {
        /// Its id.
        container_id: ContainerId,
        /// Its handle (of whichever containerizer runs it).
        run: Arc<dyn Running>,
        /// Disk quota in bytes (0: none).
        disk_quota_bytes: u64,
    },
    /// Time to measure sandboxes.
    DiskWatch,
    /// Time to measure the work directory's disk for `--gc_disk_headroom`.
    GcDiskCheck,
    /// Time for the usage resource estimator (`--resource_estimator=usage`).
    EstimateUsage,
}

/// What the driver shares with the HTTP handlers.
#[derive(Debug, Clone)]
pub struct Handle {
    /// Messages to the driver.
    pub tx: mpsc::Sender<Msg>,
    /// The latest snapshot of the core.
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    /// Container handles, for GET_CONTAINERS.
    pub containers: watch::Receiver<Arc<BTreeMap<ContainerId, Arc<Container>>>>,
}

/// Settings of the driver.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ip:port` executors reach the agent at.
    pub endpoint: String,
    /// The sandbox root.
    pub work_dir: PathBuf,
    /// Isolation containers ask for.
    pub isolation: IsolationFlags,
    /// `--enforce_container_disk_quota`.
    pub enforce_disk_quota: bool,
    /// Grace of the executor shutdown, as stout text for the executor's environment.
    pub shutdown_grace_text: String,
    /// `--executor_reregistration_timeout`, as text.
    pub reregistration_timeout_text: String,
    /// Brings `CommandInfo.uris` into the sandbox before the executor starts.
    pub fetcher: Arc<crate::fetcher::Fetcher>,
    /// `--containerizers`, in order.
    pub containerizers: Vec<Kind>,
    /// The Docker containerizer, when `docker` is among them.
    pub docker: Option<Arc<DockerSettings>>,
    /// Signs each executor's token (`--executor_secret_key`).
    pub executor_keys: Option<Arc<crate::executor_auth::Keys>>,
    /// `--secrets_dir`: where `REFERENCE` secrets are read from.
    pub secrets_dir: Option<PathBuf>,
    /// Nested containers and containers' terminals (their I/O switchboards).
    pub nested: Arc<crate::nested::Nested>,
    /// Container images of the Mesos containerizer (`--image_providers=docker`).
    pub provisioner: Option<Arc<crate::provisioner::Provisioner>>,
}

struct ContainerEntry {
    run: Arc<dyn Running>,
    disk_quota_bytes: u64,
}

/// The driver's state.
pub struct Driver {
    core: Agent,
    store: Arc<dyn Store>,
    containerizer: Arc<Containerizer>,
    settings: Settings,
    tx: mpsc::Sender<Msg>,
    started: Instant,
    /// Wall-clock ms since the epoch at `started`: the core's clock is this plus the monotonic
    /// time since, so the statuses it stamps carry Unix time (as Mesos' do) while its timers
    /// never jump with the wall clock.
    epoch_at_start_ms: u64,
    conns: BTreeMap<ConnId, (mpsc::Sender<Bytes>, Encoding)>,
    next_conn: u64,
    replies: BTreeMap<RequestId, oneshot::Sender<Result<(), CallRefusal>>>,
    next_request: u64,
    containers: BTreeMap<ContainerId, ContainerEntry>,
    /// Launches still before their container exists (fetching, spawning): a kill meanwhile
    /// cancels the fetch through this sender.
    launching: BTreeMap<ContainerId, oneshot::Sender<()>>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    /// When `snapshot_tx` last got a fresh snapshot.
    published_at: Instant,
    containers_tx: watch::Sender<Arc<BTreeMap<ContainerId, Arc<Container>>>>,
    to_master: mpsc::Sender<internal::AgentCall>,
    session_start: Option<oneshot::Sender<()>>,
    /// The usage estimator's previous cpu samples.
    usage_samples: crate::oversubscription::UsageSamples,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// The oldest a published snapshot gets while inputs keep arriving.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(100);

/// What [`Driver::new`] hands back to `run`.
#[derive(Debug)]
pub struct Parts {
    /// For HTTP handlers and helpers.
    pub handle: Handle,
    /// Where the master session reads the calls to send.
    pub to_master_rx: mpsc::Receiver<internal::AgentCall>,
    /// Fires when recovery is complete and the session may start.
    pub session_start: oneshot::Receiver<()>,
}

impl Driver {
    /// A driver around `core` (not yet recovered).
    pub fn new(
        core: Agent,
        store: Arc<dyn Store>,
        containerizer: Arc<Containerizer>,
        settings: Settings,
    ) -> (Driver, mpsc::Receiver<Msg>, Parts) {
        let (tx, rx) = mpsc::channel(4096);
        let (snapshot_tx, snapshot) = watch::channel(Arc::new(core.snapshot()));
        let (containers_tx, containers) = watch::channel(Arc::new(BTreeMap::new()));
        let (to_master, to_master_rx) = mpsc::channel(4096);
        let (session_tx, session_start) = oneshot::channel();
        let driver = Driver {
            core,
            store,
            containerizer,
            settings,
            tx: tx.clone(),
            started: Instant::now(),
            epoch_at_start_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            conns: BTreeMap::new(),
            next_conn: 0,
            replies: BTreeMap::new(),
            next_request: 0,
            containers: BTreeMap::new(),
            launching: BTreeMap::new(),
            snapshot_tx,
            published_at: Instant::now(),
            containers_tx,
            to_master,
            session_start: Some(session_tx),
            usage_samples: Default::default(),
        };
        let parts = Parts {
            handle: Handle {
                tx,
                snapshot,
                containers,
            },
            to_master_rx,
            session_start,
        };
        (driver, rx, parts)
    }

    fn now_ms(&self) -> u64 {
        self.epoch_at_start_ms + self.started.elapsed().as_millis() as u64
    }

    /// Re-attaches to checkpointed containers and feeds the core its recovered state.
    pub async fn recover(&mut self, boot_id: &str) -> anyhow::Result<()> {
        // What earlier agent processes left is listed while the checkpoints are read and the
        // containers re-attached (nothing launches before recovery ends, so the listing is the
        // same); its result is fed to the core after the recovered state, as before.
        let work_dir = self.settings.work_dir.clone();
        let stale = tokio::task::spawn_blocking(move || {
            gc::stale_directories(&work_dir, MAX_STALE_DIRECTORIES)
        });
        let store = self.store.clone();
        let loaded =
            tokio::task::spawn_blocking(move || checkpoint::load(store.as_ref())).await??;
        let rebooted = loaded.boot_id.as_deref().is_some_and(|b| b != boot_id);
        let mut recovered = loaded.recovered;
        recovered.rebooted = rebooted;
        // A set: a thousand recovered containers made the lookups below quadratic.
        let mut alive_ids = std::collections::BTreeSet::new();
        let mut docker_adopted = std::collections::BTreeSet::new();
        for record in loaded.containers {
            let id = ContainerId(record.container_id().as_str().to_owned());
            if rebooted {
                continue;
            }
            let cp = match record {
                Record::Mesos(cp) => cp,
                Record::Docker(record) => {
                    let name = record.name.clone();
                    let docker = self.settings.docker.clone();
                    let tx = self.tx.clone();
                    let run =
                        crate::docker_task::wiring::recover_record(docker, record, &recovered, tx);
                    if let Some(run) = run.await {
                        docker_adopted.insert(name);
                        alive_ids.insert(id.clone());
                        self.adopt(id, run, 0);
                    }
                    continue;
                }
            };
            match self.containerizer.recover(cp) {
                Ok(container) if !container.has_exited() => {
                    alive_ids.insert(id.clone());
                    self.adopt(id, Arc::new(MesosRun(Arc::new(container))), 0);
                }
                Ok(container) => {
                    // Dead while we were away: clean its cgroups up.
                    tokio::spawn(async move {
                        let _ = container.destroy().await;
                    });
                }
                Err(error) => {
                    tracing::warn!(container_id = %id, error = %error, "re-attaching container")
                }
            }
        }
        for executor in &mut recovered.executors {
            executor.alive = alive_ids.contains(&executor.container_id);
        }
        // Cgroups no checkpoint accounts for belong to executors of non-checkpointing
        // frameworks (or to a crash mid-launch): nothing will claim them.
        for orphan in self.containerizer.cgroup_container_ids() {
            if !alive_ids.contains(&ContainerId(orphan.as_str().to_owned())) {
                if !self
                    .containerizer
                    .owned_by(&orphan, &self.settings.work_dir)
                {
                    // Recovery runs once per process, so this is said once per container.
                    tracing::warn!(
                        container_id = %orphan,
                        "a container under this agent's cgroup root runs outside its work \
                         dir: another agent's (give each agent its own --cgroups_root); left \
                         alone"
                    );
                    continue;
                }
                tracing::info!(container_id = %orphan, "destroying orphan container");
                let _ = self.containerizer.destroy_orphan(&orphan).await;
            }
        }
        if let Some(provisioner) = &self.settings.provisioner {
            // Nested containers (recovered before this) keep their images' root filesystems.
            let alive: Vec<String> = alive_ids
                .iter()
                .map(|id| id.0.clone())
                .chain(self.settings.nested.list().iter().map(|e| e.id.clone()))
                .collect();
            provisioner.recover(&alive).await;
        }
        if rebooted {
            tracing::info!("the host rebooted since the last run: no executor is re-adopted");
        }
        if let Some(docker) = self.settings.docker.clone()
            && docker.kill_orphans
        {
            // Only re-adopted Docker tasks are known: this agent's other `mesos-*`
            // containers are orphans.
            crate::docker_task::wiring::sweep_orphans(&docker, &docker_adopted).await;
        }
        self.step(vec![Input::Recover(recovered)]).await;
        // What earlier agent processes left goes to GC by its age (the core keeps what a
        // recovered executor still uses).
        let stale = stale.await.unwrap_or_default();
        if !stale.is_empty() {
            tracing::info!(
                directories = stale.len(),
                "scheduling earlier sandboxes for GC"
            );
            self.step(vec![Input::StaleDirectories(stale)]).await;
        }
        self.publish_snapshot();
        // The new boot id is recorded with the next agent checkpoint; record it now so a
        // second restart in this boot is not taken for a reboot.
        if let Some(agent_id) = self.core.agent_id().map(str::to_owned) {
            let mut batch = WriteBatch::new();
            checkpoint::apply(
                &mut batch,
                &drover_core::agent::CheckpointOp::Agent {
                    agent_id,
                    boot_id: boot_id.to_owned(),
                },
            );
            self.commit(batch).await;
        }
        Ok(())
    }

    /// Runs until `rx` closes.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        loop {
            let deadline = self.core.next_deadline();
            let sleep = async {
                match deadline {
                    Some(t) => {
                        let now = self.now_ms();
                        tokio::time::sleep(Duration::from_millis(t.saturating_sub(now))).await
                    }
                    None => std::future::pending().await,
                }
            };
            let mut msgs = Vec::new();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => msgs.push(msg),
                    None => return,
                },
                _ = sleep => {}
            }
            while msgs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => msgs.push(msg),
                    Err(_) => break,
                }
            }
            let mut inputs = vec![Input::Tick];
            for msg in msgs {
                self.prepare(msg, &mut inputs);
            }
            self.step(inputs).await;
            // A snapshot copies every task: rebuilt once a burst of inputs is drained (and at
            // least every SNAPSHOT_MAX_AGE during a long one), not after every step. A
            // thousand executors resubscribing after a restart made it O(tasks²).
            if rx.is_empty() || self.published_at.elapsed() >= SNAPSHOT_MAX_AGE {
                self.publish_snapshot();
            }
        }
    }

    /// Publishes the core's current state to readers (`/state`, metrics, the operator API).
    fn publish_snapshot(&mut self) {
        self.snapshot_tx
            .send_replace(Arc::new(self.core.snapshot()));
        self.published_at = Instant::now();
    }

    /// Turns a message into core inputs (or handles it directly).
    fn prepare(&mut self, msg: Msg, inputs: &mut Vec<Input>) {
        match msg {
            Msg::Input(input) => {
                if let Input::ContainerLaunchFailed { container_id, .. } = &input {
                    self.launching.remove(container_id);
                }
                inputs.push(input);
            }
            Msg::RegistrationCall(reply) => {
                let _ = reply.send(self.core.registration_call(env!("CARGO_PKG_VERSION")));
            }
            Msg::Launched {
                container_id,
                run,
                disk_quota_bytes,
            } => {
                let mut batch = WriteBatch::new();
                checkpoint::put_container(&mut batch, &run.record());
                // Small and rare next to status updates; a failure only costs the
                // re-attach after a restart.
                if let Err(error) = self.store.commit(batch) {
                    tracing::error!(container_id = %container_id, error = %error, "checkpointing container");
                }
                self.launching.remove(&container_id);
                self.adopt(container_id.clone(), run, disk_quota_bytes);
                inputs.push(Input::ContainerLaunched(container_id));
            }
            Msg::ExecutorCall {
                call,
                container,
                stream,
                reply,
            } => {
                if let Some(container) = container
                    && let Some(current) = self.executor_container(&call)
                    && current != container
                {
                    let _ = reply.send(Err(CallRefusal::Forbidden(format!(
                        "The token is for container '{container}', not the executor's current one"
                    ))));
                    return;
                }
                let subscribe = call.r#type == Some(v1::executor::call::Type::Subscribe as i32);
                if !subscribe && !self.core.is_recovered() {
                    let _ = reply.send(Err(CallRefusal::Recovering));
                    return;
                }
                if let Some(update) = &call.update {
                    self.check_oom_before_terminal(&call, &update.status, inputs);
                }
                self.next_request += 1;
                let request = RequestId(self.next_request);
                self.replies.insert(request, reply);
                let conn = stream.map(|(sender, encoding)| {
                    self.next_conn += 1;
                    let conn = ConnId(self.next_conn);
                    let watcher = sender.clone();
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        watcher.closed().await;
                        let _ = tx.send(Msg::Input(Input::ExecutorDisconnected(conn))).await;
                    });
                    self.conns.insert(conn, (sender, encoding));
                    conn
                });
                inputs.push(Input::ExecutorCall {
                    request,
                    conn,
                    call,
                });
            }
            Msg::DiskWatch => self.watch_disks(),
            Msg::EstimateUsage => self.estimate_usage(inputs),
            Msg::GcDiskCheck => {
                let (work_dir, tx) = (self.settings.work_dir.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let usage = tokio::task::spawn_blocking(move || gc::disk_usage(&work_dir));
                    match usage.await {
                        Ok(Ok(usage)) => {
                            let _ = tx.send(Msg::Input(Input::DiskUsage(usage))).await;
                        }
                        Ok(Err(error)) => tracing::warn!(%error, "measuring the disk for GC"),
                        Err(_) => {}
                    }
                });
            }
        }
    }

    /// A terminal update from an executor whose container's memory cgroup saw an OOM kill:
    /// the limitation is reported first, so the task ends with the memory reason rather
    /// than the executor's plain failure (spec §10's race).
    /// The current container of the executor a call comes from, if the agent knows it.
    fn executor_container(&self, call: &v1::executor::Call) -> Option<String> {
        self.core
            .frameworks()
            .get(&drover_core::agent::FrameworkId(
                call.framework_id.value.clone(),
            ))?
            .executors
            .get(&drover_core::agent::ExecutorId(
                call.executor_id.value.clone(),
            ))
            .map(|e| e.container_id.0.clone())
    }

    fn check_oom_before_terminal(
        &self,
        call: &v1::executor::Call,
        status: &v1::TaskStatus,
        inputs: &mut Vec<Input>,
    ) {
        let terminal = drover_core::task::TaskState::try_from(status.state)
            .is_ok_and(drover_core::task::state::is_terminal);
        if !terminal {
            return;
        }
        let container_id = self
            .core
            .executor_container(&call.framework_id.value, &call.executor_id.value)
            .map(|id| ContainerId(id.to_owned()));
        let Some(container_id) = container_id else {
            return;
        };
        let Some(entry) = self.containers.get(&container_id) else {
            return;
        };
        let stats = entry.run.stats();
        if stats.oom_kills.unwrap_or(0) > 0 {
            let mb = |b: Option<u64>| {
                b.map_or("unknown".to_owned(), |b| format!("{}MB", b / (1024 * 1024)))
            };
            inputs.push(Input::ContainerLimited {
                container_id,
                trigger: Trigger::ContainerLimitationMemory,
                message: format!(
                    "Memory limit exceeded: Requested: {} Maximum Used: {}",
                    mb(stats.mem_limit_bytes),
                    mb(stats.mem_max_usage_bytes)
                ),
            });
        }
    }

    /// The usage estimator: what each running container on non-revocable resources was
    /// given (its executor's and live tasks' cpus and mem) and does not use, summed.
    fn estimate_usage(&mut self, inputs: &mut Vec<Input>) {
        let (mut cpus, mut mem) = (0.0, 0.0);
        let mut live = std::collections::BTreeSet::new();
        for framework in self.core.frameworks().values() {
            for executor in framework.executors.values() {
                let Some(entry) = self.containers.get(&executor.container_id) else {
                    continue;
                };
                let mut given = executor.info.resources.clone();
                for task in executor.tasks.values() {
                    if !drover_core::task::state::is_terminal(task.state) {
                        given.extend(task.info.resources.iter().cloned());
                    }
                }
                if given.iter().any(|r| r.revocable.is_some()) {
                    continue;
                }
                let id = executor.container_id.0.clone();
                let (c, m) = self.usage_samples.unused(
                    &id,
                    drover_core::resources::scalar(&given, "cpus"),
                    drover_core::resources::scalar(&given, "mem"),
                    &entry.run.stats(),
                );
                live.insert(id);
                cpus += c;
                mem += m;
            }
        }
        self.usage_samples.retain(&live);
        // Whole hundredths of a cpu and whole megabytes: noise does not make a new estimate.
        let cpus = (cpus * 100.0).floor() / 100.0;
        let mem = mem.floor();
        let mut estimate = Vec::new();
        if cpus > 0.0 {
            estimate.push(drover_core::resources::scalar_resource("cpus", cpus));
        }
        if mem > 0.0 {
            estimate.push(drover_core::resources::scalar_resource("mem", mem));
        }
        inputs.push(Input::Oversubscribed {
            estimate,
            total: false,
        });
    }

    fn watch_disks(&self) {
        if !self.settings.enforce_disk_quota {
            return;
        }
        for (id, entry) in &self.containers {
            if entry.disk_quota_bytes == 0 {
                continue;
            }
            let container = entry.run.clone();
            let quota = entry.disk_quota_bytes;
            let tx = self.tx.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let Ok(used) = container.sandbox_usage_bytes().await else {
                    return;
                };
                if used > quota {
                    let message = format!(
                        "Disk usage ({}MB) exceeds quota ({}MB)",
                        used / (1024 * 1024),
                        quota / (1024 * 1024)
                    );
                    let _ = tx
                        .send(Msg::Input(Input::ContainerLimited {
                            container_id: id,
                            trigger: Trigger::ContainerLimitationDisk,
                            message,
                        }))
                        .await;
                }
            });
        }
    }

    /// Keeps a container's handle and reports its end (after destroying what is left).
    fn adopt(&mut self, id: ContainerId, container: Arc<dyn Running>, disk_quota_bytes: u64) {
        self.containers.insert(
            id.clone(),
            ContainerEntry {
                run: container.clone(),
                disk_quota_bytes,
            },
        );
        self.publish_containers();
        let tx = self.tx.clone();
        let nested = self.settings.nested.clone();
        let provisioner = self.settings.provisioner.clone();
        tokio::spawn(async move {
            let termination = container.wait().await;
            if let Err(error) = container.destroy().await {
                tracing::warn!(container_id = %id, error = %error, "destroying container");
            }
            if let Some(provisioner) = provisioner {
                provisioner.destroy(id.as_str()).await;
                // Its nested containers' images go with it, removed by their executor or not.
                for entry in nested.list().iter().filter(|e| e.parent == id.as_str()) {
                    provisioner.destroy(&entry.id).await;
                }
            }
            nested.forget_terminal(id.as_str());
            let _ = tx
                .send(Msg::Input(Input::ContainerTerminated {
                    container_id: id,
                    message: termination.message,
                    oom_killed: termination.oom_killed,
                }))
                .await;
        });
    }

    fn publish_containers(&self) {
        let map = self
            .containers
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.run.mesos()?)))
            .collect();
        self.containers_tx.send_replace(Arc::new(map));
    }

    /// One step: the core decides on every input, the checkpoints commit together, then the
    /// other effects run.
    async fn step(&mut self, inputs: Vec<Input>) {
        let now = self.now_ms();
        let mut effects = Vec::new();
        for input in inputs {
            if let Input::ContainerTerminated { container_id, .. } = &input {
                self.containers.remove(container_id);
                self.publish_containers();
            }
            effects.extend(self.core.handle(now, input));
        }
        let mut batch = WriteBatch::new();
        for effect in &effects {
            if let Effect::Checkpoint(op) = effect {
                checkpoint::apply(&mut batch, op);
            }
        }
        if !batch.is_empty() {
            self.commit(batch).await;
        }
        for effect in effects {
            self.execute(effect);
        }
    }

    async fn commit(&self, batch: WriteBatch) {
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || store.commit(batch)).await;
        match result {
            Ok(Ok(_)) => {}
            // Acting on state that is not durable would break the restart guarantees; an
            // agent that cannot write its checkpoints must stop.
            Ok(Err(error)) => panic!("committing agent checkpoints failed: {error}"),
            Err(error) => panic!("checkpoint commit task failed: {error}"),
        }
    }

    fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::Checkpoint(_) => {}
            Effect::Launch(spec) => self.launch(spec),
            Effect::Kill {
                container_id,
                grace_ms,
            } => {
                let grace = Duration::from_millis(grace_ms);
                match self.containers.get(&container_id) {
                    Some(entry) => {
                        let container = entry.run.clone();
                        tokio::spawn(async move {
                            if let Err(error) = container.kill(grace).await {
                                tracing::warn!(error = %error, "killing container");
                            }
                        });
                    }
                    None => {
                        // Still fetching: stop the download; the launch then fails and
                        // nothing starts.
                        if let Some(cancel) = self.launching.remove(&container_id) {
                            let _ = cancel.send(());
                        }
                        if let Some(docker) = self.settings.docker.clone() {
                            // A Docker launch may have created its container meanwhile.
                            let name = format!(
                                "{}{}",
                                containerizer::docker::spec::NAME_PREFIX,
                                container_id.0
                            );
                            tokio::spawn(async move {
                                if let Ok(client) = docker.client() {
                                    let _ = client.remove(&name).await;
                                }
                            });
                        }
                        let containerizer = self.containerizer.clone();
                        if let Ok(id) = containerizer::ContainerId::new(container_id.0) {
                            tokio::spawn(async move {
                                let _ = containerizer.destroy_orphan(&id).await;
                            });
                        }
                    }
                }
            }
            Effect::UpdateContainer {
                container_id,
                cpus,
                mem_mb,
            } => {
                // Only this agent's process containers have cgroups to resize (task groups run
                // in one); a Docker container keeps what it was started with.
                let Some(container) = self
                    .containers
                    .get(&container_id)
                    .and_then(|entry| entry.run.mesos())
                else {
                    return;
                };
                let limits = containerizer::Limits {
                    cpus,
                    mem_mb: mem_mb.max(0.0).round() as u64,
                    disk_mb: 0,
                    max_pids: None,
                };
                let cfs = self.settings.isolation.cfs;
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if let Err(error) = container.update(limits, cfs).await {
                        tracing::warn!(container_id = %container_id.0, %error, "container resource update failed");
                        let _ = tx
                            .send(Msg::Input(Input::ContainerLimited {
                                container_id,
                                trigger: Trigger::ContainerUpdateFailed,
                                message: format!(
                                    "Failed to update the container's resources: {error}"
                                ),
                            }))
                            .await;
                    }
                });
            }
            Effect::ToMaster(mut call) => {
                if let Some(update) = call.status_update.as_mut() {
                    fill_host_network(&mut update.status, &self.settings.endpoint);
                }
                if self.to_master.try_send(call).is_err() {
                    // The update manager resends; other calls are best effort.
                    tracing::warn!("master call queue full; dropping a call");
                }
            }
            Effect::ToExecutor { conn, event } => {
                if let Some((sender, encoding)) = self.conns.get(&conn) {
                    let bytes = drover_http::server::encode_message(&event, *encoding);
                    if sender.try_send(bytes).is_err() {
                        tracing::warn!(conn = conn.0, "executor stream full or closed; closing it");
                        self.conns.remove(&conn);
                    }
                }
            }
            Effect::CloseExecutor(conn) => {
                self.conns.remove(&conn);
            }
            Effect::Reply { request, result } => {
                if let Some(reply) = self.replies.remove(&request) {
                    let _ = reply.send(result.map_err(CallRefusal::Call));
                }
            }
            Effect::RemoveDirectories(paths) => {
                let (work_dir, tx) = (self.settings.work_dir.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let done = paths.clone();
                    let removal = tokio::task::spawn_blocking(move || {
                        gc::remove_directories(&work_dir, &paths);
                    });
                    let _ = removal.await;
                    for path in done {
                        let _ = tx.send(Msg::Input(Input::DirectoryRemoved(path))).await;
                    }
                });
            }
            Effect::SyncVolumes(dirs) => {
                // Created here, before any launch of this step can use them; deletions (a
                // DESTROY) may be large and run off the driver.
                let root = drover_core::agent::volumes::volumes_root(
                    &self.settings.work_dir.display().to_string(),
                );
                let stale = crate::volumes::sync(Path::new(&root), &dirs);
                if !stale.is_empty() {
                    tokio::task::spawn_blocking(move || crate::volumes::remove(&stale));
                }
            }
            Effect::StartMasterSession => {
                if let Some(start) = self.session_start.take() {
                    tracing::info!("recovery done; registering with the master");
                    let _ = start.send(());
                }
            }
        }
    }

    fn launch(&mut self, spec: LaunchSpec) {
        let containerizer = self.containerizer.clone();
        let tx = self.tx.clone();
        let mut env = crate::env::executor_environment(
            &spec,
            &self.settings,
            self.core.agent_id().unwrap_or(""),
        );
        // Secrets go into the container's environment (and secret files are read) before
        // anything starts; one that cannot be resolved fails the launch, naming it (never its
        // value).
        let store = self.settings.secrets_dir.as_deref();
        let resolved = (|| -> Result<Vec<(String, Vec<u8>)>, String> {
            for (name, secret) in &spec.secret_env {
                let value = crate::secrets::resolve(store, name, secret)?;
                env.retain(|(k, _)| k != name);
                env.push((name.clone(), value));
            }
            spec.secret_files
                .iter()
                .map(|(path, secret)| {
                    let what = format!("secret file '{path}'");
                    crate::secrets::resolve_bytes(store, &what, secret).map(|b| (path.clone(), b))
                })
                .collect()
        })();
        let secret_files = match resolved {
            Ok(files) => files,
            Err(message) => {
                fail_launch(tx, spec.container_id.clone(), message);
                return;
            }
        };
        let kind = match crate::docker_task::wiring::pick(&self.settings, &spec) {
            Ok(kind) => kind,
            Err(message) => {
                fail_launch(tx, spec.container_id.clone(), message);
                return;
            }
        };
        let isolation = self.settings.isolation;
        // A Docker image on the Mesos containerizer (UCR): the command executor stays in the
        // host's filesystem and starts the task in the image's (Mesos' `--rootfs`).
        let image = spec
            .executor_info
            .container
            .as_ref()
            .filter(|c| c.r#type == v1::container_info::Type::Mesos as i32)
            .and_then(|c| c.mesos.as_ref())
            .and_then(|m| m.image.clone());
        let provisioner = self.settings.provisioner.clone();
        let secrets_dir = self.settings.secrets_dir.clone();
        if image.is_some() {
            let refusal = if provisioner.is_none() {
                Some(
                    "Unsupported container.mesos.image: container images are not enabled on \
                     this agent (start it with --image_providers=docker)"
                        .to_owned(),
                )
            } else if !spec.command_executor {
                Some(
                    "Unsupported container.mesos.image: an executor's own container image is \
                     not supported; images run command tasks and task-group tasks"
                        .to_owned(),
                )
            } else if let Err(why) = self.containerizer.isolation().pid_namespace() {
                Some(format!(
                    "a container image needs a mount namespace, which this agent cannot create: \
                     {why}"
                ))
            } else if !isolation.pid_namespace {
                Some("a container image needs the agent's namespace isolation".to_owned())
            } else {
                None
            };
            if let Some(message) = refusal {
                fail_launch(tx, spec.container_id.clone(), message);
                return;
            }
        }
        // A command container (no image, not Docker) with its own mount namespace gets its
        // persistent volumes as bind mounts made inside that namespace (Mesos'
        // `filesystem/linux`); without one, as links (`filesystem/posix`).
        let bind_volumes = kind.is_none()
            && image.is_none()
            && isolation.pid_namespace
            && self.containerizer.isolation().pid_namespace().is_ok();
        // A Docker container gets its persistent volumes as binds the daemon makes onto mount
        // points in the sandbox (a link would lead to a path that is not in the container).
        let volume_mount_points = bind_volumes || kind.is_some();
        let fetcher = self.settings.fetcher.clone();
        let nested = self.settings.nested.clone();
        let (cancel_tx, mut cancel_rx) = oneshot::channel();
        self.launching.insert(spec.container_id.clone(), cancel_tx);
        let enforce_disk_quota = self.settings.enforce_disk_quota;
        tokio::spawn(async move {
            let container_id = spec.container_id.clone();
            let failed = |message: String| {
                Msg::Input(Input::ContainerLaunchFailed {
                    container_id: container_id.clone(),
                    message,
                })
            };
            let command = spec.executor_info.command.clone().unwrap_or_default();
            let mut command = if command.shell.unwrap_or(true) {
                CommandSpec::Shell(command.value.unwrap_or_default())
            } else {
                CommandSpec::Argv {
                    value: command.value.unwrap_or_default(),
                    arguments: command.arguments,
                }
            };
            let id = match containerizer::ContainerId::new(container_id.0.clone()) {
                Ok(id) => id,
                Err(error) => {
                    let _ = tx.send(failed(error.to_string())).await;
                    return;
                }
            };
            // Persistent volumes first, so nothing fetched can stand where a volume goes (a
            // link, or the mount point the container's init or the Docker daemon binds the
            // volume onto). With an image they are bind mounts made by `rootfs-launch` instead
            // (below).
            if image.is_none() && !spec.persistent_volumes.is_empty() {
                let (sandbox, user) = (PathBuf::from(&spec.directory), spec.user.clone());
                let volumes = spec.persistent_volumes.clone();
                let appearance = if volume_mount_points {
                    crate::volumes::Appearance::MountPoint
                } else {
                    crate::volumes::Appearance::Link
                };
                let linked = tokio::task::spawn_blocking(move || -> Result<(), String> {
                    let owner = owner_of(user.as_deref())?;
                    for volume in &volumes {
                        crate::volumes::prepare(
                            &sandbox,
                            &volume.container_path,
                            &volume.dir,
                            owner,
                            appearance,
                        )?;
                    }
                    Ok(())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                if let Err(message) = linked {
                    let _ = tx.send(failed(message)).await;
                    return;
                }
            }
            let disk_quota_bytes = (spec.disk_mb * 1024.0 * 1024.0) as u64;
            let quota = (enforce_disk_quota && disk_quota_bytes > 0).then_some(disk_quota_bytes);
            let fetched = tokio::select! {
                fetched = fetch(&fetcher, &spec, quota) => fetched,
                // Only an explicit kill cancels (a dropped sender means the launch moved on).
                Ok(()) = &mut cancel_rx => {
                    let message = "the container was killed while fetching".to_owned();
                    crate::fetcher::report(Path::new(&spec.directory), &message).await;
                    Err(message)
                }
            };
            if let Err(message) = fetched {
                let _ = tx.send(failed(message)).await;
                return;
            }
            if !secret_files.is_empty() {
                let (sandbox, user) = (PathBuf::from(&spec.directory), spec.user.clone());
                let written = tokio::task::spawn_blocking(move || -> Result<(), String> {
                    let owner = owner_of(user.as_deref())?;
                    for (path, bytes) in &secret_files {
                        crate::secrets::write_file(&sandbox, path, bytes, owner)?;
                    }
                    Ok(())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                if let Err(message) = written {
                    let _ = tx.send(failed(message)).await;
                    return;
                }
            }
            let mut user = spec.user.clone();
            if let (Some(image), Some(provisioner)) = (&image, &provisioner) {
                let mut container = spec.executor_info.container.clone().unwrap_or_default();
                // Persistent volumes are bind mounts at their sandbox-relative paths.
                for volume in &spec.persistent_volumes {
                    let mode = if volume.read_only {
                        v1::volume::Mode::Ro
                    } else {
                        v1::volume::Mode::Rw
                    };
                    container.volumes.push(v1::Volume {
                        container_path: volume.container_path.clone(),
                        host_path: Some(volume.dir.clone()),
                        mode: mode as i32,
                        ..Default::default()
                    });
                }
                let prepared = tokio::select! {
                    prepared = crate::provisioner::launch::prepare(
                        provisioner,
                        crate::provisioner::launch::Request {
                            id: &container_id.0,
                            sandbox: Path::new(&spec.directory),
                            user: spec.user.as_deref(),
                            container: &container,
                            image,
                            secrets_dir: secrets_dir.as_deref(),
                            nested: false,
                        },
                        &mut env,
                    ) => prepared,
                    Ok(()) = &mut cancel_rx => {
                        Err("the container was killed while its image was provisioned".to_owned())
                    }
                };
                match prepared {
                    Ok(config) => {
                        if let CommandSpec::Argv { arguments, .. } = &mut command {
                            arguments.push("--task_rootfs_config".to_owned());
                            arguments.push(config.display().to_string());
                        }
                        // The executor mounts and pivots for its task: it runs as root, the
                        // task as its user (Mesos ran such a command executor as root too).
                        user = None;
                    }
                    Err(message) => {
                        provisioner.destroy(&container_id.0).await;
                        let _ = tx.send(failed(message)).await;
                        return;
                    }
                }
            }
            if let Some(docker) = kind {
                let launched = tokio::select! {
                    launched = crate::docker_task::launch(docker, &spec, env, tx.clone()) => launched,
                    Ok(()) = &mut cancel_rx => Err("the container was killed while its image was pulled".to_owned()),
                };
                if let Err(message) = launched {
                    let _ = tx.send(failed(message)).await;
                }
                return;
            }
            // A TTY (`container.tty_info`; a command task's container is its executor's): the
            // container's stdio is a terminal owned by an I/O switchboard, which logs it into
            // the sandbox and serves attach sessions. If the switchboard dies, the container
            // is destroyed as Mesos did (REASON_IO_SWITCHBOARD_EXITED).
            let tty = spec
                .executor_info
                .container
                .as_ref()
                .and_then(|c| c.tty_info.as_ref())
                .map(|t| {
                    t.window_size.as_ref().map_or((24, 80), |w| {
                        (
                            w.rows.clamp(1, u16::MAX.into()) as u16,
                            w.columns.clamp(1, u16::MAX.into()) as u16,
                        )
                    })
                });
            let terminal = match tty {
                None => None,
                Some(size) => {
                    let died_tx = tx.clone();
                    let died_id = container_id.clone();
                    let died = move |message: String| {
                        tokio::spawn(async move {
                            let _ = died_tx
                                .send(Msg::Input(Input::ContainerLimited {
                                    container_id: died_id,
                                    trigger: Trigger::IoSwitchboardExited,
                                    message,
                                }))
                                .await;
                        });
                    };
                    match nested
                        .start_terminal(&container_id.0, Path::new(&spec.directory), size, died)
                        .await
                    {
                        Ok(slave) => Some(Arc::new(slave)),
                        Err(message) => {
                            let _ = tx.send(failed(message)).await;
                            return;
                        }
                    }
                }
            };
            let container_spec = ContainerSpec {
                container_id: id,
                sandbox_dir: PathBuf::from(&spec.directory),
                command,
                env,
                terminal,
                user,
                limits: Limits {
                    cpus: spec.cpus,
                    mem_mb: spec.mem_mb as u64,
                    disk_mb: spec.disk_mb as u64,
                    max_pids: None,
                },
                isolation,
                volumes: if bind_volumes {
                    spec.persistent_volumes
                        .iter()
                        .map(|v| containerizer::VolumeMount {
                            source: PathBuf::from(&v.dir),
                            container_path: v.container_path.clone(),
                            read_only: v.read_only,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            };
            match containerizer.launch(container_spec).await {
                Ok(container) => {
                    let _ = tx
                        .send(Msg::Launched {
                            container_id,
                            run: Arc::new(MesosRun(Arc::new(container))),
                            disk_quota_bytes,
                        })
                        .await;
                }
                Err(error) => {
                    if let Some(provisioner) = &provisioner {
                        provisioner.destroy(&container_id.0).await;
                    }
                    let message = format!("{:#}", anyhow::Error::new(error));
                    let _ = tx.send(failed(message)).await;
                }
            }
        });
    }
}

/// The uid and gid files made for a container belong to: its user's, or `None` (root's).
fn owner_of(user: Option<&str>) -> Result<Option<(u32, u32)>, String> {
    let Some(user) = user else {
        return Ok(None);
    };
    let info =
        containerizer::lookup_user(user).map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
    Ok(Some((info.uid, info.gid)))
}

/// Reports a launch that failed before its container started (TASK_FAILED /
/// REASON_CONTAINER_LAUNCH_FAILED with `message`, through the core).
fn fail_launch(tx: mpsc::Sender<Msg>, container_id: ContainerId, message: String) {
    tokio::spawn(async move {
        let _ = tx
            .send(Msg::Input(Input::ContainerLaunchFailed {
                container_id,
                message,
            }))
            .await;
    });
}

/// Runs the fetcher for a launch's URIs (the executor's; for a command task the core copied the
/// task's there, as Mesos did) into the sandbox, and a task group's tasks' URIs into their own
/// sandboxes (`tasks/<task id>`), as the task's user.
async fn fetch(
    fetcher: &crate::fetcher::Fetcher,
    spec: &LaunchSpec,
    quota_bytes: Option<u64>,
) -> Result<(), String> {
    let sandbox = PathBuf::from(&spec.directory);
    let mut work: Vec<(PathBuf, &[v1::command_info::Uri])> = Vec::new();
    if let Some(command) = &spec.executor_info.command
        && !command.uris.is_empty()
    {
        work.push((sandbox.clone(), &command.uris));
    }
    for (task_id, uris) in &spec.task_uris {
        work.push((sandbox.join("tasks").join(task_id), uris));
    }
    if work.is_empty() {
        return Ok(());
    }
    let owner = match spec.user.clone() {
        Some(user) => {
            let info = tokio::task::spawn_blocking(move || containerizer::lookup_user(&user))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
            Some(crate::fetcher::Owner {
                uid: info.uid,
                gid: info.gid,
                groups: info.groups,
            })
        }
        None => None,
    };
    for (dir, uris) in work {
        fetcher
            .fetch(crate::fetcher::FetchRequest {
                uris,
                sandbox: &dir,
                user: spec.user.as_deref(),
                owner: owner.as_ref(),
                quota_bytes,
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// As Mesos' agent did: an update whose container reports no network of its own (a host-networked
/// task) names the agent's address as the task's IP, so schedulers can show `ipAddresses`.
fn fill_host_network(status: &mut v1::TaskStatus, endpoint: &str) {
    let Some(ip) = endpoint
        .rsplit_once(':')
        .and_then(|(ip, _)| ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
    else {
        return;
    };
    let container = status.container_status.get_or_insert_with(Default::default);
    if container.network_infos.is_empty() {
        container.network_infos.push(v1::NetworkInfo {
            ip_addresses: vec![v1::network_info::IpAddress {
                ip_address: Some(ip.to_string()),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod host_network_tests {
    use super::*;

    #[test]
    fn host_networked_updates_name_the_agent_ip_and_keep_a_container_own() {
        let mut status = v1::TaskStatus::default();
        fill_host_network(&mut status, "10.1.2.3:5051");
        let infos = &status
            .container_status
            .as_ref()
            .expect("filled")
            .network_infos;
        assert_eq!(infos.len(), 1);
        assert_eq!(
            infos[0].ip_addresses[0].ip_address.as_deref(),
            Some("10.1.2.3")
        );

        let mut own = status.clone();
        own.container_status.as_mut().expect("set").network_infos[0].ip_addresses[0].ip_address =
            Some("172.17.0.2".into());
        fill_host_network(&mut own, "10.1.2.3:5051");
        let infos = &own.container_status.as_ref().expect("kept").network_infos;
        assert_eq!(infos.len(), 1);
        assert_eq!(
            infos[0].ip_addresses[0].ip_address.as_deref(),
            Some("172.17.0.2")
        );

        let mut unbound = v1::TaskStatus::default();
        fill_host_network(&mut unbound, "0.0.0.0:5051");
        assert!(unbound.container_status.is_none());
    }
}
