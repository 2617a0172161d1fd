//! Simulated agents: thousands of light agents in one process, each speaking the real
//! master–agent protocol (`drover.internal`, protobuf) to a real master over loopback, without
//! starting any process.
//!
//! Each agent is one tokio task that POSTs `REGISTER` (or `REREGISTER` with every task it still
//! knows) and keeps the response open as its session stream. On `RUN_TASK` it queues the
//! updates a real agent's command executor would send, `TASK_STARTING` then `TASK_RUNNING`,
//! each with a fresh uuid and `SOURCE_EXECUTOR`, and sends them one at a time per task like the
//! status update manager: the next only after the head is acknowledged, the head again every
//! 10 s until it is. Like the real agent, an agent has one call of status updates in flight at
//! a time; whatever becomes ready meanwhile goes in its next call (`STATUS_UPDATES` when there
//! are several). `PING` gets a `PONG`, `KILL_TASK` and `SHUTDOWN_FRAMEWORK` a `TASK_KILLED`,
//! `UPDATE_FRAMEWORK` a resend of the pending heads. A broken session is re-established with
//! Mesos' random backoff `[0, factor·2^n]`.
//!
//! Every agent shares one HTTP client (one connection pool); calls other than the session go
//! through a fleet-wide concurrency limit, so 10,000 agents use 10,000 session connections and
//! a few dozen call connections. The harness controls agents with [`Control`]: cut one off
//! (a partition: it still reads its stream but answers nothing), seed tasks (for failover
//! benchmarks, as Mesos' own fake agents do), or emit extra `TASK_RUNNING` updates (for the
//! status-update pipeline benchmark).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use drover_http::Client;
use drover_wire::codec::APPLICATION_PROTOBUF;
use drover_wire::internal::agent_event::Type as EventType;
use drover_wire::internal::{AgentCall, AgentEvent, agent_call};
use drover_wire::v1;
use prost::Message;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Where the master serves the agent protocol.
pub const AGENT_PATH: &str = "/drover/internal/agent";
/// The status update manager's first retry interval (as the real agent).
pub const RETRY: Duration = Duration::from_secs(10);
/// Most status updates in one call.
const MAX_UPDATES_PER_CALL: usize = 1000;
const HEADERS: &[(&str, &str)] = &[
    ("Content-Type", APPLICATION_PROTOBUF),
    ("Accept", APPLICATION_PROTOBUF),
];

/// How to build a fleet.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `host:port` of the master.
    pub master: String,
    /// Number of agents.
    pub agents: usize,
    /// Each agent's resources, in Mesos' text form.
    pub resources: String,
    /// Calls (updates, pongs) in flight at once across the fleet.
    pub post_concurrency: usize,
    /// Base of the reconnect backoff (the agent's `--registration_backoff_factor`).
    pub backoff_factor: Duration,
    /// Agents started at once before waiting for them to register.
    pub start_batch: usize,
    /// The masters' ZooKeeper group: the agents follow its leader (as `--master=zk://…`).
    pub zk: Option<drover_coord::ZkUrl>,
}

impl FleetConfig {
    /// A fleet of `agents` on `master` with room for 1,000 small tasks each.
    pub fn new(master: impl Into<String>, agents: usize) -> FleetConfig {
        FleetConfig {
            master: master.into(),
            agents,
            resources: "cpus:1000;mem:1048576;disk:1048576".into(),
            post_concurrency: 48,
            backoff_factor: Duration::from_millis(100),
            start_batch: 500,
            zk: None,
        }
    }
}

