//! The simulated cluster: the event loop, the virtual clock, the processes around each pure
//! core, and the faults. Everything random comes from one ChaCha stream seeded by the run's
//! seed, and every collection is ordered, so a seed always replays the same run.
//!
//! Each process wrapper does what its daemon's driver does, in the same order: run the core
//! on an input, commit the step's writes to the process's disk, then carry out the other
//! effects (send, launch, kill, reply). Sessions follow the real clients: the agent's
//! `master.rs` (random backoff, pongs, a master-silence timeout), the scheduler client
//! (heartbeat-based detection, local TASK_DROPPED for an ACCEPT that cannot be sent), and the
//! built-in command executor (SUBSCRIBE with unacknowledged updates, retried while the agent
//! is away).

use std::collections::{BTreeMap, BTreeSet};

use drover_core::agent::{self, Agent, ConnId, ContainerId, RequestId};
use drover_core::marathon::app::AppSpec;
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{self as msched, IdSource, Scheduler};
use drover_core::master::{self, Conn, Master, Registry, RegistryOp};
use drover_core::task::TaskState;
use drover_core::task::emission::{Trigger, emission};
use drover_store::{Epoch, MemoryStore, Store, WriteBatch};
use drover_wire::internal::{self, AgentCall, agent_call, agent_event};
use drover_wire::v1;
use drover_wire::v1::executor as exec;
use drover_wire::v1::scheduler::{self, call, event};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::check::Checker;
use crate::coord::{Ensemble, LEASE_MS, PING_MS};
use crate::disk::{AgentDisk, MarathonDisk};
use crate::net::{Envelope, Fw, Net, NodeId, Payload};
use crate::scenario::{Fault, OperatorOp, Plan};

/// The virtual epoch the clock starts at (ms).
pub const T0: u64 = 1_700_000_000_000;
/// How long a client waits for a SUBSCRIBE/REGISTER answer (the HTTP client's timeout).
const REQUEST_TIMEOUT_MS: u64 = 20_000;
/// How often the plain framework re-asks about its non-terminal tasks. As Mesos'
/// reconciliation guide requires of a framework, it retries explicit reconciliation: the
/// master does not answer for a task on an agent that has not yet reregistered after a
/// failover, so one question at subscription can go unanswered for good.
const PLAIN_RECONCILE_MS: u64 = 30_000;
/// Resources of every simulated agent.
pub const AGENT_RESOURCES: &str = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]";

/// Something scheduled.
#[derive(Debug)]
enum Ev {
    Deliver(Box<Envelope>),
    Fault(Fault),
    /// An event for one process incarnation (dropped if that process died).
    Proc(NodeId, u64, Local),
    /// An executor's own doing on its host (dropped if the executor is gone).
    Exec(usize, String, u64, ExecEv),
    /// The coordination model's periodic step (HA runs only): pings, expiries, elections.
    CoordTick,
}

#[derive(Debug)]
enum Local {
    Reconnect,
    SubscribeTimeout(Conn),
    /// The agent's master-silence timer for a session.
    MasterPingTimeout(Conn),
    /// The plain framework's periodic explicit reconciliation for a session.
    Reconcile(Conn),
    RequestFailed {
        conn: Conn,
        accept: Option<Box<scheduler::Call>>,
    },
    AgentInput(Box<agent::Input>),
    /// The master's authorization answer for an accept ([`master::Effect::Authorize`]).
    Authorized(u64),
    FrameworkUpdate(Box<v1::TaskStatus>),
    ExecCall {
        cid: String,
        run: u64,
        call: Box<exec::Call>,
    },
}

#[derive(Debug)]
enum ExecEv {
    Started,
    Subscribe,
    Event(Box<exec::Event>),
    TaskExit,
    Exit(String),
}

#[derive(Debug)]
struct MasterProc {
    core: Master,
    inc: u64,
    epoch: u64,
    paused: bool,
    streams: BTreeMap<Conn, NodeId>,
    pending_subscribe: BTreeSet<Conn>,
}

/// A master process's side of the coordination model (HA runs): its session, its member in
/// the election group, and how long it vouches for the session.
#[derive(Debug)]
struct Contender {
    session: u64,
    member: u64,
    /// The last answer from the ensemble: the lease runs [`LEASE_MS`] from here.
    lease_from: u64,
    paused: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Sess {
    Idle,
    Connecting {
        conn: Conn,
        slot: usize,
    },
    Connected {
        conn: Conn,
        stream_id: String,
        slot: usize,
    },
}

impl Sess {
    fn conn(&self) -> Option<Conn> {
        match self {
            Sess::Idle => None,
            Sess::Connecting { conn, .. } | Sess::Connected { conn, .. } => Some(*conn),
        }
    }
}

#[derive(Debug)]
struct AgentProc {
    core: Agent,
    inc: u64,
    paused: bool,
    sess: Sess,
    attempt: u32,
    started: bool,
    exec_conns: BTreeMap<u64, String>,
    requests: BTreeMap<u64, (String, bool)>,
    /// When the session counts as lost without another PING (or any event).
    ping_deadline: u64,
    /// How long the session may stay silent: Mesos' default until the master's
    /// (re)registration answer advertises its ping window, as the real agent
    /// (`crates/agent/src/master.rs`, `drover_core::agent::session`).
    master_silence_ms: u64,
    /// When the current session's (re)registration was answered.
    connected_at: u64,
}

/// A simulated executor process (the built-in command executor's behaviour).
#[derive(Debug)]
pub struct ExecProc {
    run: u64,
    framework_id: String,
    executor_id: String,
    killing_capable: bool,
    task: Option<v1::TaskInfo>,
    acked_any: bool,
    unacked: Vec<v1::TaskStatus>,
    conn: Option<u64>,
    subscribing: bool,
    killing: bool,
    terminal_sent: bool,
    backoff_ms: u64,
    gave_up_at: u64,
}

#[derive(Debug)]
struct AgentHost {
    boot_id: String,
    disk: AgentDisk,
    execs: BTreeMap<String, ExecProc>,
    proc: Option<AgentProc>,
}

#[derive(Debug)]
struct Client {
    info: v1::FrameworkInfo,
    sess: Sess,
    backoff_ms: u64,
    hb_ms: u64,
    last_event_ms: u64,
}

#[derive(Debug)]
struct MarathonProc {
    core: Scheduler,
    inc: u64,
    paused: bool,
    client: Client,
}

#[derive(Debug)]
struct PlainProc {
    inc: u64,
    paused: bool,
    client: Client,
    tasks: BTreeMap<String, TaskState>,
    /// Tasks some master has told the framework about. The periodic reconciliation asks
    /// only about these: an ACCEPT may still be on its way (HTTP calls on separate
    /// connections overtake one another, and a paused master holds them), and the master
    /// rightly answers TASK_LOST for a task it has not heard of.
    heard: BTreeSet<String>,
}

/// Ids for a restarted scheduler that never repeat an earlier incarnation's.
#[derive(Debug)]
struct SimIds(u64);

impl IdSource for SimIds {
    fn next_id(&mut self) -> String {
        self.0 += 1;
        format!(
            "00000000-0000-0000-{:04x}-{:012x}",
            self.0 >> 32,
            self.0 & 0xffff_ffff
        )
    }
}

/// Knobs of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Number of agents.
    pub agents: usize,
    /// Master slots: 1 is a single master; 2 models an oracle election with the store's epoch
    /// as the fence; 3 or more runs the coordination model ([`crate::coord`]): the masters
    /// contend in one election group with sessions, and every commit is fenced by the
    /// writer's own membership.
    pub masters: usize,
    /// Whether registry commits are fenced (off only to show that the HA checks fire).
    pub fencing: bool,
    /// Tasks the plain framework keeps running.
    pub plain_tasks: usize,
    /// Most steps before the run is cut off (a livelock guard).
    pub max_steps: u64,
    /// Print every step.
    pub trace: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            agents: 3,
            masters: 1,
            fencing: true,
            plain_tasks: 2,
            max_steps: 60_000,
            trace: false,
        }
    }
}

