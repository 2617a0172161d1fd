//! The invariants. Some are checked as things happen (every update a framework receives,
//! every agent step, every master step, every Marathon commit); the end-of-run ones
//! (convergence, nothing lost) run after the last fault healed and the bound passed.

use std::collections::{BTreeMap, BTreeSet};

use drover_core::agent::Agent;
use drover_core::agent::model::scalar;
use drover_core::marathon::condition::{Condition, Goal};
use drover_core::marathon::path::PathId;
use drover_core::marathon::scheduler::{CommandError, Reply, Scheduler};
use drover_core::master::registry::agent_id_of;
use drover_core::master::{Registry, RegistryOp};
use drover_core::task::emission::is_allowed;
use drover_core::task::state::is_terminal;
use drover_core::task::transition;
use drover_core::task::{Reason, Source, TaskState};
use drover_wire::v1;

use crate::disk::MarathonDisk;
use crate::net::Fw;
use crate::world::{AGENT_RESOURCES, World};

/// What a framework has seen of one task.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// Latest state.
    pub state: TaskState,
    /// Updates received.
    pub updates: u32,
    /// The latest state is a TASK_LOST the master generated when it removed the agent (or
    /// answered for a task on an unreachable agent).
    pub lost_with_agent: bool,
}

/// Running bookkeeping and the first violation found.
#[derive(Debug, Default)]
pub struct Checker {
    /// The first violation (the run stops on it).
    pub violation: Option<String>,
    /// Per framework and task: what it saw.
    pub seen: BTreeMap<(Fw, String), Seen>,
    /// Tasks each framework asked to launch.
    pub launched: BTreeMap<(Fw, String), ()>,
    /// Apps whose creation or update Marathon acknowledged, with the instance count.
    pub acked_apps: BTreeMap<PathId, u32>,
    /// Which master slot acted in each epoch.
    pub acting: BTreeMap<u64, usize>,
    /// Updates delivered to frameworks.
    pub updates: u64,
    /// When Marathon received each update about a task (bounded by the run's updates): a
    /// copy it does not track can only be killed once it hears of it.
    pub marathon_heard: BTreeMap<String, Vec<u64>>,
    /// HA runs: the registry as the commits of each term's own leader left it (what every
    /// recovery must find for the acknowledged records).
    pub legit: Option<Registry>,
    /// HA runs: the records some leader acknowledged a change of (it answered after the
    /// commit).
    pub acked: BTreeSet<Record>,
    /// HA runs: leadership terms begun (by their leader's member sequence).
    pub terms: u64,
    /// HA runs: recoveries checked.
    pub recoveries: u64,
}

/// One record of the registry, as the acknowledged-loss check compares them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Record {
    /// An agent's admission, unreachability, gone mark, deactivation and drain.
    Agent(String),
    /// A framework's info and its removal.
    Framework(String),
    /// A framework's completed tasks.
    Completed(String),
    /// An operation with feedback awaiting acknowledgement, by its uuid (hex).
    Operation(String),
}

/// The records a registry change touches.
pub fn records(op: &RegistryOp) -> Vec<Record> {
    match op {
        RegistryOp::AdmitAgent(info) | RegistryOp::MarkUnreachable { info, .. } => {
            vec![Record::Agent(agent_id_of(info))]
        }
        RegistryOp::MarkGone { agent_id, .. }
        | RegistryOp::RemoveAgent { agent_id }
        | RegistryOp::DeactivateAgent { agent_id }
        | RegistryOp::ReactivateAgent { agent_id }
        | RegistryOp::PutDrain { agent_id, .. }
        | RegistryOp::EndDrain { agent_id } => vec![Record::Agent(agent_id.clone())],
        RegistryOp::PruneAgents { unreachable, gone } => unreachable
            .iter()
            .chain(gone)
            .map(|id| Record::Agent(id.clone()))
            .collect(),
        RegistryOp::PutFramework(info) => info
            .id
            .as_ref()
            .map(|id| vec![Record::Framework(id.value.clone())])
            .unwrap_or_default(),
        RegistryOp::RemoveFramework { framework_id, .. } => {
            vec![Record::Framework(framework_id.clone())]
        }
        RegistryOp::CompleteTask { framework_id, .. } => {
            vec![Record::Completed(framework_id.clone())]
        }
        RegistryOp::PutOperation(operation) => vec![Record::Operation(
            drover_core::master::operations_feedback::uuid_key(operation),
        )],
        RegistryOp::RemoveOperation { uuid } => vec![Record::Operation(uuid.clone())],
        RegistryOp::Counters { .. } | RegistryOp::UpdateQuota(_) | RegistryOp::Maintenance(_) => {
            Vec::new()
        }
    }
}

