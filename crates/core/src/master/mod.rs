//! The Mesos master's decisions as a pure state machine: frameworks, agents, offers, tasks,
//! reconciliation and the registry operations that make them durable.
//!
//! The driver (`drover-master`) owns one [`Master`], feeds it [`Input`]s with the wall-clock
//! time, carries out the returned [`Effect`]s in order (every [`Effect::Persist`] of a batch
//! is committed before any reply or event leaves), and calls [`Master::handle`] with
//! [`Input::Tick`] whenever [`Master::next_deadline`] passes. The daemon's driver feeds a
//! whole batch through [`Master::handle_deferred`] and then runs one allocation pass with
//! [`Master::allocate_pending`] (Mesos batches allocation likewise); the simulator and the
//! tests use [`Master::handle`], which allocates after each input. Nothing here reads a clock, does
//! I/O, draws randomness or iterates a hash map, so the same inputs always give the same
//! effects; the tests drive it with a virtual clock.
//!
//! Module map: [`registry`] (what survives a restart), [`frameworks`] (subscription,
//! failover, removal), [`agents`] (registration, health, unreachable, gone), [`offers`]
//! (offers, filters, DRF allocation), [`tasks`] (launch, status updates, kill, acknowledge),
//! [`reconcile`] (spec §2.7), [`validation`] (calls and task infos), [`view`] (read-only
//! answers for GET endpoints and metrics), [`roles`] (GET_ROLES), [`activation`] (operator
//! DEACTIVATE/REACTIVATE_AGENT), [`quota`] (the quota table and its operator calls) and
//! [`quota_alloc`] (how the allocator honours guarantees and limits), [`maintenance`] (the
//! schedule and machine modes), [`inverse`] (inverse offers), [`drain`] (DRAIN_AGENT),
//! [`history`] (completed tasks kept across restarts), [`invariants`]; indexes that keep
//! per-input work
//! O(log n): [`task_index`] (live tasks by agent), [`timers`] (deadlines in time order).

pub mod activation;
pub mod agent_index;
pub mod agents;
pub mod authorizing;
pub mod drain;
pub mod frameworks;
pub mod history;
pub mod invariants;
pub mod inverse;
pub mod ledger;
pub mod maintenance;
pub mod offers;
pub mod operations_feedback;
pub mod oversubscription;
pub mod quota;
pub mod quota_alloc;
pub mod reconcile;
pub mod registry;
pub mod registry_gc;
pub mod reservations;
pub mod roles;
pub mod task_index;
pub mod tasks;
pub mod timers;
pub mod validation;
pub mod view;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use drover_wire::internal::{AgentCall, AgentEvent};
use drover_wire::v1;
use drover_wire::v1::master as operator;
use drover_wire::v1::scheduler;

pub use registry::{Registry, RegistryOp};

/// A connection or request, numbered by the driver. A stream (scheduler subscription, agent
/// session) is named by the number of the request that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Conn(pub u64);

/// How fast agents may be marked unreachable: `permits` per `per_ms` (Mesos' `1/10mins`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Removals allowed per period.
    pub permits: u32,
    /// The period, in milliseconds.
    pub per_ms: u64,
}

impl RateLimit {
    /// Milliseconds between two removals.
    pub fn interval_ms(&self) -> u64 {
        self.per_ms / u64::from(self.permits.max(1))
    }
}