/// The whole cluster.
pub struct World {
    /// The clock (ms since the epoch).
    pub now: u64,
    /// Steps taken.
    pub steps: u64,
    rng: ChaCha8Rng,
    /// The run's seed.
    seed: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    /// The network.
    pub net: Net,
    settings: Settings,
    next_conn: u64,
    next_inc: u64,
    next_run: u64,
    // Masters: slots, the durable registry behind a fenced store, the election.
    masters: Vec<Option<MasterProc>>,
    registry: Registry,
    store: MemoryStore,
    leader: usize,
    epoch: u64,
    store_fail: bool,
    store_slow_ms: u64,
    crash_mid_step: BTreeSet<NodeId>,
    /// The coordination model (HA runs): the ensemble, each slot's process, the slots cut
    /// off from the ensemble, and the current leadership term (its leader's member sequence).
    ensemble: Ensemble,
    contenders: Vec<Option<Contender>>,
    zk_cut: BTreeSet<usize>,
    term: Option<u64>,
    /// The slots a `PauseLeader` stopped.
    paused_leaders: Vec<usize>,
    /// Messages that reached a stopped process, in arrival order: they wait in its sockets
    /// and are read in that order when it resumes (see `deliver`).
    inbox: BTreeMap<NodeId, std::collections::VecDeque<Envelope>>,
    // Agents.
    hosts: Vec<AgentHost>,
    // Frameworks.
    marathon: Option<MarathonProc>,
    marathon_disk: MarathonDisk,
    marathon_ids: u64,
    plain: Option<PlainProc>,
    plain_fw_id: Option<String>,
    plain_next_task: u64,
    /// Invariant bookkeeping.
    pub checker: Checker,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// The master's configuration; with `acls`, a permissive `run_tasks` rule set, so every
/// ACCEPT waits for its authorization step ([`drover_core::master::authorizing`]) and agents
/// can leave between the two.
fn master_config(acls: bool) -> master::Config {
    master::Config {
        run_tasks: acls.then(|| drover_core::acl::RunTasks {
            acls: Vec::new(),
            permissive: true,
        }),
        // Drover's shipped defaults (`crates/master/src/flags.rs`).
        agent_ping_timeout_ms: 3_000,
        max_agent_ping_timeouts: 4,
        agent_reregister_timeout_ms: 60_000,
        allocation_interval_ms: 2_000,
        heartbeat_interval_ms: 5_000,
        ..Default::default()
    }
}

fn marathon_config() -> msched::Config {
    msched::Config {
        task_launch_timeout_ms: 60_000,
        reconciliation_interval_ms: 60_000,
        kill_retry_ms: 10_000,
        decline_refuse_seconds: 2.0,
        idle_refuse_seconds: 10.0,
        ..Default::default()
    }
}

fn capability(kind: v1::framework_info::capability::Type) -> v1::framework_info::Capability {
    v1::framework_info::Capability {
        r#type: Some(kind as i32),
    }
}

fn framework_info(fw: Fw, id: Option<String>) -> v1::FrameworkInfo {
    use v1::framework_info::capability::Type;
    let capabilities = match fw {
        Fw::Marathon => vec![
            capability(Type::PartitionAware),
            capability(Type::TaskKillingState),
        ],
        Fw::Plain => Vec::new(),
    };
    v1::FrameworkInfo {
        user: "root".into(),
        name: match fw {
            Fw::Marathon => "marathon".into(),
            Fw::Plain => "plain".into(),
        },
        id: id.map(|value| v1::FrameworkId { value }),
        failover_timeout: Some(7.0 * 24.0 * 3600.0),
        checkpoint: Some(true),
        capabilities,
        ..Default::default()
    }
}

fn sched_call(kind: call::Type) -> scheduler::Call {
    scheduler::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn is_terminal(state: TaskState) -> bool {
    drover_core::task::state::is_terminal(state)
}

impl World {
    /// A cluster for `seed`: masters, agents and both frameworks start at once.
    pub fn new(seed: u64, settings: Settings) -> World {
        let mut w = World {
            now: T0,
            steps: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            queue: BTreeMap::new(),
            seq: 0,
            net: Net::default(),
            next_conn: 1,
            next_inc: 1,
            next_run: 1,
            masters: (0..settings.masters).map(|_| None).collect(),
            registry: Registry::new("sim-master"),
            store: MemoryStore::new(),
            leader: 0,
            epoch: 0,
            store_fail: false,
            store_slow_ms: 0,
            crash_mid_step: BTreeSet::new(),
            ensemble: Ensemble::default(),
            contenders: (0..settings.masters).map(|_| None).collect(),
            zk_cut: BTreeSet::new(),
            term: None,
            paused_leaders: Vec::new(),
            inbox: BTreeMap::new(),
            hosts: (0..settings.agents)
                .map(|i| AgentHost {
                    boot_id: format!("boot-{i}-0"),
                    disk: AgentDisk::default(),
                    execs: BTreeMap::new(),
                    proc: None,
                })
                .collect(),
            marathon: None,
            marathon_disk: MarathonDisk::default(),
            marathon_ids: 0,
            plain: None,
            plain_fw_id: None,
            plain_next_task: 0,
            checker: Checker::default(),
            settings,
        };
        if w.ha() {
            w.checker.legit = Some(w.registry.clone());
            for slot in 0..w.masters.len() {
                w.start_contender(slot);
            }
            w.coord_settle();
            w.push(w.now + PING_MS, Ev::CoordTick);
        } else {
            w.start_master(0);
        }
        for i in 0..w.hosts.len() {
            w.start_agent(i);
        }
        w.start_marathon();
        w.start_plain();
        w
    }

    /// Schedules a plan's faults (offsets from now).
    pub fn schedule(&mut self, plan: &Plan) {
        for (at, fault) in &plan.faults {
            self.push(self.now + at, Ev::Fault(fault.clone()));
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn conn(&mut self) -> Conn {
        self.next_conn += 1;
        Conn(self.next_conn)
    }

    fn inc(&mut self) -> u64 {
        self.next_inc += 1;
        self.next_inc
    }

    fn delay(&mut self) -> u64 {
        if self.rng.random_bool(0.03) {
            self.rng.random_range(50..2_000)
        } else {
            self.rng.random_range(1..20)
        }
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.settings.trace {
            eprintln!(
                "[{:>10.3}s #{}] {}",
                (self.now - T0) as f64 / 1000.0,
                self.steps,
                what()
            );
        }
    }

    // ---- the loop -------------------------------------------------------------------------

    /// Runs until `until` (ms since the epoch) or the step cap; invariant violations end the
    /// run with an error.
    pub fn run_until(&mut self, until: u64) -> Result<(), String> {
        loop {
            if let Some(v) = self.checker.violation.take() {
                return Err(v);
            }
            if self.steps >= self.settings.max_steps {
                return Err(format!(
                    "step cap {} reached (livelock?)",
                    self.settings.max_steps
                ));
            }
            let next_ev = self.queue.first_key_value().map(|(k, _)| k.0);
            let next_tick = self.next_tick();
            let take_tick = match (next_ev, next_tick) {
                (Some(e), Some((t, _))) => t < e,
                (None, Some(_)) => true,
                _ => false,
            };
            let at = if take_tick {
                next_tick.map(|(t, _)| t)
            } else {
                next_ev
            };
            let Some(at) = at else {
                self.now = until;
                return Ok(());
            };
            if at > until {
                self.now = until;
                return Ok(());
            }
            self.now = self.now.max(at);
            self.steps += 1;
            if take_tick {
                let (_, node) = next_tick.expect("checked");
                self.tick(node);
            } else {
                let (_, ev) = self.queue.pop_first().expect("checked");
                self.event(ev);
            }
        }
    }

    /// The earliest core timer of a running, unpaused process.
    fn next_tick(&self) -> Option<(u64, NodeId)> {
        let mut best: Option<(u64, NodeId)> = None;
        let mut consider = |t: Option<u64>, n: NodeId| {
            if let Some(t) = t
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, n));
            }
        };
        for (slot, m) in self.masters.iter().enumerate() {
            if let Some(m) = m.as_ref().filter(|m| !m.paused) {
                consider(m.core.next_deadline(), NodeId::Master(slot));
            }
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if let Some(p) = h.proc.as_ref().filter(|p| !p.paused) {
                consider(p.core.next_deadline(), NodeId::Agent(i));
            }
        }
        if let Some(m) = self.marathon.as_ref().filter(|m| !m.paused) {
            consider(m.core.next_deadline(), NodeId::Marathon);
            consider(client_deadline(&m.client), NodeId::Marathon);
        }
        if let Some(p) = self.plain.as_ref().filter(|p| !p.paused) {
            consider(client_deadline(&p.client), NodeId::Plain);
        }
        best.map(|(t, n)| (t.max(self.now), n))
    }

    fn tick(&mut self, node: NodeId) {
        self.trace(|| format!("tick {node:?}"));
        match node {
            NodeId::Master(slot) => self.master_step(slot, master::Input::Tick),
            NodeId::Agent(i) => self.agent_step(i, agent::Input::Tick),
            NodeId::Marathon => {
                let due = self
                    .marathon
                    .as_ref()
                    .and_then(|m| client_deadline(&m.client))
                    .is_some_and(|t| t <= self.now);
                if due {
                    self.client_lost(Fw::Marathon, "missed heartbeats");
                } else {
                    self.marathon_step(msched::Input::Tick);
                }
            }
            NodeId::Plain => self.client_lost(Fw::Plain, "missed heartbeats"),
        }
    }

    fn paused(&self, node: NodeId) -> bool {
        match node {
            NodeId::Master(s) => self.masters[s].as_ref().is_some_and(|m| m.paused),
            NodeId::Agent(i) => self.hosts[i].proc.as_ref().is_some_and(|p| p.paused),
            NodeId::Marathon => self.marathon.as_ref().is_some_and(|m| m.paused),
            NodeId::Plain => self.plain.as_ref().is_some_and(|p| p.paused),
        }
    }

    fn proc_inc(&self, node: NodeId) -> Option<u64> {
        match node {
            NodeId::Master(s) => self.masters[s].as_ref().map(|m| m.inc),
            NodeId::Agent(i) => self.hosts[i].proc.as_ref().map(|p| p.inc),
            NodeId::Marathon => self.marathon.as_ref().map(|m| m.inc),
            NodeId::Plain => self.plain.as_ref().map(|p| p.inc),
        }
    }

    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver(env) => self.deliver(*env),
            Ev::Fault(f) => {
                self.trace(|| format!("FAULT {f:?}"));
                self.fault(f);
            }
            Ev::Proc(node, inc, local) => {
                if self.proc_inc(node) != Some(inc) {
                    return;
                }
                if self.paused(node) {
                    // A stopped process handles nothing; it finds the work queued on resume.
                    self.push(self.now + 1_000, Ev::Proc(node, inc, local));
                    return;
                }
                self.local(node, local);
            }
            Ev::Exec(i, cid, run, e) => {
                if self.hosts[i].execs.get(&cid).is_some_and(|x| x.run == run) {
                    self.exec_event(i, &cid, e);
                }
            }
            Ev::CoordTick => {
                self.coord_tick();
                self.push(self.now + PING_MS, Ev::CoordTick);
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, payload: Payload) {
        let to_inc = self.proc_inc(to).unwrap_or(0);
        let delay = self.delay();
        let at = self.net.arrival(from, to, self.now, delay);
        let dup = matches!(&payload, Payload::AgentCall { call, .. }
                if call.r#type == Some(agent_call::Type::StatusUpdate as i32))
            || matches!(&payload, Payload::SchedCall { call, .. }
                if call.r#type == Some(call::Type::Acknowledge as i32));
        let twice = dup && self.net.dup_p > 0.0 && self.rng.random_bool(self.net.dup_p);
        let env = Envelope {
            from,
            to,
            to_inc,
            payload,
        };
        if twice {
            self.push(at, Ev::Deliver(Box::new(env.clone())));
        }
        self.push(at, Ev::Deliver(Box::new(env)));
    }

    fn deliver(&mut self, env: Envelope) {
        let stream = env.payload.stream();
        let lost_stream = stream.is_some_and(|c| self.net.broken.contains(&c));
        let blocked = !self.net.reachable(env.from, env.to);
        let random_loss = stream.is_none()
            && !matches!(
                env.payload,
                Payload::StreamEnd { .. } | Payload::ClientGone { .. }
            )
            && self.net.drop_p > 0.0
            && self.rng.random_bool(self.net.drop_p);
        let dead = self.proc_inc(env.to) != Some(env.to_inc);
        if lost_stream || blocked || random_loss || dead {
            self.trace(|| {
                format!(
                    "drop {:?}->{:?} {} (blocked={blocked} dead={dead})",
                    env.from,
                    env.to,
                    env.payload.name()
                )
            });
            if let Some(c) = stream {
                self.net.broken.insert(c);
            }
            self.request_failed(env, blocked || random_loss);
            return;
        }
        let queued = self.inbox.get(&env.to).is_some_and(|q| !q.is_empty());
        if self.paused(env.to) || queued {
            // A stopped process leaves its messages in its sockets and reads them in order on
            // resume (`Fault::Resume` drains the inbox); what arrives meanwhile queues behind
            // them. Re-sending each held message through the link's clock once a second let a
            // later message with a long network delay overtake an earlier held one (seed
            // 5255214978427390728: Marathon's KILL of a provisioned task reached the master
            // before the ACCEPT that launched it).
            self.trace(|| format!("held {:?}->{:?} {}", env.from, env.to, env.payload.name()));
            self.inbox.entry(env.to).or_default().push_back(env);
            return;
        }
        self.handle_delivery(env);
    }

    /// Delivers what a resumed process found waiting, in order, until it stops again.
    fn drain_inbox(&mut self, node: NodeId) {
        while !self.paused(node) {
            let Some(env) = self.inbox.get_mut(&node).and_then(|q| q.pop_front()) else {
                break;
            };
            if self.proc_inc(env.to) != Some(env.to_inc) || !self.net.reachable(env.from, env.to) {
                // Dead or cut off by now: the sender learns as for any lost request.
                self.trace(|| {
                    format!(
                        "drop held {:?}->{:?} {}",
                        env.from,
                        env.to,
                        env.payload.name()
                    )
                });
                if let Some(c) = env.payload.stream() {
                    self.net.broken.insert(c);
                }
                let blocked = !self.net.reachable(env.from, env.to);
                self.request_failed(env, blocked);
                continue;
            }
            self.handle_delivery(env);
        }
    }

    fn handle_delivery(&mut self, env: Envelope) {
        self.trace(|| format!("{:?}->{:?} {}", env.from, env.to, env.payload.name()));
        match env.to {
            NodeId::Master(slot) => self.master_receive(slot, env.from, env.payload),
            NodeId::Agent(i) => self.agent_receive(i, env.payload),
            NodeId::Marathon => self.client_receive(Fw::Marathon, env.payload),
            NodeId::Plain => self.client_receive(Fw::Plain, env.payload),
        }
    }

    /// A lost request: the sender's HTTP client sees an error (at once when the process is
    /// gone, after its timeout when the network ate it).
    fn request_failed(&mut self, env: Envelope, timeout: bool) {
        let (conn, accept) = match &env.payload {
            Payload::Subscribe { conn, .. } | Payload::AgentSubscribe { conn, .. } => (*conn, None),
            Payload::SchedCall { stream_id, call } => {
                let conn = Conn(stream_id.trim_start_matches('s').parse().unwrap_or(0));
                let accept = (call.r#type == Some(call::Type::Accept as i32))
                    .then(|| Box::new(call.clone()));
                (conn, accept)
            }
            _ => return,
        };
        if matches!(env.from, NodeId::Agent(_)) && matches!(env.payload, Payload::AgentCall { .. })
        {
            return;
        }
        if let Some(inc) = self.proc_inc(env.from) {
            let after = if timeout { REQUEST_TIMEOUT_MS } else { 10 };
            self.push(
                self.now + after,
                Ev::Proc(env.from, inc, Local::RequestFailed { conn, accept }),
            );
        }
    }

    fn local(&mut self, node: NodeId, local: Local) {
        self.trace(|| format!("local {node:?} {}", local_name(&local)));
        match (node, local) {
            (NodeId::Agent(i), Local::Reconnect) => self.agent_connect(i),
            (NodeId::Agent(i), Local::MasterPingTimeout(c)) => {
                let Some(p) = self.hosts[i].proc.as_ref() else {
                    return;
                };
                if !matches!(p.sess, Sess::Connected { conn, .. } if conn == c) {
                    return;
                }
                if self.now >= p.ping_deadline {
                    self.trace(|| format!("agent {i}: no PING from the master; re-detecting"));
                    self.agent_session_lost(i);
                } else {
                    let (at, inc) = (p.ping_deadline, p.inc);
                    self.push(
                        at,
                        Ev::Proc(NodeId::Agent(i), inc, Local::MasterPingTimeout(c)),
                    );
                }
            }
            (
                NodeId::Agent(i),
                Local::SubscribeTimeout(c) | Local::RequestFailed { conn: c, .. },
            ) => {
                let connecting = self.hosts[i]
                    .proc
                    .as_ref()
                    .is_some_and(|p| matches!(p.sess, Sess::Connecting { conn, .. } if conn == c));
                if connecting {
                    self.agent_session_lost(i);
                }
            }
            (NodeId::Agent(i), Local::AgentInput(input)) => self.agent_step(i, *input),
            (NodeId::Master(slot), Local::Authorized(ticket)) => {
                self.master_step(slot, master::Input::Authorized { ticket })
            }
            (NodeId::Agent(i), Local::ExecCall { cid, run, call }) => {
                self.exec_call_arrives(i, cid, run, *call)
            }
            (NodeId::Marathon | NodeId::Plain, local) => {
                let fw = if node == NodeId::Marathon {
                    Fw::Marathon
                } else {
                    Fw::Plain
                };
                match local {
                    Local::Reconnect => self.client_connect(fw),
                    // The HTTP client's timeout bounds connecting and the response headers;
                    // the event stream itself has none (`drover_http::Client::post_stream`).
                    Local::SubscribeTimeout(c)
                        if self.client(fw).is_some_and(
                            |cl| matches!(cl.sess, Sess::Connecting { conn, .. } if conn == c),
                        ) =>
                    {
                        self.client_lost(fw, "subscribe timed out");
                    }
                    // The real client sends calls inside the session and ends it on a
                    // failed call, answering an ACCEPT locally first. A call of a session
                    // that has since been replaced was abandoned with it: the framework has
                    // resubscribed and reconciles (a local TASK_DROPPED now could follow
                    // newer news of the task, e.g. TASK_GONE).
                    Local::RequestFailed { conn, accept }
                        if self
                            .client(fw)
                            .is_some_and(|cl| cl.sess.conn() == Some(conn)) =>
                    {
                        if let Some(call) = accept {
                            self.accept_undeliverable(fw, &call);
                        }
                        self.client_lost(fw, "request failed");
                    }
                    Local::FrameworkUpdate(status) => self.framework_update(fw, *status, true),
                    Local::Reconcile(conn)
                        if fw == Fw::Plain
                            && self.client(fw).is_some_and(|cl| {
                                matches!(cl.sess, Sess::Connected { conn: c, .. } if c == conn)
                            }) =>
                    {
                        self.plain_reconcile(conn, false);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    // ---- masters --------------------------------------------------------------------------

    /// Whether this run has the coordination model (three or more master slots).
    fn ha(&self) -> bool {
        self.settings.masters >= 3
    }

    fn start_master(&mut self, slot: usize) {
        self.epoch += 1;
        self.leader = slot;
        // Winning the election raises the store's epoch (a fenced empty batch), which fences
        // every earlier leader's later writes.
        let _ = self.store.commit(WriteBatch::fenced(Epoch(self.epoch)));
        self.start_core(slot, self.epoch);
    }

    /// The elected master loads the registry and starts its driver in `epoch`.
    fn start_core(&mut self, slot: usize, epoch: u64) {
        let inc = self.inc();
        // Odd seeds run the master with ACLs (taken from the seed, not the random stream, so
        // the even seeds replay as before).
        let core = Master::new(
            master_config(self.seed % 2 == 1),
            self.registry.clone(),
            self.now,
        );
        self.masters[slot] = Some(MasterProc {
            core,
            inc,
            epoch,
            paused: false,
            streams: BTreeMap::new(),
            pending_subscribe: BTreeSet::new(),
        });
        self.trace(|| format!("master {slot} starts, epoch {epoch}"));
    }

    // ---- the coordination model (HA runs) --------------------------------------------------

    /// A master process starts (HA): it opens a session and joins the election group.
    fn start_contender(&mut self, slot: usize) {
        if self.contenders[slot].is_some() {
            return;
        }
        if self.zk_cut.contains(&slot) {
            // It cannot open a session: it exits, and its supervisor tries again.
            self.trace(|| format!("master {slot} cannot reach the ensemble; exits"));
            let at = self.now + 2_000 + self.rng.random_range(0..3_000);
            self.push(at, Ev::Fault(Fault::Restart(NodeId::Master(slot))));
            return;
        }
        let session = self.ensemble.open(self.now);
        let member = self
            .ensemble
            .join(session, slot)
            .expect("a new session is alive");
        self.contenders[slot] = Some(Contender {
            session,
            member,
            lease_from: self.now,
            paused: false,
        });
        self.trace(|| format!("master {slot} joins the group as member {member}"));
    }

    /// After any change to the group: a new lowest member starts a new term (the clients'
    /// detectors see it and reconnect), and the lowest member, once it runs, leads.
    fn coord_settle(&mut self) {
        let Some((seq, slot)) = self.ensemble.leader() else {
            // No member: no term (the clients' detectors keep their last leader and fail).
            self.term = None;
            return;
        };
        if self.term != Some(seq) {
            self.trace(|| format!("term {seq}: master {slot} is the lowest member"));
            self.checker.new_term(seq);
            self.term = Some(seq);
            self.leader = slot;
            self.epoch = seq;
            self.leader_changed();
        }
        let runnable = self.contenders[slot]
            .as_ref()
            .is_some_and(|c| c.member == seq && !c.paused);
        if runnable && self.masters[slot].is_none() {
            self.checker.recovered(&self.registry, seq);
            self.start_core(slot, seq);
        }
    }

    /// Every [`PING_MS`]: the ensemble expires silent sessions; each running process pings
    /// (renewing its lease, or learning that its session is gone) and stops once it cannot
    /// vouch for its session; then the election settles.
    fn coord_tick(&mut self) {
        for session in self.ensemble.expire_stale(self.now) {
            self.trace(|| format!("the ensemble expires session {session}"));
        }
        for slot in 0..self.contenders.len() {
            let Some(c) = self.contenders[slot].as_mut() else {
                continue;
            };
            if c.paused {
                continue;
            }
            // The client checks its lease before it pings: once lapsed, the session is lost
            // for good, even if the ensemble still holds it.
            if self.now.saturating_sub(c.lease_from) > LEASE_MS {
                self.master_exit(slot, "no answer from the ensemble within the lease");
                continue;
            }
            if !self.zk_cut.contains(&slot) {
                if !self.ensemble.touch(c.session, self.now) {
                    self.master_exit(slot, "the coordination session expired");
                    continue;
                }
                c.lease_from = self.now;
            }
        }
        self.coord_settle();
    }

    /// Whether the master in `slot` vouches for its session now (HA; always true otherwise):
    /// the driver refuses every request once it does not, and stops.
    fn master_live(&mut self, slot: usize) -> bool {
        if !self.ha() {
            return true;
        }
        let lapsed = self.contenders[slot]
            .as_ref()
            .is_none_or(|c| self.now.saturating_sub(c.lease_from) > LEASE_MS);
        if lapsed {
            self.master_exit(slot, "the lease lapsed");
        }
        !lapsed
    }

    /// A master process stops on its own (HA: deposed, lost its session, a failed commit): it
    /// closes its session if it can reach the ensemble, so its member goes at once (else the
    /// ensemble expires it), and its supervisor starts it again.
    fn master_exit(&mut self, slot: usize, why: &str) {
        self.trace(|| format!("master {slot} stops: {why}"));
        self.crash_master(slot);
        if let Some(c) = self.contenders[slot].take()
            && !self.zk_cut.contains(&slot)
        {
            self.ensemble.close(c.session);
        }
        self.paused_leaders.retain(|&s| s != slot);
        let at = self.now + 2_000 + self.rng.random_range(0..3_000);
        self.push(at, Ev::Fault(Fault::Restart(NodeId::Master(slot))));
        self.coord_settle();
    }

    fn crash_master(&mut self, slot: usize) {
        if let Some(m) = self.masters[slot].take() {
            // The kernel closes every socket of the dead process.
            for (conn, owner) in m.streams {
                self.send(NodeId::Master(slot), owner, Payload::StreamEnd { conn });
            }
        }
    }

    fn master_receive(&mut self, slot: usize, from: NodeId, payload: Payload) {
        if self.masters[slot].is_some() && !self.master_live(slot) {
            return;
        }
        let input = {
            let Some(m) = self.masters[slot].as_mut() else {
                return;
            };
            match payload {
                Payload::Subscribe { conn, call } => {
                    m.streams.insert(conn, from);
                    m.pending_subscribe.insert(conn);
                    master::Input::Subscribe {
                        conn,
                        stream_id: format!("s{}", conn.0),
                        call,
                    }
                }
                Payload::AgentSubscribe { conn, call } => {
                    m.streams.insert(conn, from);
                    m.pending_subscribe.insert(conn);
                    master::Input::AgentSubscribe {
                        conn,
                        stream_id: format!("a{}", conn.0),
                        call,
                    }
                }
                Payload::SchedCall { stream_id, call } => {
                    self.next_conn += 1;
                    master::Input::SchedulerCall {
                        req: Conn(self.next_conn),
                        stream_id: Some(stream_id),
                        call,
                    }
                }
                Payload::AgentCall { stream_id, call } => {
                    self.next_conn += 1;
                    master::Input::AgentCall {
                        req: Conn(self.next_conn),
                        stream_id: Some(stream_id),
                        call,
                    }
                }
                Payload::ClientGone { conn, agent } => {
                    if m.streams.remove(&conn).is_none() {
                        return;
                    }
                    if agent {
                        master::Input::AgentClosed { conn }
                    } else {
                        master::Input::SchedulerClosed { conn }
                    }
                }
                _ => return,
            }
        };
        self.master_step(slot, input);
    }

    fn master_step(&mut self, slot: usize, input: master::Input) {
        let now = self.now;
        let node = NodeId::Master(slot);
        let (effects, epoch) = {
            let Some(m) = self.masters[slot].as_mut() else {
                return;
            };
            let before = m.core.task_states();
            let effects = m.core.handle(now, input);
            if let Err(e) = m.core.check_invariants() {
                self.checker.fail(format!("master invariant: {e}"));
            }
            if let Err(e) = m.core.check_step(&before, &effects) {
                self.checker.fail(format!("master step: {e}"));
            }
            (effects, m.epoch)
        };
        let ops: Vec<RegistryOp> = effects
            .iter()
            .filter_map(|e| match e {
                master::Effect::Persist(op) => Some(op.clone()),
                _ => None,
            })
            .collect();
        if self.crash_mid_step.remove(&node) {
            // Torn step: the commit may or may not have happened; nothing after it did.
            if self.rng.random_bool(0.5) {
                self.commit_registry(epoch, &ops);
            }
            self.trace(|| format!("master {slot} crashes mid-step"));
            self.crash_master(slot);
            // kill -9: the session stays until the ensemble expires it.
            self.contenders[slot] = None;
            return;
        }
        if self.store_fail && !ops.is_empty() {
            // The driver stops on a failed commit (fail-stop); it restarts from the registry.
            self.store_fail = false;
            if self.ha() {
                self.master_exit(slot, "a registry write failed");
                return;
            }
            self.trace(|| format!("master {slot}: registry write fails; stopping"));
            self.crash_master(slot);
            let at = self.now + 5_000;
            self.push(at, Ev::Fault(Fault::Restart(node)));
            return;
        }
        // Every step is fenced, including those with nothing to write: a deposed leader must
        // not act on reads either (see the report: the master driver skips empty batches).
        if !self.commit_registry(epoch, &ops) {
            if self.ha() {
                self.master_exit(slot, "fenced: its member is gone");
                return;
            }
            self.trace(|| format!("master {slot} fenced at epoch {epoch}; stopping"));
            self.crash_master(slot);
            return;
        }
        if self.store_slow_ms > 0 && !ops.is_empty() {
            // A slow commit holds the whole driver loop.
            let until = self.now + self.store_slow_ms;
            if let Some(m) = self.masters[slot].as_mut() {
                m.paused = true;
            }
            self.push(until, Ev::Fault(Fault::Resume(node)));
        }
        let mut acted = false;
        for effect in effects.into_iter().flat_map(master::Effect::into_single) {
            let Some(m) = self.masters[slot].as_mut() else {
                return;
            };
            let out: Option<(NodeId, Payload)> = match effect {
                master::Effect::Persist(_)
                | master::Effect::ToOperators(_)
                | master::Effect::Warn(_) => None,
                master::Effect::Reply { req, reply } => {
                    if m.pending_subscribe.remove(&req) {
                        let ok = reply == master::Reply::Stream;
                        let owner = if ok {
                            m.streams.get(&req).copied()
                        } else {
                            m.streams.remove(&req)
                        };
                        owner.map(|o| (o, Payload::StreamReply { conn: req, ok }))
                    } else {
                        None
                    }
                }
                master::Effect::ToScheduler { conn, event } => m
                    .streams
                    .get(&conn)
                    .map(|o| (*o, Payload::SchedEvent { conn, event })),
                master::Effect::ToSchedulerUpdates { .. } => {
                    unreachable!("Effect::into_single expanded it into single events")
                }
                master::Effect::ToAgent { conn, event } => m
                    .streams
                    .get(&conn)
                    .map(|o| (*o, Payload::AgentEvent { conn, event })),
                master::Effect::CloseScheduler { conn } | master::Effect::CloseAgent { conn } => m
                    .streams
                    .remove(&conn)
                    .map(|o| (o, Payload::StreamEnd { conn })),
                // The answer comes back after whatever the network delivers meanwhile.
                master::Effect::Authorize { ticket } => {
                    let inc = m.inc;
                    let at = self.now + self.delay();
                    self.push(at, Ev::Proc(node, inc, Local::Authorized(ticket)));
                    None
                }
            };
            if let Some((to, payload)) = out {
                acted = true;
                self.send(node, to, payload);
            }
        }
        if acted {
            self.checker.acted(epoch, slot);
            if self.ha() {
                // What the master answered after the commit is acknowledged.
                self.checker.acted_in_term(epoch, slot, self.term);
                self.checker.acknowledged(&ops);
            }
        }
    }

    /// Commits a step's registry writes under the step's epoch; false when fenced.
    fn commit_registry(&mut self, epoch: u64, ops: &[RegistryOp]) -> bool {
        if self.ha() {
            // The fence: the writer's own member must still exist.
            if self.settings.fencing && !self.ensemble.is_member(epoch) {
                return false;
            }
            self.checker.committed(epoch, self.term, ops);
            for op in ops {
                self.registry.apply(op);
            }
            return true;
        }
        let mut batch = WriteBatch::fenced(Epoch(epoch));
        if !ops.is_empty() {
            batch.put("master", "revision", self.steps.to_be_bytes().to_vec());
        }
        match self.store.commit(batch) {
            Ok(_) => {
                for op in ops {
                    self.registry.apply(op);
                }
                true
            }
            Err(_) => false,
        }
    }

    // ---- agents ---------------------------------------------------------------------------

    fn start_agent(&mut self, i: usize) {
        let inc = self.inc();
        let resources = drover_core::resources::parse(AGENT_RESOURCES).expect("valid");
        let config = agent::Config {
            work_dir: "/sim".into(),
            launcher: "/sim/drover".into(),
            executor_registration_timeout_ms: 60_000,
            executor_reregistration_timeout_ms: 2_000,
            executor_shutdown_grace_ms: 5_000,
            agent_info: v1::AgentInfo {
                hostname: format!("host{i}"),
                port: Some(5051),
                resources,
                ..Default::default()
            },
            boot_id: self.hosts[i].boot_id.clone(),
            ip: None,
            run_tasks: None,
            oversubscription: false,
        };
        let mut seed = [0u8; 16];
        self.rng.fill(&mut seed);
        let core = Agent::new(config, seed);
        let host = &self.hosts[i];
        let recovered = host
            .disk
            .recovered(&host.boot_id, |cid| host.execs.contains_key(cid));
        self.hosts[i].proc = Some(AgentProc {
            core,
            inc,
            paused: false,
            sess: Sess::Idle,
            attempt: 0,
            started: false,
            exec_conns: BTreeMap::new(),
            requests: BTreeMap::new(),
            ping_deadline: 0,
            master_silence_ms: agent::session::DEFAULT_MASTER_PING_TIMEOUT_MS,
            connected_at: 0,
        });
        self.trace(|| format!("agent {i} starts (rebooted={})", recovered.rebooted));
        self.agent_step(i, agent::Input::Recover(recovered));
        // The driver records this boot's id right after recovery.
        let boot_id = self.hosts[i].boot_id.clone();
        if let Some(agent_id) = self.hosts[i]
            .proc
            .as_ref()
            .and_then(|p| p.core.agent_id().map(str::to_owned))
        {
            self.hosts[i]
                .disk
                .apply(&agent::CheckpointOp::Agent { agent_id, boot_id });
        }
    }

    fn crash_agent(&mut self, i: usize) {
        let Some(p) = self.hosts[i].proc.take() else {
            return;
        };
        if let Sess::Connecting { conn, slot } | Sess::Connected { conn, slot, .. } = p.sess {
            self.send(
                NodeId::Agent(i),
                NodeId::Master(slot),
                Payload::ClientGone { conn, agent: true },
            );
        }
        // Executors see their streams close and start resubscribing.
        let cids: Vec<String> = self.hosts[i].execs.keys().cloned().collect();
        for cid in cids {
            let x = self.hosts[i].execs.get_mut(&cid).expect("listed");
            x.conn = None;
            x.subscribing = false;
            x.gave_up_at = self.now + 15 * 60_000;
            let run = x.run;
            self.push(self.now + 200, Ev::Exec(i, cid, run, ExecEv::Subscribe));
        }
    }

    fn agent_connect(&mut self, i: usize) {
        let slot = self.leader;
        let conn = self.conn();
        let Some(p) = self.hosts[i].proc.as_mut() else {
            return;
        };
        if p.sess != Sess::Idle || !p.started {
            return;
        }
        let call = p.core.registration_call("1.11.0");
        p.sess = Sess::Connecting { conn, slot };
        let inc = p.inc;
        self.send(
            NodeId::Agent(i),
            NodeId::Master(slot),
            Payload::AgentSubscribe { conn, call },
        );
        self.push(
            self.now + REQUEST_TIMEOUT_MS,
            Ev::Proc(NodeId::Agent(i), inc, Local::SubscribeTimeout(conn)),
        );
    }

    /// The session broke: tell the core, and retry with Mesos' random backoff.
    fn agent_session_lost(&mut self, i: usize) {
        let Some(p) = self.hosts[i].proc.as_mut() else {
            return;
        };
        let was_connected = matches!(p.sess, Sess::Connected { .. });
        p.sess = Sess::Idle;
        let cap = (1_000u64 << p.attempt.min(16)).min(60_000);
        p.attempt = p.attempt.saturating_add(1);
        let inc = p.inc;
        let wait = self.rng.random_range(0..cap.max(1));
        if was_connected {
            self.agent_step(i, agent::Input::Disconnected);
        }
        self.push(
            self.now + wait,
            Ev::Proc(NodeId::Agent(i), inc, Local::Reconnect),
        );
    }

    fn agent_receive(&mut self, i: usize, payload: Payload) {
        let Some(p) = self.hosts[i].proc.as_mut() else {
            return;
        };
        match payload {
            Payload::StreamReply { conn, ok } => {
                if let Sess::Connecting { conn: c, slot } = p.sess
                    && c == conn
                {
                    if ok {
                        p.sess = Sess::Connected {
                            conn,
                            stream_id: format!("a{}", conn.0),
                            slot,
                        };
                        p.master_silence_ms = agent::session::master_ping_timeout_ms(None);
                        p.ping_deadline = self.now + p.master_silence_ms;
                        p.connected_at = self.now;
                        let (at, inc) = (p.ping_deadline, p.inc);
                        self.push(
                            at,
                            Ev::Proc(NodeId::Agent(i), inc, Local::MasterPingTimeout(conn)),
                        );
                    } else {
                        self.agent_session_lost(i);
                    }
                }
            }
            Payload::StreamEnd { conn } if p.sess.conn() == Some(conn) => {
                self.agent_session_lost(i);
            }
            Payload::AgentEvent { conn, event } => {
                let Sess::Connected {
                    conn: c,
                    ref stream_id,
                    slot,
                } = p.sess
                else {
                    return;
                };
                if c != conn {
                    return;
                }
                if let Some(registered) = event.registered.as_ref().or(event.reregistered.as_ref())
                {
                    p.master_silence_ms = agent::session::master_ping_timeout_ms(Some(registered));
                }
                p.ping_deadline = self.now + p.master_silence_ms;
                let stream_id = stream_id.clone();
                if event.r#type == Some(agent_event::Type::Ping as i32) {
                    // The master refuses a PONG without `agent_id` (400); the first seed
                    // run found drover-agent sending none, so every agent went unreachable.
                    let agent_id = p.core.agent_id().map(|value| v1::AgentId {
                        value: value.to_owned(),
                    });
                    let pong = AgentCall {
                        r#type: Some(agent_call::Type::Pong as i32),
                        agent_id,
                        pong: Some(agent_call::Pong {
                            sequence: event.ping.and_then(|p| p.sequence),
                        }),
                        ..Default::default()
                    };
                    self.send(
                        NodeId::Agent(i),
                        NodeId::Master(slot),
                        Payload::AgentCall {
                            stream_id,
                            call: pong,
                        },
                    );
                    return;
                }
                if let Some(input) = agent_input(*event, &mut p.attempt) {
                    self.agent_step(i, input);
                }
            }
            _ => {}
        }
    }

    fn agent_step(&mut self, i: usize, input: agent::Input) {
        let now = self.now;
        let node = NodeId::Agent(i);
        let effects = {
            let Some(p) = self.hosts[i].proc.as_mut() else {
                return;
            };
            let effects = p.core.handle(now, input);
            p.core.check_invariants();
            effects
        };
        if self.crash_mid_step.remove(&node) {
            if self.rng.random_bool(0.5) {
                for e in &effects {
                    if let agent::Effect::Checkpoint(op) = e {
                        self.hosts[i].disk.apply(op);
                    }
                }
            }
            self.trace(|| format!("agent {i} crashes mid-step"));
            self.crash_agent(i);
            return;
        }
        for e in &effects {
            if let agent::Effect::Checkpoint(op) = e {
                self.hosts[i].disk.apply(op);
            }
        }
        if let Some(p) = self.hosts[i].proc.as_ref() {
            crate::check::agent_resources(&mut self.checker, i, &p.core);
        }
        for effect in effects {
            self.agent_effect(i, effect);
        }
    }

    fn agent_effect(&mut self, i: usize, effect: agent::Effect) {
        let Some(p) = self.hosts[i].proc.as_mut() else {
            return;
        };
        let inc = p.inc;
        match effect {
            agent::Effect::Checkpoint(_) => {}
            // The simulator keeps no sandboxes on disk: a deletion is done at once.
            agent::Effect::RemoveDirectories(paths) => {
                for path in paths {
                    self.agent_step(i, agent::Input::DirectoryRemoved(path));
                }
            }
            agent::Effect::Launch(spec) => {
                self.next_run += 1;
                let run = self.next_run;
                let cid = spec.container_id.0.clone();
                let killing_capable = spec.framework_info.capabilities.iter().any(|c| {
                    c.r#type == Some(v1::framework_info::capability::Type::TaskKillingState as i32)
                });
                self.hosts[i].execs.insert(
                    cid.clone(),
                    ExecProc {
                        run,
                        framework_id: spec.framework_id.0.clone(),
                        executor_id: spec.executor_info.executor_id.value.clone(),
                        killing_capable,
                        task: None,
                        acked_any: false,
                        unacked: Vec::new(),
                        conn: None,
                        subscribing: false,
                        killing: false,
                        terminal_sent: false,
                        backoff_ms: 100,
                        gave_up_at: self.now + 60_000,
                    },
                );
                let after = self.rng.random_range(5..300);
                if self.rng.random_bool(0.01) {
                    self.hosts[i].execs.remove(&cid);
                    let input = agent::Input::ContainerLaunchFailed {
                        container_id: ContainerId(cid),
                        message: "simulated launch failure".into(),
                    };
                    self.push(
                        self.now + after,
                        Ev::Proc(NodeId::Agent(i), inc, Local::AgentInput(Box::new(input))),
                    );
                } else {
                    self.push(self.now + after, Ev::Exec(i, cid, run, ExecEv::Started));
                }
            }
            agent::Effect::Kill {
                container_id,
                grace_ms,
            } => {
                if let Some(x) = self.hosts[i].execs.get(&container_id.0) {
                    let run = x.run;
                    let after = grace_ms.min(self.rng.random_range(1..500));
                    self.push(
                        self.now + after,
                        Ev::Exec(i, container_id.0, run, ExecEv::Exit("killed".into())),
                    );
                }
            }
            agent::Effect::ToMaster(call) => {
                if let Sess::Connected {
                    ref stream_id,
                    slot,
                    ..
                } = p.sess
                {
                    let stream_id = stream_id.clone();
                    self.send(
                        NodeId::Agent(i),
                        NodeId::Master(slot),
                        Payload::AgentCall { stream_id, call },
                    );
                }
            }
            agent::Effect::ToExecutor { conn, event } => {
                if let Some(cid) = p.exec_conns.get(&conn.0).cloned()
                    && let Some(x) = self.hosts[i].execs.get(&cid)
                    && x.conn == Some(conn.0)
                {
                    let run = x.run;
                    self.push(
                        self.now + 1,
                        Ev::Exec(i, cid, run, ExecEv::Event(Box::new(event))),
                    );
                }
            }
            // Simulated executors have no cgroups: a resize has nothing to act on.
            agent::Effect::UpdateContainer { .. } => {}
            agent::Effect::CloseExecutor(conn) => {
                if let Some(cid) = p.exec_conns.remove(&conn.0)
                    && let Some(x) = self.hosts[i].execs.get_mut(&cid)
                    && x.conn == Some(conn.0)
                {
                    x.conn = None;
                }
            }
            agent::Effect::Reply { request, result } => {
                if let Some((cid, subscribe)) = p.requests.remove(&request.0)
                    && let Some(x) = self.hosts[i].execs.get_mut(&cid)
                    && subscribe
                {
                    x.subscribing = false;
                    if result.is_err() {
                        x.conn = None;
                        let run = x.run;
                        let wait = x.backoff_ms;
                        x.backoff_ms = (x.backoff_ms * 2).min(1_000);
                        self.push(self.now + wait, Ev::Exec(i, cid, run, ExecEv::Subscribe));
                    } else {
                        x.backoff_ms = 100;
                    }
                }
            }
            agent::Effect::StartMasterSession => {
                p.started = true;
                self.agent_connect(i);
            }
            // Simulated agents have no disks: volumes are bookkeeping in the core only.
            agent::Effect::SyncVolumes(_) => {}
        }
    }

    // ---- executors ------------------------------------------------------------------------

    fn exec_event(&mut self, i: usize, cid: &str, e: ExecEv) {
        self.trace(|| format!("exec {i}/{cid} {}", exec_name(&e)));
        match e {
            ExecEv::Started => {
                let inc = self.hosts[i].proc.as_ref().map(|p| p.inc);
                if let Some(inc) = inc {
                    let input = agent::Input::ContainerLaunched(ContainerId(cid.to_owned()));
                    self.push(
                        self.now,
                        Ev::Proc(NodeId::Agent(i), inc, Local::AgentInput(Box::new(input))),
                    );
                }
                self.exec_subscribe(i, cid);
            }
            ExecEv::Subscribe => {
                let x = &self.hosts[i].execs[cid];
                if x.conn.is_some() || x.subscribing {
                    return;
                }
                if self.now > x.gave_up_at {
                    // The executor gives up after its recovery timeout and kills its task.
                    self.hosts[i].execs.remove(cid);
                    return;
                }
                self.exec_subscribe(i, cid);
            }
            ExecEv::Event(event) => self.exec_on_event(i, cid, *event),
            ExecEv::TaskExit => {
                let x = self.hosts[i].execs.get(cid).expect("checked");
                if x.terminal_sent {
                    return;
                }
                let state = if x.killing {
                    TaskState::TaskKilled
                } else if self.rng.random_bool(0.8) {
                    TaskState::TaskFinished
                } else {
                    TaskState::TaskFailed
                };
                self.exec_send(i, cid, state, Some("Command exited".into()));
                let x = self.hosts[i].execs.get_mut(cid).expect("checked");
                x.terminal_sent = true;
                let run = x.run;
                // The executor waits for the acknowledgement, at most a while.
                self.push(
                    self.now + 60_000,
                    Ev::Exec(i, cid.to_owned(), run, ExecEv::Exit("exited".into())),
                );
            }
            ExecEv::Exit(message) => {
                self.hosts[i].execs.remove(cid);
                if let Some(inc) = self.hosts[i].proc.as_ref().map(|p| p.inc) {
                    let input = agent::Input::ContainerTerminated {
                        container_id: ContainerId(cid.to_owned()),
                        message,
                        oom_killed: false,
                    };
                    self.push(
                        self.now + 1,
                        Ev::Proc(NodeId::Agent(i), inc, Local::AgentInput(Box::new(input))),
                    );
                }
            }
        }
    }

    fn exec_call(&mut self, i: usize, cid: &str, call: exec::Call) {
        let x = &self.hosts[i].execs[cid];
        let run = x.run;
        if let Some(inc) = self.hosts[i].proc.as_ref().map(|p| p.inc) {
            self.push(
                self.now + 1,
                Ev::Proc(
                    NodeId::Agent(i),
                    inc,
                    Local::ExecCall {
                        cid: cid.to_owned(),
                        run,
                        call: Box::new(call),
                    },
                ),
            );
        } else if call.r#type == Some(exec::call::Type::Subscribe as i32) {
            // Connection refused: try again shortly.
            let x = self.hosts[i].execs.get_mut(cid).expect("checked");
            x.subscribing = false;
            self.push(
                self.now + 300,
                Ev::Exec(i, cid.to_owned(), run, ExecEv::Subscribe),
            );
        }
    }

    fn exec_base(x: &ExecProc, kind: exec::call::Type) -> exec::Call {
        exec::Call {
            executor_id: v1::ExecutorId {
                value: x.executor_id.clone(),
            },
            framework_id: v1::FrameworkId {
                value: x.framework_id.clone(),
            },
            r#type: Some(kind as i32),
            ..Default::default()
        }
    }

    fn exec_subscribe(&mut self, i: usize, cid: &str) {
        let x = self.hosts[i].execs.get_mut(cid).expect("checked");
        x.subscribing = true;
        let mut call = Self::exec_base(x, exec::call::Type::Subscribe);
        call.subscribe = Some(exec::call::Subscribe {
            unacknowledged_tasks: x.task.iter().filter(|_| !x.acked_any).cloned().collect(),
            unacknowledged_updates: x
                .unacked
                .iter()
                .map(|s| exec::call::Update { status: s.clone() })
                .collect(),
        });
        self.exec_call(i, cid, call);
    }

    /// An executor's call reaches the agent process.
    fn exec_call_arrives(&mut self, i: usize, cid: String, run: u64, call: exec::Call) {
        let live = self.hosts[i].execs.get(&cid).is_some_and(|x| x.run == run);
        if !live {
            return;
        }
        let Some(p) = self.hosts[i].proc.as_mut() else {
            return;
        };
        let subscribe = call.r#type == Some(exec::call::Type::Subscribe as i32);
        let request = RequestId(self.next_conn + 1);
        self.next_conn += 1;
        p.requests.insert(request.0, (cid.clone(), subscribe));
        let conn = if subscribe {
            let c = self.next_conn + 1;
            self.next_conn += 1;
            p.exec_conns.insert(c, cid.clone());
            if let Some(x) = self.hosts[i].execs.get_mut(&cid) {
                x.conn = Some(c);
            }
            Some(ConnId(c))
        } else {
            None
        };
        self.agent_step(
            i,
            agent::Input::ExecutorCall {
                request,
                conn,
                call,
            },
        );
    }

    fn exec_send(&mut self, i: usize, cid: &str, state: TaskState, message: Option<String>) {
        let mut uuid = vec![0u8; 16];
        self.rng.fill(&mut uuid[..]);
        let x = self.hosts[i].execs.get_mut(cid).expect("checked");
        let Some(task) = &x.task else {
            return;
        };
        let status = v1::TaskStatus {
            task_id: task.task_id.clone(),
            state: state as i32,
            message,
            source: Some(v1::task_status::Source::Executor as i32),
            executor_id: Some(v1::ExecutorId {
                value: x.executor_id.clone(),
            }),
            timestamp: Some(self.now as f64 / 1000.0),
            uuid: Some(uuid),
            ..Default::default()
        };
        x.unacked.push(status.clone());
        if x.conn.is_none() {
            // Kept in `unacked`: resent with the next SUBSCRIBE.
            return;
        }
        let mut call = Self::exec_base(x, exec::call::Type::Update);
        call.update = Some(exec::call::Update { status });
        self.exec_call(i, cid, call);
    }

    fn exec_on_event(&mut self, i: usize, cid: &str, event: exec::Event) {
        let kind = event
            .r#type
            .and_then(|t| exec::event::Type::try_from(t).ok());
        match kind {
            Some(exec::event::Type::Launch) => {
                let Some(launch) = event.launch else { return };
                let x = self.hosts[i].execs.get_mut(cid).expect("checked");
                if x.task.is_some() {
                    return;
                }
                let command = launch
                    .task
                    .command
                    .as_ref()
                    .and_then(|c| c.value.clone())
                    .unwrap_or_default();
                x.task = Some(launch.task);
                let run = x.run;
                self.exec_send(i, cid, TaskState::TaskStarting, None);
                self.exec_send(i, cid, TaskState::TaskRunning, None);
                if let Some(ms) = command
                    .strip_prefix("sim:")
                    .and_then(|d| d.parse::<u64>().ok())
                {
                    self.push(
                        self.now + ms,
                        Ev::Exec(i, cid.to_owned(), run, ExecEv::TaskExit),
                    );
                }
            }
            Some(exec::event::Type::Kill) | Some(exec::event::Type::Shutdown) => {
                let x = self.hosts[i].execs.get_mut(cid).expect("checked");
                let run = x.run;
                if x.task.is_none() {
                    self.push(
                        self.now + 1,
                        Ev::Exec(i, cid.to_owned(), run, ExecEv::Exit("shut down".into())),
                    );
                    return;
                }
                if x.killing || x.terminal_sent {
                    return;
                }
                x.killing = true;
                if x.killing_capable {
                    self.exec_send(i, cid, TaskState::TaskKilling, None);
                }
                let after = self.rng.random_range(10..2_000);
                self.push(
                    self.now + after,
                    Ev::Exec(i, cid.to_owned(), run, ExecEv::TaskExit),
                );
            }
            Some(exec::event::Type::Acknowledged) => {
                let Some(ack) = event.acknowledged else {
                    return;
                };
                let x = self.hosts[i].execs.get_mut(cid).expect("checked");
                x.unacked
                    .retain(|s| s.uuid.as_deref() != Some(ack.uuid.as_slice()));
                x.acked_any = true;
                if x.terminal_sent && x.unacked.is_empty() {
                    let run = x.run;
                    self.push(
                        self.now + 5,
                        Ev::Exec(
                            i,
                            cid.to_owned(),
                            run,
                            ExecEv::Exit("Command exited with status 0".into()),
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    // ---- frameworks -----------------------------------------------------------------------

    fn client(&self, fw: Fw) -> Option<&Client> {
        match fw {
            Fw::Marathon => self.marathon.as_ref().map(|m| &m.client),
            Fw::Plain => self.plain.as_ref().map(|p| &p.client),
        }
    }

    fn client_mut(&mut self, fw: Fw) -> Option<&mut Client> {
        match fw {
            Fw::Marathon => self.marathon.as_mut().map(|m| &mut m.client),
            Fw::Plain => self.plain.as_mut().map(|p| &mut p.client),
        }
    }

    fn start_marathon(&mut self) {
        let inc = self.inc();
        self.marathon_ids += 1 << 32;
        let core = Scheduler::restore(
            marathon_config(),
            Box::new(SimIds(self.marathon_ids)),
            self.marathon_disk.restored(),
        );
        let info = framework_info(Fw::Marathon, self.marathon_disk.framework_id.clone());
        self.marathon = Some(MarathonProc {
            core,
            inc,
            paused: false,
            client: new_client(info),
        });
        self.client_connect(Fw::Marathon);
    }

    fn start_plain(&mut self) {
        let inc = self.inc();
        let info = framework_info(Fw::Plain, self.plain_fw_id.clone());
        self.plain = Some(PlainProc {
            inc,
            paused: false,
            client: new_client(info),
            tasks: BTreeMap::new(),
            heard: BTreeSet::new(),
        });
        self.client_connect(Fw::Plain);
    }

    fn crash_framework(&mut self, fw: Fw) {
        let client = match fw {
            Fw::Marathon => self.marathon.take().map(|m| m.client),
            Fw::Plain => self.plain.take().map(|p| p.client),
        };
        if let Some(Client {
            sess: Sess::Connecting { conn, slot } | Sess::Connected { conn, slot, .. },
            ..
        }) = client
        {
            self.send(
                fw.node(),
                NodeId::Master(slot),
                Payload::ClientGone { conn, agent: false },
            );
        }
    }

    fn client_connect(&mut self, fw: Fw) {
        let slot = self.leader;
        let conn = self.conn();
        let now = self.now;
        let Some(inc) = self.proc_inc(fw.node()) else {
            return;
        };
        let Some(c) = self.client_mut(fw) else {
            return;
        };
        if c.sess != Sess::Idle {
            return;
        }
        c.sess = Sess::Connecting { conn, slot };
        c.last_event_ms = now;
        let mut call = sched_call(call::Type::Subscribe);
        call.framework_id = c.info.id.clone();
        call.subscribe = Some(call::Subscribe {
            framework_info: c.info.clone(),
            ..Default::default()
        });
        self.send(
            fw.node(),
            NodeId::Master(slot),
            Payload::Subscribe { conn, call },
        );
        self.push(
            now + REQUEST_TIMEOUT_MS,
            Ev::Proc(fw.node(), inc, Local::SubscribeTimeout(conn)),
        );
    }

    fn client_lost(&mut self, fw: Fw, why: &str) {
        let Some(inc) = self.proc_inc(fw.node()) else {
            return;
        };
        let Some(c) = self.client_mut(fw) else {
            return;
        };
        if c.sess == Sess::Idle {
            return;
        }
        let old = std::mem::replace(&mut c.sess, Sess::Idle);
        let wait = c.backoff_ms;
        c.backoff_ms = (c.backoff_ms * 2).min(30_000);
        self.trace(|| format!("{fw:?} disconnected: {why}"));
        if let Sess::Connected { conn, slot, .. } | Sess::Connecting { conn, slot } = old {
            // The client drops its connection; the master sees it close.
            self.send(
                fw.node(),
                NodeId::Master(slot),
                Payload::ClientGone { conn, agent: false },
            );
        }
        if fw == Fw::Marathon {
            self.marathon_step(msched::Input::Disconnected);
        }
        self.push(self.now + wait, Ev::Proc(fw.node(), inc, Local::Reconnect));
    }

    fn client_receive(&mut self, fw: Fw, payload: Payload) {
        let now = self.now;
        let Some(c) = self.client_mut(fw) else {
            return;
        };
        match payload {
            Payload::StreamReply { conn, ok } => {
                if let Sess::Connecting { conn: cc, slot } = c.sess
                    && cc == conn
                {
                    if ok {
                        c.sess = Sess::Connected {
                            conn,
                            stream_id: format!("s{}", conn.0),
                            slot,
                        };
                        c.last_event_ms = now;
                    } else {
                        self.client_lost(fw, "subscription refused");
                    }
                }
            }
            Payload::StreamEnd { conn } if c.sess.conn() == Some(conn) => {
                self.client_lost(fw, "stream ended");
            }
            Payload::SchedEvent { conn, event } => {
                if !matches!(c.sess, Sess::Connected { conn: cc, .. } if cc == conn) {
                    return;
                }
                c.last_event_ms = now;
                let kind = event.r#type.and_then(|t| event::Type::try_from(t).ok());
                match kind {
                    Some(event::Type::Subscribed) => {
                        let Some(s) = event.subscribed else { return };
                        if let Some(hb) = s.heartbeat_interval_seconds {
                            c.hb_ms = (hb * 1000.0) as u64;
                        }
                        c.info.id = Some(s.framework_id.clone());
                        c.backoff_ms = 500;
                        self.framework_subscribed(fw, s.framework_id.value);
                    }
                    Some(event::Type::Heartbeat) => {}
                    Some(event::Type::Error) => self.client_lost(fw, "master error"),
                    Some(event::Type::Offers) => {
                        let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                        self.framework_offers(fw, offers);
                    }
                    Some(event::Type::Update) => {
                        if let Some(u) = event.update {
                            self.framework_update(fw, u.status, false);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Sends a call on the subscription, or answers an ACCEPT locally when there is none.
    fn client_call(&mut self, fw: Fw, mut call: scheduler::Call) {
        let Some(c) = self.client(fw) else {
            return;
        };
        match &c.sess {
            Sess::Connected {
                stream_id, slot, ..
            } => {
                call.framework_id = c.info.id.clone();
                let (stream_id, slot) = (stream_id.clone(), *slot);
                self.send(
                    fw.node(),
                    NodeId::Master(slot),
                    Payload::SchedCall { stream_id, call },
                );
            }
            _ => {
                if call.r#type == Some(call::Type::Accept as i32) {
                    self.accept_undeliverable(fw, &call);
                }
            }
        }
    }

    /// The scheduler client's local TASK_DROPPED/TASK_LOST for an ACCEPT it could not send.
    fn accept_undeliverable(&mut self, fw: Fw, call: &scheduler::Call) {
        let Some(inc) = self.proc_inc(fw.node()) else {
            return;
        };
        let partition_aware = fw == Fw::Marathon;
        let row = emission(Trigger::AcceptWhileMasterDisconnected);
        let tasks: Vec<v1::TaskInfo> = call
            .accept
            .iter()
            .flat_map(|a| a.operations.iter())
            .flat_map(|op| op.launch.iter().flat_map(|l| l.task_infos.iter().cloned()))
            .collect();
        for task in tasks {
            let mut status = row.status(
                &task.task_id.value,
                partition_aware,
                TaskState::TaskStaging,
                None,
            );
            status.agent_id = Some(task.agent_id.clone());
            // As the real client does (drover-scheduler-client stamps its local updates).
            status.timestamp = Some(self.now as f64 / 1000.0);
            self.push(
                self.now,
                Ev::Proc(fw.node(), inc, Local::FrameworkUpdate(Box::new(status))),
            );
        }
    }

    fn framework_subscribed(&mut self, fw: Fw, framework_id: String) {
        match fw {
            Fw::Marathon => self.marathon_step(msched::Input::Subscribed { framework_id }),
            Fw::Plain => {
                self.plain_fw_id = Some(framework_id);
                if let Some(conn) = self.client(Fw::Plain).and_then(|c| c.sess.conn()) {
                    self.plain_reconcile(conn, true);
                }
                self.client_call(Fw::Plain, reconcile_call(&[]));
            }
        }
    }

    /// Asks the master about each of the plain framework's non-terminal tasks, and again
    /// after `PLAIN_RECONCILE_MS` while the session `conn` lives. At subscription it asks
    /// about every one (the old session's calls were abandoned with it); later only about
    /// those a master has told it of.
    fn plain_reconcile(&mut self, conn: Conn, all: bool) {
        let Some(p) = self.plain.as_ref() else {
            return;
        };
        let inc = p.inc;
        let known: Vec<(String, Option<String>)> = p
            .tasks
            .iter()
            .filter(|(_, s)| !is_terminal(**s))
            .filter(|(t, _)| all || p.heard.contains(*t))
            .map(|(t, _)| (t.clone(), None))
            .collect();
        if !known.is_empty() {
            self.client_call(Fw::Plain, reconcile_call(&known));
        }
        let at = self.now + PLAIN_RECONCILE_MS;
        self.push(at, Ev::Proc(NodeId::Plain, inc, Local::Reconcile(conn)));
    }

    fn framework_offers(&mut self, fw: Fw, offers: Vec<v1::Offer>) {
        match fw {
            Fw::Marathon => self.marathon_step(msched::Input::Offers(offers)),
            Fw::Plain => {
                for offer in offers {
                    let live = self.plain.as_ref().map_or(0, |p| {
                        p.tasks.values().filter(|s| !is_terminal(**s)).count()
                    });
                    let want = self.settings.plain_tasks;
                    let cpus = agent::model::scalar(&offer.resources, "cpus");
                    let mem = agent::model::scalar(&offer.resources, "mem");
                    if live < want && cpus >= 0.3 && mem >= 64.0 {
                        self.plain_next_task += 1;
                        let task_id = format!("plain-{}", self.plain_next_task);
                        let duration = self.rng.random_range(5_000..120_000);
                        let task = v1::TaskInfo {
                            name: task_id.clone(),
                            task_id: v1::TaskId {
                                value: task_id.clone(),
                            },
                            agent_id: offer.agent_id.clone(),
                            resources: drover_core::resources::parse("cpus:0.1;mem:16")
                                .expect("valid"),
                            command: Some(v1::CommandInfo {
                                value: Some(format!("sim:{duration}")),
                                ..Default::default()
                            }),
                            ..Default::default()
                        };
                        if let Some(p) = self.plain.as_mut() {
                            p.tasks.insert(task_id.clone(), TaskState::TaskStaging);
                        }
                        self.checker.launched(Fw::Plain, &task_id);
                        let mut call = sched_call(call::Type::Accept);
                        call.accept = Some(call::Accept {
                            offer_ids: vec![offer.id.clone()],
                            operations: vec![v1::offer::Operation {
                                r#type: Some(v1::offer::operation::Type::Launch as i32),
                                launch: Some(v1::offer::operation::Launch {
                                    task_infos: vec![task],
                                }),
                                ..Default::default()
                            }],
                            filters: None,
                        });
                        self.client_call(Fw::Plain, call);
                    } else {
                        let mut call = sched_call(call::Type::Decline);
                        call.decline = Some(call::Decline {
                            offer_ids: vec![offer.id.clone()],
                            filters: Some(v1::Filters {
                                refuse_seconds: Some(3.0),
                            }),
                        });
                        self.client_call(Fw::Plain, call);
                    }
                }
            }
        }
    }

    fn framework_update(&mut self, fw: Fw, status: v1::TaskStatus, local: bool) {
        self.trace(|| {
            format!(
                "{fw:?} gets {} {:?} {:?} {:?}{}",
                status.task_id.value,
                status.state(),
                status.reason.map(|_| status.reason()),
                status.source.map(|_| status.source()),
                if local { " (local)" } else { "" }
            )
        });
        self.checker.observe(fw, &status, self.now);
        match fw {
            Fw::Marathon => self.marathon_step(msched::Input::Update(status)),
            Fw::Plain => {
                let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
                if let Some(p) = self.plain.as_mut() {
                    p.tasks.insert(status.task_id.value.clone(), state);
                    if !local {
                        p.heard.insert(status.task_id.value.clone());
                    }
                }
                if let (Some(uuid), Some(agent_id)) = (status.uuid.clone(), status.agent_id.clone())
                {
                    let mut call = sched_call(call::Type::Acknowledge);
                    call.acknowledge = Some(call::Acknowledge {
                        agent_id,
                        task_id: status.task_id.clone(),
                        uuid,
                    });
                    self.client_call(Fw::Plain, call);
                }
            }
        }
    }

    fn marathon_step(&mut self, input: msched::Input) {
        let now = self.now;
        let effects = {
            let Some(m) = self.marathon.as_mut() else {
                return;
            };
            let effects = m.core.handle(now, input);
            m.core.check_invariants();
            effects
        };
        let changes: Vec<msched::Change> = effects
            .iter()
            .filter_map(|e| match e {
                msched::Effect::Persist(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let commit = |w: &mut World| {
            if let Some(m) = w.marathon.as_ref() {
                for c in &changes {
                    w.marathon_disk.apply(&m.core, c);
                }
            }
        };
        if self.crash_mid_step.remove(&NodeId::Marathon) {
            if self.rng.random_bool(0.5) {
                commit(self);
            }
            self.trace(|| "marathon crashes mid-step".into());
            self.crash_framework(Fw::Marathon);
            return;
        }
        commit(self);
        crate::check::acknowledged_apps(&mut self.checker, &self.marathon_disk);
        for effect in effects {
            let call = match effect {
                // The simulated apps have no readiness checks, so no probes are asked for.
                msched::Effect::Persist(_)
                | msched::Effect::Publish(_)
                | msched::Effect::Log(_)
                | msched::Effect::ReadinessProbe(_) => None,
                msched::Effect::Reply(reply) => {
                    self.checker
                        .operator_reply(&reply, self.marathon.as_ref().map(|m| &m.core));
                    None
                }
                msched::Effect::Launch {
                    offer_id, tasks, ..
                } => {
                    for t in &tasks {
                        self.checker.launched(Fw::Marathon, &t.task_id.value);
                    }
                    let mut c = sched_call(call::Type::Accept);
                    c.accept = Some(call::Accept {
                        offer_ids: vec![v1::OfferId { value: offer_id }],
                        operations: vec![v1::offer::Operation {
                            r#type: Some(v1::offer::operation::Type::Launch as i32),
                            launch: Some(v1::offer::operation::Launch { task_infos: tasks }),
                            ..Default::default()
                        }],
                        filters: None,
                    });
                    Some(c)
                }
                msched::Effect::Decline {
                    offer_ids,
                    refuse_seconds,
                } => {
                    let mut c = sched_call(call::Type::Decline);
                    c.decline = Some(call::Decline {
                        offer_ids: offer_ids
                            .into_iter()
                            .map(|value| v1::OfferId { value })
                            .collect(),
                        filters: Some(v1::Filters {
                            refuse_seconds: Some(refuse_seconds),
                        }),
                    });
                    Some(c)
                }
                msched::Effect::Kill { task_id, agent_id } => {
                    let mut c = sched_call(call::Type::Kill);
                    c.kill = Some(call::Kill {
                        task_id: v1::TaskId { value: task_id },
                        agent_id: agent_id.map(|value| v1::AgentId { value }),
                        kill_policy: None,
                    });
                    Some(c)
                }
                msched::Effect::Acknowledge {
                    agent_id,
                    task_id,
                    uuid,
                } => {
                    let mut c = sched_call(call::Type::Acknowledge);
                    c.acknowledge = Some(call::Acknowledge {
                        agent_id: v1::AgentId { value: agent_id },
                        task_id: v1::TaskId { value: task_id },
                        uuid,
                    });
                    Some(c)
                }
                msched::Effect::Reconcile { tasks } => {
                    if !tasks.is_empty() {
                        self.client_call(Fw::Marathon, reconcile_call(&tasks));
                    }
                    Some(reconcile_call(&[]))
                }
                msched::Effect::Revive => Some(sched_call(call::Type::Revive)),
                msched::Effect::Suppress => Some(sched_call(call::Type::Suppress)),
            };
            if let Some(call) = call {
                self.client_call(Fw::Marathon, call);
            }
        }
    }

    fn operator(&mut self, op: OperatorOp) {
        let command = match &op {
            OperatorOp::Create {
                id,
                instances,
                inactive_after_s,
                expunge_after_s,
            } => {
                let mut app = AppSpec::new(PathId::parse_app_id(id).expect("valid app id"));
                app.cmd = Some("sim:forever".into());
                app.cpus = 0.2;
                app.mem = 32.0;
                app.instances = *instances;
                app.unreachable_strategy =
                    drover_core::marathon::unreachable::UnreachableStrategy::Enabled {
                        inactive_after_seconds: *inactive_after_s,
                        expunge_after_seconds: *expunge_after_s,
                    };
                msched::Command::CreateApp { app, force: false }
            }
            OperatorOp::Scale { id, instances } => {
                let path = PathId::parse_app_id(id).expect("valid app id");
                let Some(mut app) = self
                    .marathon
                    .as_ref()
                    .and_then(|m| m.core.app(&path).cloned())
                else {
                    return;
                };
                app.instances = *instances;
                msched::Command::PutApp { app, force: true }
            }
        };
        if self.marathon.is_none() {
            // Marathon is down: the operator retries later (nothing was acknowledged).
            self.push(self.now + 5_000, Ev::Fault(Fault::Operator(op)));
            return;
        }
        self.marathon_step(msched::Input::Command(command));
    }

    // ---- faults ---------------------------------------------------------------------------

    fn fault(&mut self, f: Fault) {
        match f {
            Fault::Partition(a, b, one_way) => self.net.partition(a, b, one_way),
            Fault::Isolate(n) => {
                for other in self.all_nodes() {
                    if other != n {
                        self.net.partition(n, other, false);
                    }
                }
            }
            Fault::Noise { drop_p, dup_p } => {
                self.net.drop_p = drop_p;
                self.net.dup_p = dup_p;
            }
            Fault::HealAll => {
                self.net.heal_all();
                self.zk_cut.clear();
                self.paused_leaders.clear();
                self.store_slow_ms = 0;
                self.store_fail = false;
                for n in self.all_nodes() {
                    self.fault(Fault::Resume(n));
                    self.fault(Fault::Restart(n));
                }
            }
            Fault::Crash(n) => match n {
                NodeId::Master(s) => {
                    self.crash_master(s);
                    // kill -9: the session stays until the ensemble expires it.
                    self.contenders[s] = None;
                }
                NodeId::Agent(i) => self.crash_agent(i),
                NodeId::Marathon => self.crash_framework(Fw::Marathon),
                NodeId::Plain => self.crash_framework(Fw::Plain),
            },
            Fault::CrashMidStep(n) => {
                self.crash_mid_step.insert(n);
            }
            Fault::Restart(n) => {
                // A crash armed for the node's next step that has not happened by the time
                // the plan restarts it is disarmed: the fault window is over (a crash after
                // the heal would leave the node down with nothing to restart it).
                self.crash_mid_step.remove(&n);
                if let (NodeId::Master(s), true) = (n, self.ha()) {
                    // Any master process restarts (its supervisor's doing) and contends again.
                    if self.contenders[s].is_none() {
                        self.start_contender(s);
                        self.coord_settle();
                    }
                    return;
                }
                if self.proc_inc(n).is_some() {
                    return;
                }
                match n {
                    NodeId::Master(s) => {
                        // Only the leader's slot restarts; a deposed master stays down.
                        if s == self.leader {
                            self.start_master(s);
                        }
                    }
                    NodeId::Agent(i) => self.start_agent(i),
                    NodeId::Marathon => self.start_marathon(),
                    NodeId::Plain => self.start_plain(),
                }
            }
            Fault::Pause(n) => self.set_paused(n, true),
            Fault::Resume(n) => {
                self.set_paused(n, false);
                if let (NodeId::Master(s), true) = (n, self.ha())
                    && self.masters[s].is_some()
                    && self.rng.random_bool(0.5)
                {
                    // The driver's timers may fire before its HTTP layer reads the requests
                    // that waited (and refuses them on a lapsed lease), and before it notices
                    // it was deposed: only the fence stops what this step writes or sends.
                    self.master_step(s, master::Input::Tick);
                }
                self.drain_inbox(n);
            }
            Fault::Reboot(i) => {
                self.crash_agent(i);
                self.hosts[i].execs.clear();
                let run = self.next_run;
                self.next_run += 1;
                self.hosts[i].boot_id = format!("boot-{i}-{run}");
            }
            Fault::Failover if self.ha() => {
                // The leader's session ends (expired, and the process is told at its next
                // ping); the next member leads.
                if let Some(c) = self.contenders[self.leader].as_ref() {
                    let session = c.session;
                    self.ensemble.close(session);
                    self.coord_settle();
                }
            }
            Fault::CrashLeader => self.fault(Fault::Crash(NodeId::Master(self.leader))),
            Fault::PauseLeader => {
                let slot = self.leader;
                if !self.paused_leaders.contains(&slot) {
                    self.paused_leaders.push(slot);
                }
                self.set_paused(NodeId::Master(slot), true);
            }
            Fault::ResumeMasters => {
                for slot in std::mem::take(&mut self.paused_leaders) {
                    self.fault(Fault::Resume(NodeId::Master(slot)));
                }
            }
            Fault::CutLeaderFromEnsemble => {
                self.zk_cut.insert(self.leader);
            }
            Fault::HealEnsemble => self.zk_cut.clear(),
            Fault::IsolateLeaderFromAgents => {
                let leader = NodeId::Master(self.leader);
                for i in 0..self.hosts.len() {
                    self.net.partition(leader, NodeId::Agent(i), false);
                }
            }
            Fault::Failover => {
                // The other slot wins an election; the old leader is not told (it may be
                // paused) and is fenced by the store's epoch.
                if self.masters.len() < 2 {
                    let slot = self.leader;
                    self.crash_master(slot);
                    self.start_master(slot);
                } else {
                    let next = (self.leader + 1) % self.masters.len();
                    if self.masters[next].is_some() {
                        self.crash_master(next);
                    }
                    self.start_master(next);
                }
                self.leader_changed();
            }
            Fault::LeaderFlap => self.leader_changed(),
            Fault::StoreFail => self.store_fail = true,
            Fault::StoreSlow(ms) => self.store_slow_ms = ms,
            Fault::Operator(op) => self.operator(op),
        }
    }

    /// Every client's leader detector fires: each drops its session and reconnects to the
    /// leader (Mesos' detector; a flap names the same leader again).
    fn leader_changed(&mut self) {
        for i in 0..self.hosts.len() {
            if self.hosts[i]
                .proc
                .as_ref()
                .is_some_and(|p| p.sess != Sess::Idle)
            {
                if let Some(p) = self.hosts[i].proc.as_ref()
                    && let Some(conn) = p.sess.conn()
                    && let Sess::Connecting { slot, .. } | Sess::Connected { slot, .. } = p.sess
                {
                    self.send(
                        NodeId::Agent(i),
                        NodeId::Master(slot),
                        Payload::ClientGone { conn, agent: true },
                    );
                }
                let inc = self.hosts[i].proc.as_ref().map(|p| p.inc).unwrap_or(0);
                let was_connected = self.hosts[i]
                    .proc
                    .as_ref()
                    .is_some_and(|p| matches!(p.sess, Sess::Connected { .. }));
                if let Some(p) = self.hosts[i].proc.as_mut() {
                    p.sess = Sess::Idle;
                }
                if was_connected {
                    self.agent_step(i, agent::Input::Disconnected);
                }
                let wait = self.rng.random_range(0..1_000);
                self.push(
                    self.now + wait,
                    Ev::Proc(NodeId::Agent(i), inc, Local::Reconnect),
                );
            }
        }
        for fw in [Fw::Marathon, Fw::Plain] {
            self.client_lost(fw, "new leader detected");
        }
    }

    fn set_paused(&mut self, n: NodeId, paused: bool) {
        match n {
            NodeId::Master(s) => {
                if let Some(m) = self.masters[s].as_mut() {
                    m.paused = paused;
                }
                if let Some(c) = self.contenders[s].as_mut() {
                    c.paused = paused;
                }
            }
            NodeId::Agent(i) => {
                if let Some(p) = self.hosts[i].proc.as_mut() {
                    p.paused = paused;
                }
            }
            NodeId::Marathon => {
                if let Some(m) = self.marathon.as_mut() {
                    m.paused = paused;
                }
            }
            NodeId::Plain => {
                if let Some(p) = self.plain.as_mut() {
                    p.paused = paused;
                }
            }
        }
    }

    fn all_nodes(&self) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = (0..self.masters.len()).map(NodeId::Master).collect();
        v.extend((0..self.hosts.len()).map(NodeId::Agent));
        v.push(NodeId::Marathon);
        v.push(NodeId::Plain);
        v
    }

    /// The number of agents.
    pub fn agent_count(&self) -> usize {
        self.hosts.len()
    }

    // ---- views for the checker ------------------------------------------------------------

    /// Live tasks on every running agent: (agent, framework id, task id, state).
    pub fn agent_tasks(&self) -> Vec<(usize, String, String, TaskState)> {
        let mut out = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            let Some(p) = h.proc.as_ref() else { continue };
            for (fid, f) in p.core.frameworks() {
                for e in f.executors.values() {
                    for (tid, t) in &e.tasks {
                        out.push((i, fid.0.clone(), tid.0.clone(), t.state));
                    }
                }
            }
        }
        out
    }

    /// How long agent `i` has been (re)registered with the current leader; `None` when it
    /// has no session with the leader (the leader cannot have reported its tasks yet).
    pub fn agent_session_age(&self, i: usize) -> Option<u64> {
        let p = self.hosts[i].proc.as_ref()?;
        match p.sess {
            Sess::Connected { slot, .. } if slot == self.leader => {
                // The agent's belief alone is not a session: after a partition it may still
                // think itself connected (until its ping timeout) while the leader has marked
                // it unreachable and told Marathon so (seed 5255230498427391566). Only a session
                // the leader also holds open lets Marathon hear of, and kill, its copies.
                let agent_id = p.core.agent_id()?;
                let held = self.masters[slot]
                    .as_ref()
                    .and_then(|m| m.core.agents().get(agent_id))
                    .is_some_and(|a| a.status == drover_core::master::AgentStatus::Connected);
                held.then(|| self.now.saturating_sub(p.connected_at))
            }
            _ => None,
        }
    }

    /// Whether every agent's status update streams are empty (all updates acknowledged).
    pub fn updates_drained(&self) -> Result<(), String> {
        for (i, h) in self.hosts.iter().enumerate() {
            let Some(p) = h.proc.as_ref() else {
                return Err(format!("agent {i} is not running"));
            };
            for (fid, f) in p.core.frameworks() {
                for e in f.executors.values() {
                    for tid in e.tasks.keys() {
                        if let Some(s) = p.core.status_updates().stream(fid, tid)
                            && s.pending().next().is_some()
                        {
                            return Err(format!(
                                "agent {i}: task {tid} still has unacknowledged updates"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The framework ids of Marathon and the plain framework.
    pub fn framework_ids(&self) -> (Option<String>, Option<String>) {
        (
            self.marathon_disk.framework_id.clone(),
            self.plain_fw_id.clone(),
        )
    }

    /// The live scheduler, if Marathon runs.
    pub fn scheduler(&self) -> Option<&Scheduler> {
        self.marathon.as_ref().map(|m| &m.core)
    }

    /// Marathon's persisted state.
    pub fn marathon_disk(&self) -> &MarathonDisk {
        &self.marathon_disk
    }

    /// Simulated milliseconds since the start.
    pub fn elapsed_ms(&self) -> u64 {
        self.now - T0
    }
}

fn new_client(info: v1::FrameworkInfo) -> Client {
    Client {
        info,
        sess: Sess::Idle,
        backoff_ms: 500,
        hb_ms: 15_000,
        last_event_ms: 0,
    }
}

/// When the client gives up on a silent subscription (five missed heartbeats).
fn client_deadline(c: &Client) -> Option<u64> {
    match c.sess {
        Sess::Connected { .. } => Some(c.last_event_ms + 5 * c.hb_ms),
        _ => None,
    }
}

fn reconcile_call(tasks: &[(String, Option<String>)]) -> scheduler::Call {
    let mut c = sched_call(call::Type::Reconcile);
    c.reconcile = Some(call::Reconcile {
        tasks: tasks
            .iter()
            .map(|(task, agent)| call::reconcile::Task {
                task_id: v1::TaskId {
                    value: task.clone(),
                },
                agent_id: agent.as_ref().map(|a| v1::AgentId { value: a.clone() }),
            })
            .collect(),
    });
    c
}

/// The agent session's event → core input mapping (`drover-agent::master::to_input`).
fn agent_input(event: internal::AgentEvent, attempt: &mut u32) -> Option<agent::Input> {
    use agent::{ExecutorId, FrameworkId, TaskId};
    use agent_event::Type;
    let kind = event.r#type.and_then(|t| Type::try_from(t).ok())?;
    Some(match kind {
        Type::Registered | Type::Reregistered => {
            *attempt = 0;
            let r = event.registered.or(event.reregistered)?;
            agent::Input::Registered {
                agent_id: r.agent_id.value,
            }
        }
        Type::RunTask => agent::Input::RunTask(event.run_task?),
        Type::CheckpointResources => {
            agent::Input::CheckpointResources(event.checkpoint_resources?.resources)
        }
        Type::Drain => agent::Input::Drain(event.drain?.config),
        Type::KillTask => {
            let k = event.kill_task?;
            agent::Input::KillTask {
                framework_id: FrameworkId(k.framework_id.value),
                task_id: TaskId(k.task_id.value),
                kill_policy: k.kill_policy,
            }
        }
        Type::Acknowledge => {
            let a = event.acknowledge?;
            agent::Input::Acknowledge {
                framework_id: FrameworkId(a.framework_id.value),
                task_id: TaskId(a.task_id.value),
                uuid: a.uuid,
            }
        }
        Type::UpdateFramework => {
            agent::Input::UpdateFramework(event.update_framework?.framework_info)
        }
        Type::ShutdownFramework => agent::Input::ShutdownFramework(FrameworkId(
            event.shutdown_framework?.framework_id.value,
        )),
        Type::ShutdownExecutor => {
            let s = event.shutdown_executor?;
            agent::Input::ShutdownExecutor {
                framework_id: FrameworkId(s.framework_id.value),
                executor_id: ExecutorId(s.executor_id.value),
            }
        }
        Type::ReconcileTasks => agent::Input::ReconcileTasks(
            event
                .reconcile_tasks?
                .tasks
                .into_iter()
                .map(|e| {
                    let partition_aware = e.partition_aware.unwrap_or(false);
                    (
                        FrameworkId(e.framework_id.value),
                        TaskId(e.task_id.value),
                        partition_aware,
                    )
                })
                .collect(),
        ),
        Type::FrameworkMessage => {
            let m = event.framework_message?;
            agent::Input::FrameworkMessage {
                framework_id: FrameworkId(m.framework_id.value),
                executor_id: ExecutorId(m.executor_id.value),
                data: m.data,
            }
        }
        Type::Ping | Type::Shutdown | Type::Error | Type::Unknown => return None,
    })
}

fn local_name(l: &Local) -> String {
    match l {
        Local::Reconnect => "reconnect".into(),
        Local::Authorized(t) => format!("authorized {t}"),
        Local::SubscribeTimeout(c) => format!("subscribe-timeout c{}", c.0),
        Local::MasterPingTimeout(c) => format!("master-ping-timeout c{}", c.0),
        Local::Reconcile(c) => format!("reconcile c{}", c.0),
        Local::RequestFailed { conn, .. } => format!("request-failed c{}", conn.0),
        Local::AgentInput(i) => format!("input {}", input_name(i)),
        Local::FrameworkUpdate(s) => format!("local-update {}", s.task_id.value),
        Local::ExecCall { cid, call, .. } => format!("exec-call {cid} {:?}", call.r#type()),
    }
}

fn input_name(i: &agent::Input) -> &'static str {
    match i {
        agent::Input::ContainerLaunched(_) => "container-launched",
        agent::Input::ContainerLaunchFailed { .. } => "container-launch-failed",
        agent::Input::ContainerTerminated { .. } => "container-terminated",
        _ => "other",
    }
}

fn exec_name(e: &ExecEv) -> &'static str {
    match e {
        ExecEv::Started => "started",
        ExecEv::Subscribe => "subscribe",
        ExecEv::Event(_) => "event",
        ExecEv::TaskExit => "task-exit",
        ExecEv::Exit(_) => "exit",
    }
}