/// Whether `a` and `b` hold the same `record`.
pub fn same_record(a: &Registry, b: &Registry, record: &Record) -> bool {
    match record {
        Record::Agent(id) => {
            a.agents.get(id) == b.agents.get(id)
                && a.unreachable.get(id) == b.unreachable.get(id)
                && a.gone.get(id) == b.gone.get(id)
                && a.deactivated.contains(id) == b.deactivated.contains(id)
                && a.drains.get(id) == b.drains.get(id)
        }
        Record::Framework(id) => {
            a.frameworks.get(id) == b.frameworks.get(id)
                && a.removed_frameworks.contains(id) == b.removed_frameworks.contains(id)
        }
        Record::Completed(id) => a.completed.get(id) == b.completed.get(id),
        Record::Operation(uuid) => a.operations.get(uuid) == b.operations.get(uuid),
    }
}

impl Checker {
    /// Records a violation (the first one wins).
    pub fn fail(&mut self, message: String) {
        if self.violation.is_none() {
            self.violation = Some(message);
        }
    }

    /// A framework asked for a task.
    pub fn launched(&mut self, fw: Fw, task_id: &str) {
        self.launched.insert((fw, task_id.to_owned()), ());
    }

    /// A master sent something in `epoch`: one acting master per epoch.
    pub fn acted(&mut self, epoch: u64, slot: usize) {
        let first = *self.acting.entry(epoch).or_insert(slot);
        if first != slot {
            self.fail(format!(
                "two acting masters in epoch {epoch}: slots {first} and {slot}"
            ));
        }
    }

    /// HA: a new leadership term begins (a new lowest member).
    pub fn new_term(&mut self, _term: u64) {
        self.terms += 1;
    }

    /// HA: a master answered in `epoch` after its step's commit: it must lead the current
    /// term (a deposed leader acts in no epoch but its own, and not after a newer one began).
    pub fn acted_in_term(&mut self, epoch: u64, slot: usize, term: Option<u64>) {
        if term != Some(epoch) {
            self.fail(format!(
                "master {slot} acted as the leader of epoch {epoch} during term {term:?}"
            ));
        }
    }

    /// HA: a registry commit in `epoch`: only the current term's leader's commits may land.
    pub fn committed(&mut self, epoch: u64, term: Option<u64>, ops: &[RegistryOp]) {
        if term != Some(epoch) {
            if !ops.is_empty() {
                self.fail(format!(
                    "a write of the deposed leader of epoch {epoch} committed during term \
                     {term:?}: {ops:?}"
                ));
            }
            return;
        }
        if let Some(legit) = self.legit.as_mut() {
            for op in ops {
                legit.apply(op);
            }
        }
    }

    /// HA: the master answered after committing `ops`: their records are acknowledged.
    pub fn acknowledged(&mut self, ops: &[RegistryOp]) {
        for op in ops {
            self.acked.extend(records(op));
        }
    }

    /// HA: the leader of `term` recovers `registry`: every acknowledged record is there as
    /// the legitimate leaders' commits left it.
    pub fn recovered(&mut self, registry: &Registry, term: u64) {
        self.recoveries += 1;
        let Some(legit) = self.legit.as_ref() else {
            return;
        };
        let lost = self
            .acked
            .iter()
            .find(|r| !same_record(registry, legit, r))
            .cloned();
        if let Some(record) = lost {
            self.fail(format!(
                "acknowledged {record:?} is not in the registry the leader of term {term} \
                 recovered as it was acknowledged"
            ));
        }
    }