/// The master's configuration (its flags, resolved).
#[derive(Debug, Clone)]
pub struct Config {
    /// The master's own description; its `id` is replaced by the registry's master id.
    pub master_info: v1::MasterInfo,
    /// `--agent_ping_timeout`.
    pub agent_ping_timeout_ms: u64,
    /// `--max_agent_ping_timeouts`.
    pub max_agent_ping_timeouts: u32,
    /// `--agent_reregister_timeout`.
    pub agent_reregister_timeout_ms: u64,
    /// `--agent_removal_rate_limit`; `None` marks agents unreachable at once.
    pub agent_removal_rate_limit: Option<RateLimit>,
    /// `--offer_timeout`; `None` keeps offers until used or rescinded for another reason.
    pub offer_timeout_ms: Option<u64>,
    /// `--allocation_interval`.
    pub allocation_interval_ms: u64,
    /// `--max_completed_tasks_per_framework`.
    pub max_completed_tasks_per_framework: usize,
    /// `--max_completed_frameworks`.
    pub max_completed_frameworks: usize,
    /// Status history entries kept per task (beyond Mesos).
    pub max_status_history: usize,
    /// Scheduler heartbeat interval (Mesos: 15 s, not configurable).
    pub heartbeat_interval_ms: u64,
    /// The `run_tasks` ACLs (`--acls`): a task whose framework's principal may not run it as
    /// its user is `TASK_ERROR`/`REASON_TASK_UNAUTHORIZED` (`REASON_TASK_GROUP_UNAUTHORIZED`
    /// for every task of a group). `None`: every launch is authorized.
    pub run_tasks: Option<crate::acl::RunTasks>,
    /// The ACLs of RESERVE, UNRESERVE, CREATE and DESTROY, from frameworks and operators
    /// alike (`--acls`); `None`: every one is authorized.
    pub operation_acls: Option<crate::acl::OperationAcls>,
    /// `--registry_gc_interval`: how often the unreachable and gone lists are pruned
    /// ([`registry_gc`]).
    pub registry_gc_interval_ms: u64,
    /// `--registry_max_agent_age`: unreachable and gone entries older than this are pruned.
    pub registry_max_agent_age_ms: u64,
    /// `--registry_max_agent_count`: each list keeps at most this many (the newest).
    pub registry_max_agent_count: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            master_info: v1::MasterInfo {
                id: String::new(),
                ip: 0x0100_007f,
                port: 5050,
                pid: Some("master@127.0.0.1:5050".into()),
                hostname: Some("localhost".into()),
                version: Some(MESOS_VERSION.into()),
                address: Some(v1::Address {
                    hostname: Some("localhost".into()),
                    ip: Some("127.0.0.1".into()),
                    port: 5050,
                }),
                ..Default::default()
            },
            agent_ping_timeout_ms: 15_000,
            max_agent_ping_timeouts: 5,
            agent_reregister_timeout_ms: 600_000,
            agent_removal_rate_limit: None,
            offer_timeout_ms: None,
            allocation_interval_ms: 1_000,
            max_completed_tasks_per_framework: 1000,
            max_completed_frameworks: 50,
            max_status_history: 100,
            heartbeat_interval_ms: 15_000,
            run_tasks: None,
            operation_acls: None,
            // Mesos' defaults: 15mins, 2weeks, 102400.
            registry_gc_interval_ms: 15 * 60_000,
            registry_max_agent_age_ms: 14 * 86_400_000,
            registry_max_agent_count: 100 * 1024,
        }
    }
}

/// The Mesos version Drover reports, so clients that gate features on it (pymesos) behave.
pub const MESOS_VERSION: &str = "1.11.0";

/// Something that happened, for the master to decide on.
#[derive(Debug, Clone)]
pub enum Input {
    /// A scheduler SUBSCRIBE (already decoded and checked by the HTTP layer). On success the
    /// response becomes the event stream named `conn`, identified to the client by `stream_id`.
    Subscribe {
        conn: Conn,
        stream_id: String,
        call: scheduler::Call,
    },
    /// Any other scheduler call, with the request's `Mesos-Stream-Id` header.
    SchedulerCall {
        req: Conn,
        stream_id: Option<String>,
        call: scheduler::Call,
    },
    /// A scheduler's event stream ended (client gone, or the driver dropped a slow reader).
    SchedulerClosed { conn: Conn },
    /// An agent REGISTER or REREGISTER; on success the response becomes the session `conn`.
    AgentSubscribe {
        conn: Conn,
        stream_id: String,
        call: AgentCall,
    },
    /// Any other agent call, with the request's `Mesos-Stream-Id` header.
    AgentCall {
        req: Conn,
        stream_id: Option<String>,
        call: AgentCall,
    },
    /// An agent session stream ended.
    AgentClosed { conn: Conn },
    /// Operator MARK_AGENT_GONE.
    MarkAgentGone { req: Conn, agent_id: String },
    /// Operator DEACTIVATE_AGENT: the agent gets no offers until reactivated.
    DeactivateAgent { req: Conn, agent_id: String },
    /// Operator REACTIVATE_AGENT.
    ReactivateAgent { req: Conn, agent_id: String },
    /// Operator GET/SET/REMOVE/UPDATE_QUOTA's changes (and legacy `/quota`).
    Quota { req: Conn, call: quota::QuotaCall },
    /// A maintenance call ([`maintenance`]).
    Maintenance {
        req: Conn,
        call: maintenance::MaintenanceCall,
    },
    /// DRAIN_AGENT ([`drain`]).
    DrainAgent {
        req: Conn,
        agent_id: String,
        config: v1::DrainConfig,
    },
    /// Operator TEARDOWN (and legacy `/master/teardown`).
    Teardown { req: Conn, framework_id: String },
    /// Operator RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES (and
    /// the legacy `/master/reserve` family), by an authenticated `principal` if any.
    AgentOperation {
        req: Conn,
        agent_id: String,
        operation: crate::operations::Operation,
        principal: Option<String>,
    },
    /// The authorization asked for by [`Effect::Authorize`] is in: the accept it holds goes
    /// on ([`authorizing`]).
    Authorized { ticket: u64 },
    /// Time passed: run whatever timers are due.
    Tick,
}