/// Fleet-wide counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// `REGISTERED` events.
    pub registered: AtomicU64,
    /// `REREGISTERED` events.
    pub reregistered: AtomicU64,
    /// Sessions that ended.
    pub sessions_ended: AtomicU64,
    /// Tasks received in `RUN_TASK`.
    pub tasks_launched: AtomicU64,
    /// Tasks whose first `TASK_RUNNING` was acknowledged.
    pub running_acked: AtomicU64,
    /// Status updates sent (including resends).
    pub updates_sent: AtomicU64,
    /// Status updates acknowledged.
    pub updates_acked: AtomicU64,
    /// Calls that failed or were refused.
    pub post_errors: AtomicU64,
    /// Tasks killed.
    pub killed: AtomicU64,
    /// `PING`s answered.
    pub pongs: AtomicU64,
    /// Seed controls applied (the agent now reports the seeded tasks).
    pub seeded: AtomicU64,
}

impl Counters {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What the harness can tell an agent.
#[derive(Debug)]
pub enum Control {
    /// Cut the agent off (true) or heal it (false).
    Cut(bool),
    /// Queue one more `TASK_RUNNING` update on an idle running task.
    Emit,
    /// Pretend these tasks are running here, acknowledged (reported on reregistration).
    Seed {
        /// Their framework.
        framework: Box<v1::FrameworkInfo>,
        /// The tasks.
        tasks: Vec<v1::TaskInfo>,
    },
}

struct Shared {
    client: Client,
    /// Where the leading master serves the agent protocol; it changes when a ZooKeeper
    /// detector sees a new leader, which also wakes agents waiting to retry.
    url: tokio::sync::watch::Sender<Arc<str>>,
    calls: Semaphore,
    counters: Counters,
    churn: AtomicBool,
    backoff_factor: Duration,
}

/// The harness's handle on one agent.
#[derive(Debug)]
pub struct AgentHandle {
    control: mpsc::UnboundedSender<Control>,
    id: Arc<Mutex<Option<String>>>,
}

impl AgentHandle {
    /// Sends a control message.
    pub fn send(&self, control: Control) {
        let _ = self.control.send(control);
    }

    /// The agent id, once registered.
    pub fn id(&self) -> Option<String> {
        self.id.lock().expect("not poisoned").clone()
    }
}

/// A running fleet; dropping it stops every agent.
pub struct Fleet {
    shared: Arc<Shared>,
    /// The agents, in start order.
    pub agents: Vec<AgentHandle>,
    tasks: tokio::task::JoinSet<()>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("agents", &self.agents.len())
            .finish()
    }
}