    /// A framework received an update: allowed by the emission table for its kind, and no
    /// step backwards in the task's life (duplicates allowed); stamped with Unix time.
    pub fn observe(&mut self, fw: Fw, status: &v1::TaskStatus, now: u64) {
        self.updates += 1;
        // Every emitter stamps wall-clock seconds since the epoch, as Mesos does; a clock
        // since some process's start (values like 0.017) is what this catches. A retried
        // update keeps its first stamp, so it may be old, but never from the future and
        // never older than the run.
        let now_s = now as f64 / 1000.0;
        match status.timestamp {
            Some(t) if t <= now_s + 0.001 && t >= now_s - 86_400.0 => {}
            other => self.fail(format!(
                "{fw:?}: update for {} stamped {other:?}, not Unix seconds near {now_s}",
                status.task_id.value
            )),
        }
        let partition_aware = fw == Fw::Marathon;
        if partition_aware {
            self.marathon_heard
                .entry(status.task_id.value.clone())
                .or_default()
                .push(now);
        }
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskUnknown);
        let reason = status.reason.and_then(|r| Reason::try_from(r).ok());
        let Some(source) = status.source.and_then(|s| Source::try_from(s).ok()) else {
            self.fail(format!(
                "{fw:?}: update for {} without a source",
                status.task_id.value
            ));
            return;
        };
        if !is_allowed(state, reason, source, partition_aware) {
            self.fail(format!(
                "{fw:?}: ({state:?}, {reason:?}, {source:?}) for {} is not in the emission table",
                status.task_id.value
            ));
        }
        let key = (fw, status.task_id.value.clone());
        let reconciliation = reason == Some(Reason::Reconciliation);
        // TASK_LOST with the agent: announced when the master marked it unreachable, or
        // answered by reconciliation for a task the master does not hold and whose agent is
        // unreachable (the answer carries `unreachable_time`) or not known to it (no
        // `agent_id`: e.g. a recovered agent that missed its reregister timeout after a
        // failover, whose tasks the master never held). For a non-partition-aware framework
        // that TASK_LOST is not final: the agent may return with the task. It may also be the
        // first update the framework hears for the task (seed 5255215828427397138: the
        // agent's TASK_STARTING was lost in the partition that made the agent unreachable).
        let lost_with_agent = !partition_aware
            && state == TaskState::TaskLost
            && source == Source::Master
            && (reason == Some(Reason::AgentRemoved)
                || (reconciliation
                    && (status.unreachable_time.is_some() || status.agent_id.is_none())));
        let Some(seen) = self.seen.get_mut(&key) else {
            self.seen.insert(
                key,
                Seen {
                    state,
                    updates: 1,
                    lost_with_agent,
                },
            );
            return;
        };
        seen.updates += 1;
        let from = seen.state;
        let ok = if state == TaskState::TaskStaging {
            // Only reconciliation re-reports STAGING, and the return of an unreachable agent
            // announces a task it still holds unstarted as STAGING (after the framework was
            // told TASK_UNREACHABLE, or TASK_LOST with the agent).
            from == TaskState::TaskStaging
                || (reason == Some(Reason::AgentReregistered)
                    && source == Source::Master
                    && (from == TaskState::TaskUnreachable || seen.lost_with_agent))
        } else if state == TaskState::TaskUnknown || state == TaskState::TaskGone {
            // The master answers for a task it no longer knows (forgotten after its terminal
            // acknowledgement, or on an agent marked gone).
            true
        } else if reason == Some(Reason::MasterDisconnected)
            && matches!(from, TaskState::TaskGone | TaskState::TaskDropped)
            && is_terminal(state)
        {
            // The scheduler client's own answer for an ACCEPT it could not deliver may come
            // after the master's answer for the task it never received (TASK_GONE on
            // reconciliation while the call was lost in flight): both say the launch did not
            // happen, from two sources nothing orders, as with Mesos' driver.
            true
        } else if seen.lost_with_agent {
            // A non-partition-aware framework was told TASK_LOST when its agent was removed;
            // when the agent returns, the master announces the task with
            // REASON_AGENT_REREGISTERED, but only to a subscribed framework (Mesos'
            // `__reregisterSlave`). One that was resubscribing then hears of the task next
            // from the agent's own updates or from reconciliation, which answers the state
            // the master now holds: the same path, with the announcement missed. This comes
            // before the stale-reconciliation rule below, which would otherwise call the
            // master's true answer a resurrection.
            transition::check(from, state, Some(Reason::AgentReregistered)).is_ok()
                || transition::check(from, state, reason).is_ok()
        } else if reconciliation && is_terminal(from) {
            // A reconciliation answer may be stale, but never brings a finished task back.
            // TASK_UNREACHABLE is the answer for a task the master does not hold whose agent
            // is unreachable (spec §2.7; e.g. a launch it refused with TASK_DROPPED because
            // that agent had gone): like TASK_UNKNOWN, it says the master does not know the
            // task, and the terminal state seen first stands.
            is_terminal(state) || state == TaskState::TaskUnreachable
        } else if reason == Some(Reason::AgentReregistered)
            && source == Source::Master
            && is_terminal(from)
        {
            // The spec's one way out of a terminal state: the agent returned with the task
            // (e.g. the master had answered a kill before the launch reached the agent, and
            // had forgotten the task; the agent then reports it failed).
            true
        } else {
            transition::check(from, state, reason).is_ok()
        };
        if !ok {
            let message = format!(
                "{fw:?}: task {} went {from:?} -> {state:?} ({reason:?}, {source:?})",
                status.task_id.value
            );
            self.fail(message);
            return;
        }
        // A stale reconciliation answer, or the client's second answer, does not replace
        // the terminal state seen first.
        // A task LOST with its agent and now reported live came back with the agent: its
        // new state replaces the LOST.
        let returned = seen.lost_with_agent && !is_terminal(state);
        let keep_first = !returned
            && (reconciliation || reason == Some(Reason::MasterDisconnected))
            && is_terminal(from);
        if !keep_first && state != TaskState::TaskUnknown {
            seen.state = state;
            seen.lost_with_agent = lost_with_agent;
        }
    }

    /// Marathon answered an operator command; a success is an acknowledgement.
    pub fn operator_reply(&mut self, reply: &Result<Reply, CommandError>, s: Option<&Scheduler>) {
        if let (Ok(Reply::Deployment { .. }), Some(s)) = (reply, s) {
            for app in s.apps().values() {
                self.acked_apps.insert(app.id.clone(), app.instances);
            }
        }
    }
}