/// How the driver answers a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 202 Accepted, empty body.
    Accepted,
    /// 200 OK, empty body.
    Ok,
    /// 200 OK; the body is the event stream of this request.
    Stream,
    /// 200 OK with an operator response.
    Response(Box<operator::Response>),
    /// An error status with a plain-text body.
    Error { status: u16, message: String },
}

impl Reply {
    fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::Error {
            status,
            message: message.into(),
        }
    }
}

/// What the driver must do, in order.
// Effects live for one step only; boxing the registry op would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Effect {
    /// Make this durable before anything after it leaves the process.
    Persist(RegistryOp),
    /// Answer a request.
    Reply { req: Conn, reply: Reply },
    /// Send an event on a scheduler stream.
    ToScheduler {
        conn: Conn,
        event: Box<scheduler::Event>,
    },
    /// Send one UPDATE event per status, in order, on a scheduler stream: what
    /// [`Effect::ToScheduler`] with [`update_event`] would send for each, held as statuses
    /// (reconciliation answers thousands of tasks at once, and one boxed ~1 KiB `Event` per
    /// answer was most of its cost, issue 20 G8).
    ToSchedulerUpdates {
        conn: Conn,
        statuses: Vec<v1::TaskStatus>,
    },
    /// End a scheduler stream.
    CloseScheduler { conn: Conn },
    /// Send an event on an agent session.
    ToAgent { conn: Conn, event: Box<AgentEvent> },
    /// End an agent session.
    CloseAgent { conn: Conn },
    /// Publish to every operator SUBSCRIBE stream.
    ToOperators(Box<operator::Event>),
    /// An accept waits for its authorization ([`authorizing`]): feed back
    /// [`Input::Authorized`] with this ticket after the inputs already queued, as Mesos'
    /// master went on with its queued messages until its authorizer answered.
    Authorize { ticket: u64 },
    /// Something the operator should see in the log: an operation the master dropped and
    /// why (Mesos logged these too; a framework that gave the operation an id is also told).
    Warn(String),
}

/// One entry of a task's status history (beyond Mesos, which keeps one status per state).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The state the update carried.
    pub state: v1::TaskState,
    /// Its reason, if any.
    pub reason: Option<v1::task_status::Reason>,
    /// Who generated it.
    pub source: Option<v1::task_status::Source>,
    /// Its message, if any.
    pub message: Option<String>,
    /// When the master saw it (ms since the epoch).
    pub timestamp_ms: u64,
    /// `healthy`, if the update carried it.
    pub healthy: Option<bool>,
}

/// A task the master knows, with its history.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    /// The Mesos view: `state` is the agent's latest state, `status_update_state/uuid` the
    /// update being delivered, `statuses` one per consecutive state.
    pub task: v1::Task,
    /// The role the task's resources are allocated to.
    pub role: String,
    /// Every update, oldest first, bounded by [`Config::max_status_history`].
    pub history: VecDeque<HistoryEntry>,
    /// When the task became unreachable, if it is.
    pub unreachable_time_ms: Option<u64>,
    /// The executor the task runs under, for custom executors and task groups (boxed: most
    /// tasks have none, and an `ExecutorInfo` is ~480 bytes inline).
    pub executor: Option<Box<v1::ExecutorInfo>>,
    /// The (16-byte) uuids of the task's last updates the framework acknowledged, newest
    /// last, at most [`ACKED_UUIDS_KEPT`]. An agent's retransmission of one of them that
    /// arrives late (each agent call is its own HTTP request, so a retry can overtake or
    /// trail the next update) is stale: forwarding it would show the framework an older
    /// state after a newer one (found by the simulator). It is dropped and its
    /// acknowledgement sent to the agent again instead.
    pub acked_uuids: Vec<[u8; 16]>,
}

/// How many acknowledged update uuids a task remembers.
pub const ACKED_UUIDS_KEPT: usize = 4;