impl Fleet {
    /// Starts the agents and waits until every one is registered.
    pub async fn start(config: FleetConfig) -> anyhow::Result<Fleet> {
        let resources = drover_core::resources::parse(&config.resources)
            .map_err(|e| anyhow::anyhow!("resources: {e:?}"))?;
        let client = Client::new().with_timeout(Duration::from_secs(60));
        let (url, _) = tokio::sync::watch::channel(Arc::<str>::from(format!(
            "http://{}{AGENT_PATH}",
            config.master
        )));
        let shared = Arc::new(Shared {
            client,
            url,
            calls: Semaphore::new(config.post_concurrency.max(1)),
            counters: Counters::default(),
            churn: AtomicBool::new(false),
            backoff_factor: config.backoff_factor,
        });
        let mut fleet = Fleet {
            shared,
            agents: Vec::with_capacity(config.agents),
            tasks: tokio::task::JoinSet::new(),
        };
        if let Some(zk) = config.zk.clone() {
            let mut leader = drover_coord::detector::leading_master(zk);
            let shared = fleet.shared.clone();
            fleet.tasks.spawn(async move {
                loop {
                    let current = leader.borrow_and_update().clone();
                    if let Some(address) = current {
                        let url = Arc::<str>::from(format!("http://{address}{AGENT_PATH}"));
                        shared.url.send_if_modified(|old| {
                            let changed = *old != url;
                            *old = url.clone();
                            changed
                        });
                    }
                    if leader.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        let batch = config.start_batch.max(1);
        for index in 0..config.agents {
            let (tx, rx) = mpsc::unbounded_channel();
            let id = Arc::new(Mutex::new(None));
            let agent = SimAgent {
                shared: fleet.shared.clone(),
                index: index as u64,
                info: v1::AgentInfo {
                    hostname: format!("sim-{index}.local"),
                    port: Some(5051),
                    resources: resources.clone(),
                    ..Default::default()
                },
                id_slot: id.clone(),
                id: None,
                stream_id: None,
                tasks: HashMap::new(),
                frameworks: HashMap::new(),
                cut: false,
                gone: false,
                next_uuid: 0,
                outbox: Vec::new(),
                in_flight: None,
            };
            fleet.tasks.spawn(agent.run(rx));
            fleet.agents.push(AgentHandle { control: tx, id });
            if (index + 1) % batch == 0 || index + 1 == config.agents {
                let want = (index + 1) as u64;
                let counters = &fleet.shared.counters;
                crate::procs::wait_until(Duration::from_secs(120), "agents to register", || {
                    let n = Counters::get(&counters.registered);
                    async move { n >= want }
                })
                .await?;
            }
        }
        Ok(fleet)
    }

    /// The fleet-wide counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// While on, every acknowledged `TASK_RUNNING` of an idle task is followed by another.
    pub fn set_churn(&self, on: bool) {
        self.shared.churn.store(on, Ordering::Relaxed);
    }

    /// Stops every agent now.
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

struct SimTask {
    framework_id: String,
    info: v1::TaskInfo,
    state: v1::TaskState,
    queue: VecDeque<v1::TaskStatus>,
    sent_at: Option<Instant>,
    running_acked: bool,
}

struct SimAgent {
    shared: Arc<Shared>,
    index: u64,
    info: v1::AgentInfo,
    id_slot: Arc<Mutex<Option<String>>>,
    id: Option<String>,
    stream_id: Option<Arc<str>>,
    tasks: HashMap<String, SimTask>,
    frameworks: HashMap<String, v1::FrameworkInfo>,
    cut: bool,
    gone: bool,
    next_uuid: u64,
    /// Status updates waiting for the call in flight to finish.
    outbox: Vec<agent_call::StatusUpdate>,
    /// Completes when the agent's call of status updates has been answered.
    in_flight: Option<oneshot::Receiver<()>>,
}

/// Seconds since the epoch, as `TaskStatus.timestamp` carries them.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl SimAgent {
    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        let mut attempt: u32 = 0;
        let mut leader = self.shared.url.subscribe();
        loop {
            while self.cut {
                match control.recv().await {
                    Some(c) => self.control(c),
                    None => return,
                }
            }
            let body = Bytes::from(self.registration_call().encode_to_vec());
            let url = leader.borrow_and_update().clone();
            let session = self
                .shared
                .client
                .post_stream(&url, HEADERS, body, 64 * 1024 * 1024)
                .await;
            if let Ok(mut response) = session {
                self.stream_id = response.header("Mesos-Stream-Id").map(Arc::from);
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        record = response.records.next() => match record {
                            Some(Ok(bytes)) => {
                                if self.cut {
                                    continue;
                                }
                                if let Ok(event) = AgentEvent::decode(bytes) {
                                    self.event(event, &mut attempt);
                                }
                            }
                            _ => break,
                        },
                        c = control.recv() => match c {
                            Some(c) => self.control(c),
                            None => return,
                        },
                        _ = tick.tick() => if !self.cut {
                            self.retry_due();
                        },
                        _ = call_done(&mut self.in_flight) => self.in_flight = None,
                    }
                    if self.gone {
                        return;
                    }
                    self.flush();
                }
                self.stream_id = None;
                // Whatever was not sent is resent after reregistration, and a call still in
                // flight belongs to the old session.
                self.outbox.clear();
                self.in_flight = None;
                self.shared
                    .counters
                    .sessions_ended
                    .fetch_add(1, Ordering::Relaxed);
            }
            let cap = (self.shared.backoff_factor * 2u32.pow(attempt.min(10)))
                .min(Duration::from_secs(60));
            let random = u64::from_le_bytes(
                uuid::Uuid::new_v4().as_bytes()[..8]
                    .try_into()
                    .expect("8 bytes"),
            );
            let wait = Duration::from_nanos(random % (cap.as_nanos() as u64).max(1));
            attempt = attempt.saturating_add(1);
            // A new leader is tried at once, as a real agent does when its detector fires.
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = leader.changed() => if changed.is_ok() {
                    attempt = 0;
                },
            }
        }
    }