/// No acknowledged app is missing from Marathon's store.
pub fn acknowledged_apps(c: &mut Checker, disk: &MarathonDisk) {
    let missing = c
        .acked_apps
        .keys()
        .find(|id| !disk.apps.contains_key(*id))
        .cloned();
    if let Some(id) = missing {
        c.fail(format!(
            "acknowledged app {id} is gone from Marathon's store"
        ));
    }
}

/// Resources in use on an agent never exceed its totals. The allowance an agent adds to
/// the command executor it generates for a command task (0.1 cpus, 32 MB) is not counted:
/// no master offered it, and Mesos' agent documents it as "a small overcommit of resources"
/// (the master accounts only the task's own resources, and a reregistering agent does not
/// report generated executors).
pub fn agent_resources(c: &mut Checker, i: usize, core: &Agent) {
    let total = drover_core::resources::parse(AGENT_RESOURCES).expect("valid");
    for name in ["cpus", "mem"] {
        let limit = scalar(&total, name);
        let mut used = 0.0;
        for f in core.frameworks().values() {
            for e in f.executors.values() {
                if e.state == drover_core::agent::ExecutorState::Terminated {
                    continue;
                }
                if !e.command_executor {
                    used += scalar(&e.info.resources, name);
                }
                for t in e.live_tasks() {
                    used += scalar(&t.info.resources, name);
                }
            }
        }
        if used > limit + 1e-6 {
            c.fail(format!("agent {i} over-allocated: {name} {used} > {limit}"));
        }
    }
}

fn app_of(task_id: &str, apps: &BTreeMap<PathId, u32>) -> Option<PathId> {
    apps.keys()
        .find(|id| {
            let name = id.to_string();
            let safe = name.trim_start_matches('/').replace('/', "_");
            task_id.starts_with(&format!("{safe}.instance-"))
        })
        .cloned()
}