impl TaskEntry {
    /// The task's latest state.
    pub fn state(&self) -> v1::TaskState {
        v1::TaskState::try_from(self.task.state).unwrap_or(v1::TaskState::TaskStaging)
    }

    /// The state reconciliation reports: the update being delivered, else the latest state.
    pub fn reported_state(&self) -> v1::TaskState {
        self.task
            .status_update_state
            .and_then(|s| v1::TaskState::try_from(s).ok())
            .unwrap_or_else(|| self.state())
    }
}

/// A framework the master knows (connected, disconnected within its failover timeout, or
/// recovered from the registry after a master restart).
#[derive(Debug, Clone)]
pub struct Framework {
    /// Its info, with `id` set.
    pub info: v1::FrameworkInfo,
    /// Whether it has `PARTITION_AWARE`.
    pub partition_aware: bool,
    /// Its subscription stream, when connected.
    pub conn: Option<Conn>,
    /// The `Mesos-Stream-Id` of that stream.
    pub stream_id: Option<String>,
    /// Known from the registry or an agent, not yet resubscribed to this master.
    pub recovered: bool,
    /// First subscription to this master.
    pub registered_time_ms: Option<u64>,
    /// Latest resubscription.
    pub reregistered_time_ms: Option<u64>,
    /// When its stream last closed.
    pub unregistered_time_ms: Option<u64>,
    /// When it is removed unless it resubscribes.
    pub failover_deadline_ms: Option<u64>,
    /// When its next HEARTBEAT is due.
    pub next_heartbeat_ms: Option<u64>,
    /// Roles it asked not to get offers for.
    pub suppressed_roles: BTreeSet<String>,
    /// Live tasks (non-terminal, and terminal until the terminal update is acknowledged).
    /// Shared so that a snapshot of the master (what `/master/state` renders off the loop)
    /// copies pointers, not tasks; a change copies the one entry a snapshot still holds.
    pub tasks: BTreeMap<String, Arc<TaskEntry>>,
    /// Tasks on unreachable agents.
    pub unreachable_tasks: BTreeMap<String, Arc<TaskEntry>>,
    /// Finished tasks, oldest first, bounded.
    pub completed_tasks: VecDeque<Arc<TaskEntry>>,
}

impl Framework {
    /// The framework's id.
    pub fn id(&self) -> &str {
        self.info
            .id
            .as_ref()
            .map(|id| id.value.as_str())
            .unwrap_or("")
    }

    /// Whether its subscription stream is open.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether it has the given capability.
    pub fn has_capability(&self, capability: v1::framework_info::capability::Type) -> bool {
        has_capability(&self.info, capability)
    }

    /// The roles it subscribed with (`roles` for MULTI_ROLE, else the legacy `role`).
    pub fn roles(&self) -> Vec<String> {
        framework_roles(&self.info)
    }
}

/// Whether a framework info lists a capability.
pub fn has_capability(
    info: &v1::FrameworkInfo,
    capability: v1::framework_info::capability::Type,
) -> bool {
    info.capabilities
        .iter()
        .any(|c| c.r#type == Some(capability as i32))
}

/// The roles a framework info subscribes to.
pub fn framework_roles(info: &v1::FrameworkInfo) -> Vec<String> {
    if has_capability(info, v1::framework_info::capability::Type::MultiRole) {
        info.roles.clone()
    } else {
        #[allow(deprecated)]
        let role = info.role.clone().unwrap_or_else(|| "*".into());
        vec![role]
    }
}

/// Where an admitted agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    /// Its session is open.
    Connected,
    /// Its session broke; it has until `reregister_deadline_ms` to come back.
    Disconnected,
    /// Known from the registry after a master restart; not yet reregistered.
    Recovered,
}

/// Ping bookkeeping of a connected agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingState {
    /// When the next ping is due (and the outstanding one counts as missed).
    pub next_ping_ms: u64,
    /// A ping was sent and no pong came yet.
    pub outstanding: bool,
    /// Consecutive pings without a pong.
    pub missed: u32,
    /// Sequence number of the last ping.
    pub sequence: u64,
}