    fn registration_call(&self) -> AgentCall {
        match &self.id {
            None => AgentCall {
                r#type: Some(agent_call::Type::Register as i32),
                register: Some(agent_call::Register {
                    agent_info: self.info.clone(),
                    version: Some(drover_core::master::MESOS_VERSION.into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Some(id) => {
                let agent_id = v1::AgentId { value: id.clone() };
                let mut info = self.info.clone();
                info.id = Some(agent_id.clone());
                let tasks = self
                    .tasks
                    .iter()
                    .map(|(task_id, t)| v1::Task {
                        name: t.info.name.clone(),
                        task_id: v1::TaskId {
                            value: task_id.clone(),
                        },
                        framework_id: v1::FrameworkId {
                            value: t.framework_id.clone(),
                        },
                        executor_id: None,
                        agent_id: agent_id.clone(),
                        state: t.state as i32,
                        resources: t.info.resources.clone(),
                        status_update_state: t.queue.front().map(|s| s.state),
                        status_update_uuid: t.queue.front().and_then(|s| s.uuid.clone()),
                        ..Default::default()
                    })
                    .collect();
                AgentCall {
                    r#type: Some(agent_call::Type::Reregister as i32),
                    agent_id: Some(agent_id),
                    reregister: Some(agent_call::Reregister {
                        agent_info: info,
                        version: Some(drover_core::master::MESOS_VERSION.into()),
                        tasks,
                        frameworks: self.frameworks.values().cloned().collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            }
        }
    }

    fn control(&mut self, control: Control) {
        match control {
            Control::Cut(cut) => self.cut = cut,
            Control::Emit => {
                let now = now_secs();
                let mut chosen = None;
                for (task_id, t) in &self.tasks {
                    if t.queue.is_empty() && t.state == v1::TaskState::TaskRunning {
                        chosen = Some(task_id.clone());
                        break;
                    }
                }
                if let Some(task_id) = chosen {
                    let status = self.status(&task_id, v1::TaskState::TaskRunning, now);
                    self.enqueue(&task_id, status);
                }
            }
            Control::Seed { framework, tasks } => {
                let framework_id = framework
                    .id
                    .as_ref()
                    .map(|id| id.value.clone())
                    .unwrap_or_default();
                self.frameworks.insert(framework_id.clone(), *framework);
                for info in tasks {
                    self.tasks.insert(
                        info.task_id.value.clone(),
                        SimTask {
                            framework_id: framework_id.clone(),
                            info,
                            state: v1::TaskState::TaskRunning,
                            queue: VecDeque::new(),
                            sent_at: None,
                            running_acked: true,
                        },
                    );
                }
                self.shared.counters.seeded.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn event(&mut self, event: AgentEvent, attempt: &mut u32) {
        let Some(kind) = event.r#type.and_then(|t| EventType::try_from(t).ok()) else {
            return;
        };
        let shared = self.shared.clone();
        let counters = &shared.counters;
        match kind {
            EventType::Registered | EventType::Reregistered => {
                let Some(registered) = event.registered.or(event.reregistered) else {
                    return;
                };
                *attempt = 0;
                self.id = Some(registered.agent_id.value.clone());
                *self.id_slot.lock().expect("not poisoned") = self.id.clone();
                if kind == EventType::Registered {
                    counters.registered.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.reregistered.fetch_add(1, Ordering::Relaxed);
                    self.resend(None);
                }
            }
            EventType::RunTask => {
                let Some(run) = event.run_task else { return };
                let framework_id = run
                    .framework_info
                    .id
                    .as_ref()
                    .map(|id| id.value.clone())
                    .unwrap_or_default();
                self.frameworks
                    .insert(framework_id.clone(), run.framework_info);
                let mut tasks: Vec<v1::TaskInfo> = run.task.into_iter().collect();
                if let Some(group) = run.task_group {
                    tasks.extend(group.tasks);
                }
                let now = now_secs();
                for info in tasks {
                    counters.tasks_launched.fetch_add(1, Ordering::Relaxed);
                    let task_id = info.task_id.value.clone();
                    self.tasks.insert(
                        task_id.clone(),
                        SimTask {
                            framework_id: framework_id.clone(),
                            info,
                            state: v1::TaskState::TaskRunning,
                            queue: VecDeque::new(),
                            sent_at: None,
                            running_acked: false,
                        },
                    );
                    let starting = self.status(&task_id, v1::TaskState::TaskStarting, now);
                    let running = self.status(&task_id, v1::TaskState::TaskRunning, now);
                    self.enqueue(&task_id, starting);
                    self.enqueue(&task_id, running);
                }
            }
            EventType::KillTask => {
                let Some(kill) = event.kill_task else { return };
                self.kill(&kill.task_id.value);
            }
            EventType::ShutdownFramework => {
                let Some(shutdown) = event.shutdown_framework else {
                    return;
                };
                let ids: Vec<String> = self
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.framework_id == shutdown.framework_id.value)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ids {
                    self.kill(&id);
                }
            }
            EventType::Acknowledge => {
                let Some(ack) = event.acknowledge else { return };
                self.acknowledge(&ack.task_id.value, &ack.uuid);
            }
            EventType::UpdateFramework => {
                let framework_id = event
                    .update_framework
                    .and_then(|u| u.framework_info.id)
                    .map(|id| id.value);
                self.resend(framework_id.as_deref());
            }
            EventType::Ping => {
                counters.pongs.fetch_add(1, Ordering::Relaxed);
                let pong = AgentCall {
                    r#type: Some(agent_call::Type::Pong as i32),
                    agent_id: self.agent_id(),
                    pong: Some(agent_call::Pong {
                        sequence: event.ping.and_then(|p| p.sequence),
                    }),
                    ..Default::default()
                };
                self.post(pong, None);
            }
            EventType::Shutdown => self.gone = true,
            _ => {}
        }
    }

    fn agent_id(&self) -> Option<v1::AgentId> {
        self.id.clone().map(|value| v1::AgentId { value })
    }

    fn status(&mut self, task_id: &str, state: v1::TaskState, now: f64) -> v1::TaskStatus {
        self.next_uuid += 1;
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&self.index.to_le_bytes());
        uuid[8..].copy_from_slice(&self.next_uuid.to_le_bytes());
        v1::TaskStatus {
            task_id: v1::TaskId {
                value: task_id.to_owned(),
            },
            state: state as i32,
            source: Some(v1::task_status::Source::Executor as i32),
            uuid: Some(uuid.to_vec()),
            agent_id: self.agent_id(),
            executor_id: Some(v1::ExecutorId {
                value: task_id.to_owned(),
            }),
            timestamp: Some(now),
            ..Default::default()
        }
    }

    /// Queues an update; sends it at once if it is the task's head.
    fn enqueue(&mut self, task_id: &str, status: v1::TaskStatus) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if let Ok(state) = v1::TaskState::try_from(status.state) {
            task.state = state;
        }
        task.queue.push_back(status);
        if task.queue.len() == 1 {
            self.send_head(task_id);
        }
    }

    fn send_head(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let Some(head) = task.queue.front() else {
            return;
        };
        task.sent_at = Some(Instant::now());
        self.outbox.push(agent_call::StatusUpdate {
            framework_id: v1::FrameworkId {
                value: task.framework_id.clone(),
            },
            status: head.clone(),
            latest_state: Some(task.state as i32),
        });
        self.shared
            .counters
            .updates_sent
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Sends the queued status updates in one call, unless a call is still in flight (its
    /// answer flushes again).
    fn flush(&mut self) {
        if self.cut
            || self.in_flight.is_some()
            || self.outbox.is_empty()
            || self.stream_id.is_none()
        {
            return;
        }
        let rest = self
            .outbox
            .split_off(self.outbox.len().min(MAX_UPDATES_PER_CALL));
        let mut updates = std::mem::replace(&mut self.outbox, rest);
        let call = if updates.len() == 1 {
            AgentCall {
                r#type: Some(agent_call::Type::StatusUpdate as i32),
                agent_id: self.agent_id(),
                status_update: updates.pop(),
                ..Default::default()
            }
        } else {
            AgentCall {
                r#type: Some(agent_call::Type::StatusUpdates as i32),
                agent_id: self.agent_id(),
                status_updates: updates,
                ..Default::default()
            }
        };
        let (done, in_flight) = oneshot::channel();
        self.in_flight = Some(in_flight);
        self.post(call, Some(done));
    }

    fn acknowledge(&mut self, task_id: &str, uuid: &[u8]) {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if task.queue.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return;
        }
        let acked = task.queue.pop_front().expect("head");
        task.sent_at = None;
        counters.updates_acked.fetch_add(1, Ordering::Relaxed);
        let state = v1::TaskState::try_from(acked.state).unwrap_or(v1::TaskState::TaskStaging);
        if state == v1::TaskState::TaskRunning && !task.running_acked {
            task.running_acked = true;
            counters.running_acked.fetch_add(1, Ordering::Relaxed);
        }
        let terminal = matches!(
            state,
            v1::TaskState::TaskKilled
                | v1::TaskState::TaskFinished
                | v1::TaskState::TaskFailed
                | v1::TaskState::TaskLost
        );
        if terminal && task.queue.is_empty() {
            self.tasks.remove(task_id);
            return;
        }
        if !task.queue.is_empty() {
            self.send_head(task_id);
        } else if self.shared.churn.load(Ordering::Relaxed)
            && task.state == v1::TaskState::TaskRunning
        {
            let status = self.status(task_id, v1::TaskState::TaskRunning, now_secs());
            self.enqueue(task_id, status);
        }
    }

    fn kill(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get(task_id) else {
            return;
        };
        if task.state == v1::TaskState::TaskKilled {
            return;
        }
        self.shared.counters.killed.fetch_add(1, Ordering::Relaxed);
        let status = self.status(task_id, v1::TaskState::TaskKilled, now_secs());
        self.enqueue(task_id, status);
    }

    /// Sends every pending head again (of one framework, or all).
    fn resend(&mut self, framework_id: Option<&str>) {
        let heads: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.queue.is_empty())
            .filter(|(_, t)| framework_id.is_none_or(|f| t.framework_id == f))
            .map(|(id, _)| id.clone())
            .collect();
        for id in heads {
            self.send_head(&id);
        }
    }

    fn retry_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.sent_at.is_some_and(|at| now.duration_since(at) >= RETRY))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.send_head(&id);
        }
    }

    fn post(&self, call: AgentCall, done: Option<oneshot::Sender<()>>) {
        let shared = self.shared.clone();
        let stream_id = self.stream_id.clone();
        let body = Bytes::from(call.encode_to_vec());
        tokio::spawn(async move {
            let Ok(_permit) = shared.calls.acquire().await else {
                return;
            };
            let mut headers = HEADERS.to_vec();
            if let Some(id) = stream_id.as_deref() {
                headers.push(("Mesos-Stream-Id", id));
            }
            let url = shared.url.borrow().clone();
            match shared.client.post(&url, &headers, body).await {
                Ok(r) if r.status.is_success() => {}
                _ => {
                    shared.counters.post_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        });
    }
}

/// Resolves when the call in flight is answered; never while there is none.
async fn call_done(in_flight: &mut Option<oneshot::Receiver<()>>) {
    match in_flight {
        Some(done) => {
            let _ = done.await;
        }
        None => std::future::pending().await,
    }
}