/// After the bound: every acknowledged app runs exactly its instance count, both in
/// Marathon's view and on the agents, and no Marathon task runs that no instance owns.
pub fn converged(w: &World) -> Result<(), String> {
    let s = w.scheduler().ok_or("Marathon is not running")?;
    if !s.is_subscribed() {
        return Err("Marathon is not subscribed".into());
    }
    let (marathon_id, _) = w.framework_ids();
    let apps = &w.checker.acked_apps;
    let mut on_agents: BTreeMap<PathId, usize> = BTreeMap::new();
    for (i, fid, tid, state) in w.agent_tasks() {
        if Some(&fid) != marathon_id.as_ref() || is_terminal(state) {
            continue;
        }
        let owned = s.instances().values().any(|inst| inst.task_id() == tid);
        if !owned {
            return Err(format!(
                "task {tid} runs on agent {i} but no instance owns it"
            ));
        }
        if let Some(app) = app_of(&tid, apps) {
            *on_agents.entry(app).or_default() += 1;
        }
    }
    for (id, want) in apps {
        let app = s
            .app(id)
            .ok_or_else(|| format!("acknowledged app {id} is gone"))?;
        let want = (*want).max(app.instances) as usize;
        let running = s
            .instances_of(id)
            .filter(|i| i.goal == Goal::Running && i.condition == Condition::Running)
            .count();
        let live = on_agents.get(id).copied().unwrap_or(0);
        if running != want || live != want {
            return Err(format!(
                "app {id}: wants {want}, Marathon sees {running} running, agents run {live}"
            ));
        }
    }
    Ok(())
}

/// At the end: every status update reached its framework. What each framework last saw of
/// a task equals the agent's state, and every task a framework believes live is live on an
/// agent.
pub fn nothing_lost(w: &World) -> Result<(), String> {
    w.updates_drained()?;
    let (marathon_id, plain_id) = w.framework_ids();
    let fw_of = |fid: &str| {
        if Some(fid) == marathon_id.as_deref() {
            Some(Fw::Marathon)
        } else if Some(fid) == plain_id.as_deref() {
            Some(Fw::Plain)
        } else {
            None
        }
    };
    let mut live: BTreeMap<(Fw, String), TaskState> = BTreeMap::new();
    for (i, fid, tid, state) in w.agent_tasks() {
        let Some(fw) = fw_of(&fid) else { continue };
        let seen = w.checker.seen.get(&(fw, tid.clone()));
        match seen {
            Some(seen) if seen.state == state => {}
            Some(seen) => {
                return Err(format!(
                    "{fw:?}: task {tid} on agent {i} is {state:?} but the framework last saw {:?}",
                    seen.state
                ));
            }
            None => {
                return Err(format!(
                    "{fw:?}: task {tid} on agent {i} is {state:?}; the framework never heard of it"
                ));
            }
        }
        live.insert((fw, tid), state);
    }
    for ((fw, tid), seen) in &w.checker.seen {
        if !is_terminal(seen.state)
            && seen.state != TaskState::TaskUnreachable
            && !live.contains_key(&(*fw, tid.clone()))
        {
            return Err(format!(
                "{fw:?}: believes task {tid} is {:?}, but no agent runs it",
                seen.state
            ));
        }
    }
    Ok(())
}

/// How long after Marathon first hears of a copy it no longer tracks (during the current
/// session of the copy's agent) the copy may keep running: Marathon kills an unknown task when
/// it hears of it (a lost KILL is retried after `kill_retry_ms`, 10 s), and the executor's
/// kill grace is 5 s. Two kill attempts, the grace and delivery: 30 s.
pub const UNKNOWN_COPY_KILL_WINDOW_MS: u64 = 30_000;