/// An admitted agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Its info, with `id` set; `resources` are its totals.
    pub info: v1::AgentInfo,
    /// The address it serves on, as it reported it (offers' `url.address.ip`).
    pub ip: Option<String>,
    /// The version it reported.
    pub version: String,
    /// Capabilities it reported.
    pub capabilities: Vec<v1::agent_info::Capability>,
    /// Connected, disconnected or recovered.
    pub status: AgentStatus,
    /// Its session stream, when connected.
    pub conn: Option<Conn>,
    /// That stream's `Mesos-Stream-Id`.
    pub stream_id: Option<String>,
    /// First registration with this master (or recovery).
    pub registered_time_ms: u64,
    /// Latest reregistration.
    pub reregistered_time_ms: Option<u64>,
    /// Deadline to reregister (disconnected and recovered agents).
    pub reregister_deadline_ms: Option<u64>,
    /// Health checking.
    pub ping: PingState,
    /// Executors the master launched there, by (framework id, executor id).
    pub executors: BTreeMap<(String, String), v1::ExecutorInfo>,
    /// Kills that could not be delivered while disconnected: (framework id, task id).
    pub pending_kills: BTreeSet<(String, String)>,
    /// Tasks the master reported TASK_KILLED itself while the agent was away (and forgot)
    /// that the agent turned out to have: their kill was re-sent, and the agent's own
    /// updates for them are acknowledged here, not forwarded (the framework has its terminal
    /// state already). Rebuilt at each reregistration from the tasks the agent reports, so
    /// it holds only tasks the agent still had then.
    pub answered_kills: BTreeSet<(String, String)>,
    /// Waiting in the rate-limited queue to be marked unreachable.
    pub removal_pending: bool,
    /// Its resource estimator's latest revocable resources (oversubscription), offered only
    /// to frameworks with REVOCABLE_RESOURCES; not persisted (the agent sends them again).
    pub oversubscribed: Vec<v1::Resource>,
}

impl Agent {
    /// The agent's id.
    pub fn id(&self) -> &str {
        self.info
            .id
            .as_ref()
            .map(|id| id.value.as_str())
            .unwrap_or("")
    }
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The offer as sent (always with `allocation_info`; stripped for non-MULTI_ROLE
    /// frameworks when sent).
    pub offer: v1::Offer,
    /// The role the resources are allocated to.
    pub role: String,
    /// When `--offer_timeout` rescinds it.
    pub expires_ms: Option<u64>,
}

/// A `refuse_seconds` filter: these resources on this agent are not offered to this
/// framework's role until `until_ms`.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The framework that declined.
    pub framework_id: String,
    /// The role the resources were offered to.
    pub role: String,
    /// The agent they are on.
    pub agent_id: String,
    /// What was declined.
    pub resources: Vec<v1::Resource>,
    /// When the filter ends.
    pub until_ms: u64,
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Status updates from agents that matched a known task.
    pub valid_status_updates: u64,
    /// Status updates for unknown tasks or agents.
    pub invalid_status_updates: u64,
    /// Acknowledgements for unknown tasks.
    pub invalid_status_update_acknowledgements: u64,
    /// Agents removed (unreachable, gone, unregistered).
    pub agent_removals: u64,
    /// Agents queued by the removal rate limiter.
    pub agent_unreachable_scheduled: u64,
    /// Agents actually marked unreachable.
    pub agent_unreachable_completed: u64,
    /// Queued markings cancelled by a pong or reregistration.
    pub agent_unreachable_canceled: u64,
    /// Offers ever made.
    pub offers_made: u64,
    /// Offers rescinded.
    pub offers_rescinded: u64,
}

/// The master. `Clone` lets a driver hand a snapshot to a reader that renders a large view
/// (`/master/state`) off its loop.
#[derive(Debug, Clone)]
pub struct Master {
    config: Config,
    registry: Registry,
    start_ms: u64,
    frameworks: BTreeMap<String, Framework>,
    completed_frameworks: VecDeque<Framework>,
    agents: BTreeMap<String, Agent>,
    offers: BTreeMap<String, Offer>,
    /// Live `refuse_seconds` filters by agent: the allocator asks per agent and candidate,
    /// and one list of every filter was scanned for each (O(agents × filters) per pass).
    filters: BTreeMap<String, Vec<Filter>>,
    removal_queue: VecDeque<String>,
    next_removal_ms: u64,
    /// When the registry's unreachable and gone lists are next pruned ([`registry_gc`]).
    next_registry_gc_ms: u64,
    next_allocation_ms: u64,
    allocation_dirty: bool,
    /// Whether anyone may receive operator events: false only when the driver says no
    /// operator stream is subscribed, so a reregistration burst does not build (and drop) an
    /// event with a copy of each of 100,000 tasks for nobody ([`Master::set_operator_subscribers`]).
    operator_subscribers: bool,
    next_offer: u64,
    counters: Counters,
    /// Live tasks by agent ([`task_index`]).
    agent_tasks: task_index::AgentTasks,
    /// Admitted agents by address and by session ([`agent_index`]).
    agent_index: agent_index::AgentIndex,
    /// Outstanding offer ids by agent id, in step with `offers` ([`Master::take_offer`]).
    agent_offers: BTreeMap<String, BTreeSet<String>>,
    /// Deadlines in time order ([`timers`]).
    timers: timers::Timers,
    /// What is allocated, by agent and by framework ([`ledger`]).
    ledger: ledger::Ledger,
    /// Inverse offers and the answers to them ([`inverse`]).
    inverse: inverse::InverseOffers,
    /// Operations with feedback until acknowledged ([`operations_feedback`]).
    feedback: operations_feedback::Feedback,
    /// Accepts waiting for their authorization ([`authorizing`]).
    authorizing: authorizing::Authorizing,
}