/// While no fault is active: no app runs more copies than it asked for, plus the instances
/// Marathon is still killing.
///
/// The exact bound, per app: `instances + leaving`, where `leaving` counts the instances
/// whose goal is not Running or which are Killing, Unreachable or UnreachableInactive.
/// Copies that Marathon has no instance for (it expunged the instance after
/// `expungeAfterSeconds` while the agent was away, or never learnt of the task) are not
/// counted while their agent has no session with the leading master, nor until
/// [`UNKNOWN_COPY_KILL_WINDOW_MS`] after Marathon first heard of the copy in that session:
/// Marathon cannot kill a copy it has not heard of. It hears at once when an unreachable
/// agent returns while Marathon is subscribed (REASON_AGENT_REREGISTERED), but a copy on an
/// agent that a new master recovered from the registry is announced to nobody (as in Mesos):
/// Marathon learns of it from its next implicit reconciliation, up to
/// `--reconciliation_interval` later. That a copy is never heard of (and so never killed) is
/// caught by the end-of-run convergence check.
pub fn copies_within_policy(w: &World) -> Result<(), String> {
    let Some(s) = w.scheduler() else {
        return Ok(());
    };
    let (marathon_id, _) = w.framework_ids();
    let apps = &w.checker.acked_apps;
    let mut on_agents: BTreeMap<PathId, Vec<String>> = BTreeMap::new();
    for (i, fid, tid, state) in w.agent_tasks() {
        if Some(&fid) != marathon_id.as_ref() || is_terminal(state) {
            continue;
        }
        let owned = s.instances().values().any(|inst| inst.task_id() == tid);
        let heard_long_enough = w.agent_session_age(i).is_some_and(|age| {
            let session_start = w.now.saturating_sub(age);
            w.checker
                .marathon_heard
                .get(&tid)
                .and_then(|times| times.iter().find(|&&t| t >= session_start))
                .is_some_and(|&t| w.now.saturating_sub(t) >= UNKNOWN_COPY_KILL_WINDOW_MS)
        });
        let unheard = !heard_long_enough;
        if !owned && unheard {
            continue;
        }
        if let Some(app) = app_of(&tid, apps) {
            on_agents
                .entry(app)
                .or_default()
                .push(format!("{tid} on agent {i}"));
        }
    }
    for (id, copies) in on_agents {
        let live = copies.len();
        let Some(app) = s.app(&id) else { continue };
        let leaving = s
            .instances_of(&id)
            .filter(|i| {
                i.goal != Goal::Running
                    || matches!(
                        i.condition,
                        Condition::Killing
                            | Condition::Unreachable
                            | Condition::UnreachableInactive
                    )
            })
            .count();
        let allowed = app.instances as usize + leaving;
        if live > allowed {
            let instances: Vec<String> = s
                .instances_of(&id)
                .map(|i| format!("{} {:?} {:?}", i.task_id(), i.condition, i.goal))
                .collect();
            return Err(format!(
                "app {id} runs {live} copies; its policy allows {allowed} (copies: {}; \
                 Marathon's instances: {})",
                copies.join(", "),
                instances.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(host: &str, id: &str) -> v1::AgentInfo {
        v1::AgentInfo {
            hostname: host.into(),
            id: Some(v1::AgentId { value: id.into() }),
            ..Default::default()
        }
    }

    #[test]
    fn an_acknowledged_record_missing_from_a_recovered_registry_is_a_loss() {
        let mut c = Checker {
            legit: Some(Registry::new("m")),
            ..Checker::default()
        };
        let admit = RegistryOp::AdmitAgent(agent("h0", "m-S0"));
        c.new_term(1);
        c.committed(1, Some(1), std::slice::from_ref(&admit));
        c.acknowledged(std::slice::from_ref(&admit));
        let mut durable = Registry::new("m");
        durable.apply(&admit);
        c.recovered(&durable, 2);
        assert_eq!(c.violation, None);
        // The next leader recovers a registry without the admission.
        c.recovered(&Registry::new("m"), 3);
        let v = c.violation.take().expect("a loss");
        assert!(v.contains("Agent(\"m-S0\")"), "{v}");
        // Or one where a deposed leader overwrote it.
        durable.apply(&RegistryOp::MarkUnreachable {
            info: agent("h0", "m-S0"),
            time_ms: 5,
        });
        c.recovered(&durable, 3);
        assert!(c.violation.take().is_some());
    }

    #[test]
    fn a_deposed_leaders_commit_or_answer_is_a_violation() {
        let mut c = Checker {
            legit: Some(Registry::new("m")),
            ..Checker::default()
        };
        let admit = RegistryOp::AdmitAgent(agent("h0", "m-S0"));
        c.committed(2, Some(2), std::slice::from_ref(&admit));
        c.acted_in_term(2, 1, Some(2));
        assert_eq!(c.violation, None);
        // An empty step of an old epoch commits nothing; an answer from it is acting.
        c.committed(1, Some(2), &[]);
        assert_eq!(c.violation, None);
        c.acted_in_term(1, 0, Some(2));
        assert!(c.violation.take().expect("acting").contains("epoch 1"));
        c.committed(1, Some(2), std::slice::from_ref(&admit));
        assert!(
            c.violation
                .take()
                .expect("a write")
                .contains("deposed leader")
        );
    }
}