impl Master {
    /// A master recovering from `registry` at `now_ms`. Admitted agents start as recovered
    /// and get `--agent_reregister_timeout` to come back; known frameworks start as recovered
    /// and keep their ids, but have no failover timer until they subscribe and disconnect
    /// (as in Mesos, MESOS-4659).
    pub fn new(mut config: Config, registry: Registry, now_ms: u64) -> Master {
        config.master_info.id = registry.master_id.clone();
        let mut agents = BTreeMap::new();
        for (id, info) in &registry.agents {
            agents.insert(
                id.clone(),
                Agent {
                    info: info.clone(),
                    // Known again when it reregisters, before anything is offered from it.
                    ip: None,
                    version: String::new(),
                    capabilities: Vec::new(),
                    status: AgentStatus::Recovered,
                    conn: None,
                    stream_id: None,
                    registered_time_ms: now_ms,
                    reregistered_time_ms: None,
                    reregister_deadline_ms: Some(now_ms + config.agent_reregister_timeout_ms),
                    ping: PingState::default(),
                    executors: BTreeMap::new(),
                    pending_kills: BTreeSet::new(),
                    answered_kills: BTreeSet::new(),
                    removal_pending: false,
                    oversubscribed: Vec::new(),
                },
            );
        }
        let mut frameworks = BTreeMap::new();
        for (id, info) in &registry.frameworks {
            frameworks.insert(id.clone(), Framework::recovered(info.clone()));
        }
        let next_offer = registry.offers_reserved;
        let config_registry_gc_interval_ms = config.registry_gc_interval_ms;
        let agent_index = agent_index::AgentIndex::scan(agents.iter());
        let mut master = Master {
            next_allocation_ms: now_ms,
            start_ms: now_ms,
            config,
            registry,
            frameworks,
            completed_frameworks: VecDeque::new(),
            agents,
            offers: BTreeMap::new(),
            filters: BTreeMap::new(),
            removal_queue: VecDeque::new(),
            next_removal_ms: 0,
            next_registry_gc_ms: now_ms.saturating_add(config_registry_gc_interval_ms),
            allocation_dirty: false,
            operator_subscribers: true,
            next_offer,
            counters: Counters::default(),
            agent_tasks: task_index::AgentTasks::default(),
            agent_index,
            agent_offers: BTreeMap::new(),
            timers: timers::Timers::default(),
            ledger: ledger::Ledger::default(),
            inverse: inverse::InverseOffers::default(),
            feedback: operations_feedback::Feedback::default(),
            authorizing: authorizing::Authorizing::default(),
        };
        let recovered: Vec<(String, Option<u64>)> = master
            .agents
            .iter()
            .map(|(id, a)| (id.clone(), a.reregister_deadline_ms))
            .collect();
        for (id, at) in recovered {
            if let Some(at) = at {
                master.arm(at, timers::Timer::AgentReregister(id));
            }
        }
        master.restore_completed();
        master.restore_operations();
        master
    }

    /// Tells the core whether any operator stream is subscribed (the driver, before each
    /// input that may follow a change). Without one, the agents' bulky operator events
    /// (AGENT_ADDED, TASK_ADDED of reregistered agents) are not built; every decision is the
    /// same. A new master assumes subscribers, as the simulator and the tests do.
    pub fn set_operator_subscribers(&mut self, any: bool) {
        self.operator_subscribers = any;
    }

    /// Decides on one input at `now_ms` (ms since the epoch), then runs the allocator if the
    /// input dirtied allocation: one pass per input. The simulator and the tests use this;
    /// the driver batches with [`Master::handle_deferred`] and [`Master::allocate_pending`].
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Effect> {
        let mut out = self.handle_deferred(now_ms, input);
        out.extend(self.allocate_pending(now_ms));
        out
    }

    /// Decides on one input at `now_ms` without running the allocator: the caller must call
    /// [`Master::allocate_pending`] after a batch of inputs (before carrying out its effects,
    /// so the offers' persisted counters join the batch's commit). A pass costs
    /// O(tasks + offers + agents), so one per batch instead of one per ACCEPT, DECLINE or
    /// registration turns a burst of n calls from n passes into a few, as Mesos batches
    /// allocation (`--allocation_interval`).
    pub fn handle_deferred(&mut self, now_ms: u64, input: Input) -> Vec<Effect> {
        let mut out = Vec::new();
        match input {
            Input::Subscribe {
                conn,
                stream_id,
                call,
            } => self.subscribe(now_ms, conn, stream_id, call, &mut out),
            Input::SchedulerCall {
                req,
                stream_id,
                call,
            } => self.scheduler_call(now_ms, req, stream_id, call, &mut out),
            Input::SchedulerClosed { conn } => self.scheduler_closed(now_ms, conn, &mut out),
            Input::AgentSubscribe {
                conn,
                stream_id,
                call,
            } => self.agent_subscribe(now_ms, conn, stream_id, call, &mut out),
            Input::AgentCall {
                req,
                stream_id,
                call,
            } => self.agent_call(now_ms, req, stream_id, call, &mut out),
            Input::AgentClosed { conn } => self.agent_closed(now_ms, conn, &mut out),
            Input::MarkAgentGone { req, agent_id } => {
                let reply = self.mark_gone(now_ms, &agent_id, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::DeactivateAgent { req, agent_id } => {
                let reply = self.deactivate_agent(&agent_id, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::ReactivateAgent { req, agent_id } => {
                let reply = self.reactivate_agent(&agent_id, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::Quota { req, call } => {
                let reply = self.quota_call(call, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::Maintenance { req, call } => {
                let reply = self.maintenance_call(now_ms, call, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::DrainAgent {
                req,
                agent_id,
                config,
            } => {
                let reply = self.drain_agent(now_ms, &agent_id, config, &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::Teardown { req, framework_id } => {
                let reply = if self.frameworks.contains_key(&framework_id) {
                    self.remove_framework(now_ms, &framework_id, &mut out);
                    Reply::Ok
                } else {
                    Reply::error(400, "No framework found with specified ID")
                };
                out.push(Effect::Reply { req, reply });
            }
            Input::AgentOperation {
                req,
                agent_id,
                operation,
                principal,
            } => {
                let reply =
                    self.operator_operation(&agent_id, operation, principal.as_deref(), &mut out);
                out.push(Effect::Reply { req, reply });
            }
            Input::Authorized { ticket } => self.authorized(now_ms, ticket, &mut out),
            Input::Tick => self.tick(now_ms, &mut out),
        }
        self.prune_timers();
        out
    }

    /// Runs one allocation pass if an input since the last pass dirtied allocation (or the
    /// allocation interval passed at a tick); otherwise returns nothing.
    pub fn allocate_pending(&mut self, now_ms: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        self.enforce_quota_limits(&mut out);
        self.advance_drains(now_ms, &mut out);
        if self.allocation_dirty {
            self.revise_inverse_offers(now_ms, &mut out);
            self.allocate(now_ms, &mut out);
            self.prune_timers();
        }
        out
    }

    /// Whether an allocation pass is owed ([`Master::allocate_pending`] would run one).
    pub fn allocation_pending(&self) -> bool {
        self.allocation_dirty
    }

    /// When the driver must call [`Master::handle`] with [`Input::Tick`] next: the earliest of
    /// the allocation interval, the removal limiter and the [`timers`] index (O(log n)).
    pub fn next_deadline(&self) -> Option<u64> {
        let mut next = self.next_allocation_ms.min(self.next_registry_gc_ms);
        if !self.removal_queue.is_empty() {
            next = next.min(self.next_removal_ms);
        }
        if let Some(at) = self.first_timer() {
            next = next.min(at);
        }
        if let Some(at) = self.feedback.next_retry_ms() {
            next = next.min(at);
        }
        Some(next)
    }

    /// [`Master::next_deadline`] by a scan of every agent, framework and offer (the
    /// definition the index must agree with; for the invariant check and tests).
    pub fn next_deadline_by_scan(&self) -> Option<u64> {
        let mut next = self.next_allocation_ms.min(self.next_registry_gc_ms);
        if !self.removal_queue.is_empty() {
            next = next.min(self.next_removal_ms);
        }
        if let Some(at) = self.deadlines_by_scan().into_values().min() {
            next = next.min(at);
        }
        if let Some(at) = self.feedback.next_retry_ms() {
            next = next.min(at);
        }
        Some(next)
    }

    fn tick(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        // Only the entities with a due deadline can act; they are visited in id order, as a
        // scan would visit them. Each group is read just before it runs, as the scans did.
        let due = self.due_timers(now_ms, timers::DueKind::Frameworks);
        self.tick_frameworks(now_ms, due, out);
        let due = self.due_timers(now_ms, timers::DueKind::Agents);
        self.tick_agents(now_ms, due, out);
        let due = self.due_timers(now_ms, timers::DueKind::Offers);
        self.tick_offers(now_ms, due, out);
        if now_ms >= self.next_registry_gc_ms {
            self.registry_gc(now_ms, out);
        }
        self.retry_operations(now_ms, out);
        if now_ms >= self.next_allocation_ms {
            self.allocation_dirty = true;
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The master id.
    pub fn master_id(&self) -> &str {
        &self.registry.master_id
    }

    /// The master's info as clients see it.
    pub fn master_info(&self) -> &v1::MasterInfo {
        &self.config.master_info
    }

    /// The registry as the master believes it is persisted.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// When this master started (ms since the epoch).
    pub fn start_ms(&self) -> u64 {
        self.start_ms
    }

    /// Known frameworks, by id.
    pub fn frameworks(&self) -> &BTreeMap<String, Framework> {
        &self.frameworks
    }

    /// Recently removed frameworks, oldest first.
    pub fn completed_frameworks(&self) -> &VecDeque<Framework> {
        &self.completed_frameworks
    }

    /// Admitted agents, by id.
    pub fn agents(&self) -> &BTreeMap<String, Agent> {
        &self.agents
    }

    /// Outstanding offers, by id.
    pub fn offers(&self) -> &BTreeMap<String, Offer> {
        &self.offers
    }

    /// Active filters.
    pub fn filters(&self) -> impl Iterator<Item = &Filter> {
        self.filters.values().flatten()
    }

    /// Counters for metrics.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Applies a registry operation to the in-memory mirror and emits it for the driver.
    fn persist(&mut self, op: RegistryOp, out: &mut Vec<Effect>) {
        self.registry.apply(&op);
        out.push(Effect::Persist(op));
    }

    /// Persists the id counters (after taking a framework or agent id, or an offer block).
    fn persist_counters(&mut self, out: &mut Vec<Effect>) {
        let op = RegistryOp::Counters {
            next_framework: self.registry.next_framework,
            next_agent: self.registry.next_agent,
            offers_reserved: self.registry.offers_reserved,
        };
        self.persist(op, out);
    }
}

/// A `TimeInfo` for a time in ms since the epoch.
pub fn time_info(ms: u64) -> v1::TimeInfo {
    v1::TimeInfo {
        nanoseconds: i64::try_from(ms).unwrap_or(i64::MAX / 1_000_000) * 1_000_000,
    }
}

/// Seconds since the epoch, as `TaskStatus.timestamp` carries them.
pub fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The UPDATE event carrying `status`, as the master sends it.
pub fn update_event(status: v1::TaskStatus) -> scheduler::Event {
    let mut event = scheduler_event(scheduler::event::Type::Update);
    event.update = Some(scheduler::event::Update { status });
    event
}

impl Effect {
    /// This effect as the one-event effects it stands for, in order: each status of a
    /// [`Effect::ToSchedulerUpdates`] as its own [`Effect::ToScheduler`]; any other effect is
    /// itself. For consumers that deliver events one by one (the simulator, tests).
    pub fn into_single(self) -> impl Iterator<Item = Effect> {
        let (one, many) = match self {
            Effect::ToSchedulerUpdates { conn, statuses } => (None, Some((conn, statuses))),
            other => (Some(other), None),
        };
        one.into_iter()
            .chain(many.into_iter().flat_map(|(conn, statuses)| {
                statuses.into_iter().map(move |status| Effect::ToScheduler {
                    conn,
                    event: Box::new(update_event(status)),
                })
            }))
    }
}

fn scheduler_event(kind: scheduler::event::Type) -> scheduler::Event {
    scheduler::Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn agent_event(kind: drover_wire::internal::agent_event::Type) -> AgentEvent {
    AgentEvent {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn operator_event(kind: operator::event::Type) -> operator::Event {
    operator::Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}
