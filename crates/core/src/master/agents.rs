//! Agents over Drover's internal protocol: REGISTER and REREGISTER (known, recovered,
//! unreachable, unknown and gone agents), the calls of an open session, health checking with
//! pings, disconnection, marking unreachable (rate limited), explicit removal and
//! MARK_AGENT_GONE (spec §6).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drover_wire::internal::agent_call::Type as CallType;
use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::internal::{AgentCall, agent_call, agent_event};
use drover_wire::v1;
use drover_wire::v1::master::event::Type as OperatorEventType;
use drover_wire::v1::scheduler;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::registry::agent_id_of;
use super::timers::Timer;
use super::validation::validate_id;
use super::{
    Agent, AgentStatus, Conn, Effect, Framework, Master, PingState, RegistryOp, Reply, TaskEntry,
    agent_event, operator_event, scheduler_event,
};
use crate::resources;
use crate::task::emission::Trigger;
use crate::task::state::is_terminal;
use crate::task::transition;
use crate::task::{Reason, TaskState};

/// What an agent reported when it opened its session.
struct Report {
    info: v1::AgentInfo,
    ip: Option<String>,
    version: String,
    capabilities: Vec<v1::agent_info::Capability>,
    tasks: Vec<v1::Task>,
    executors: Vec<v1::ExecutorInfo>,
    frameworks: Vec<v1::FrameworkInfo>,
}

impl Master {
    pub(super) fn agent_subscribe(
        &mut self,
        now_ms: u64,
        conn: Conn,
        stream_id: String,
        call: AgentCall,
        out: &mut Vec<Effect>,
    ) {
        let kind = call.r#type.and_then(|t| CallType::try_from(t).ok());
        let report = match kind {
            Some(CallType::Register) => call.register.map(|r| Report {
                info: r.agent_info,
                ip: r.ip,
                version: r.version.unwrap_or_default(),
                capabilities: r.capabilities,
                tasks: Vec::new(),
                executors: Vec::new(),
                frameworks: Vec::new(),
            }),
            Some(CallType::Reregister) => call.reregister.map(|r| Report {
                info: r.agent_info,
                ip: r.ip,
                version: r.version.unwrap_or_default(),
                capabilities: r.capabilities,
                tasks: r.tasks,
                executors: r.executors,
                frameworks: r.frameworks,
            }),
            _ => {
                let reply = Reply::error(400, "Expecting a REGISTER or REREGISTER call");
                out.push(Effect::Reply { req: conn, reply });
                return;
            }
        };
        let Some(mut report) = report else {
            let reply = Reply::error(400, "Expecting 'register' or 'reregister' to be present");
            out.push(Effect::Reply { req: conn, reply });
            return;
        };
        if let Err(e) = validate_agent_info(&report.info) {
            out.push(Effect::Reply {
                req: conn,
                reply: Reply::error(400, e),
            });
            return;
        }
        report.info.resources = resources::normalize(&report.info.resources);
        if self.machine_down(&report.info.hostname) {
            // Mesos refuses agents of a DOWN machine until the operator brings it up.
            out.push(Effect::Reply {
                req: conn,
                reply: Reply::Stream,
            });
            let mut event = agent_event(AgentEventType::Shutdown);
            event.shutdown = Some(agent_event::Shutdown {
                message: Some("Agent attempted to register while its machine is DOWN".into()),
            });
            out.push(Effect::ToAgent {
                conn,
                event: Box::new(event),
            });
            out.push(Effect::CloseAgent { conn });
            return;
        }
        if kind == Some(CallType::Register) {
            report.info.id = None;
            out.push(Effect::Reply {
                req: conn,
                reply: Reply::Stream,
            });
            self.register(now_ms, conn, stream_id, report, out);
            return;
        }
        let id = agent_id_of(&report.info);
        if let Err(e) = validate_id(&id) {
            out.push(Effect::Reply {
                req: conn,
                reply: Reply::error(400, format!("Invalid 'agent_info.id': {e}")),
            });
            return;
        }
        out.push(Effect::Reply {
            req: conn,
            reply: Reply::Stream,
        });
        if self.registry.gone.contains_key(&id) {
            let mut event = agent_event(AgentEventType::Shutdown);
            event.shutdown = Some(agent_event::Shutdown {
                message: Some("Agent has been marked gone".into()),
            });
            out.push(Effect::ToAgent {
                conn,
                event: Box::new(event),
            });
            out.push(Effect::CloseAgent { conn });
            return;
        }
        match self.agents.get(&id).map(|a| a.status) {
            Some(status) => self.reregister_known(now_ms, conn, stream_id, report, status, out),
            None => self.reregister_returning(now_ms, conn, stream_id, report, out),
        }
        // A drain outlives a master restart and the agent's own: it is told again.
        self.send_drain(&id, out);
    }

    fn register(
        &mut self,
        now_ms: u64,
        conn: Conn,
        stream_id: String,
        mut report: Report,
        out: &mut Vec<Effect>,
    ) {
        // A new agent at the address of an admitted one replaces it (Mesos removes the old).
        let port = report.info.port.unwrap_or(5051);
        let stale = self.agent_index.at_address(&report.info.hostname, port);
        for id in stale {
            self.remove_agent(
                now_ms,
                &id,
                "a new agent registered at the same address",
                out,
            );
        }
        let id = format!("{}-S{}", self.registry.master_id, self.registry.next_agent);
        self.registry.next_agent += 1;
        self.persist_counters(out);
        report.info.id = Some(v1::AgentId { value: id.clone() });
        self.persist(RegistryOp::AdmitAgent(report.info.clone()), out);
        let agent = self.new_agent(now_ms, conn, stream_id, report);
        self.put_agent(id.clone(), agent);
        self.arm(now_ms, Timer::AgentPing(id.clone()));
        self.send_registered(&id, AgentEventType::Registered, out);
        self.announce_agent(&id, out);
        self.allocation_dirty = true;
    }

    fn new_agent(&self, now_ms: u64, conn: Conn, stream_id: String, report: Report) -> Agent {
        Agent {
            info: report.info,
            ip: report.ip,
            version: report.version,
            capabilities: report.capabilities,
            status: AgentStatus::Connected,
            conn: Some(conn),
            stream_id: Some(stream_id),
            registered_time_ms: now_ms,
            reregistered_time_ms: None,
            reregister_deadline_ms: None,
            // The first ping goes out at once, so `max` missed pings take exactly
            // `max × timeout` (75 s by default), as in Mesos.
            ping: PingState {
                next_ping_ms: now_ms,
                ..Default::default()
            },
            executors: BTreeMap::new(),
            pending_kills: BTreeSet::new(),
            answered_kills: BTreeSet::new(),
            removal_pending: false,
            oversubscribed: Vec::new(),
        }
    }

    fn send_registered(&self, agent_id: &str, kind: AgentEventType, out: &mut Vec<Effect>) {
        let registered = agent_event::Registered {
            agent_id: v1::AgentId {
                value: agent_id.into(),
            },
            master_info: self.config.master_info.clone(),
            ping_timeout_seconds: Some(self.config.agent_ping_timeout_ms as f64 / 1000.0),
            max_ping_timeouts: Some(self.config.max_agent_ping_timeouts),
        };
        let mut event = agent_event(kind);
        if kind == AgentEventType::Registered {
            event.registered = Some(registered);
        } else {
            event.reregistered = Some(registered);
        }
        self.send_to_agent(agent_id, event, out);
    }

    fn announce_agent(&self, agent_id: &str, out: &mut Vec<Effect>) {
        if !self.operator_subscribers {
            return;
        }
        if let Some(agent) = self.agent_view(agent_id) {
            let mut event = operator_event(OperatorEventType::AgentAdded);
            event.agent_added = Some(v1::master::event::AgentAdded { agent });
            out.push(Effect::ToOperators(Box::new(event)));
        }
    }

    /// Makes sure the framework of a reported task exists: known, or recovered from the
    /// agent's report. Returns false for frameworks that were removed.
    fn ensure_framework(
        &mut self,
        framework_id: &str,
        reported: &[v1::FrameworkInfo],
        out: &mut Vec<Effect>,
    ) -> bool {
        if self.registry.removed_frameworks.contains(framework_id) {
            return false;
        }
        if self.frameworks.contains_key(framework_id) {
            return true;
        }
        let info = reported
            .iter()
            .find(|f| f.id.as_ref().is_some_and(|i| i.value == framework_id))
            .cloned()
            .unwrap_or_else(|| v1::FrameworkInfo {
                id: Some(v1::FrameworkId {
                    value: framework_id.into(),
                }),
                ..Default::default()
            });
        self.persist(RegistryOp::PutFramework(info.clone()), out);
        self.frameworks
            .insert(framework_id.into(), Framework::recovered(info));
        true
    }

    /// Adds or refreshes the master's record of a task an agent reports.
    /// Whether the framework's completed tasks (recovered from the registry after a
    /// failover) hold `key` as a task of this agent.
    fn completed_on(&self, agent_id: &str, key: &(String, String)) -> bool {
        self.frameworks.get(&key.0).is_some_and(|f| {
            f.completed_tasks
                .iter()
                .any(|e| e.task.task_id.value == key.1 && e.task.agent_id.value == agent_id)
        })
    }

    fn adopt_task(&mut self, reported: v1::Task, out: &mut Vec<Effect>) {
        let fw_id = reported.framework_id.value.clone();
        let task_id = reported.task_id.value.clone();
        if !self.frameworks.contains_key(&fw_id) {
            return;
        }
        let previous = self.remove_live_task(&fw_id, &task_id).or_else(|| {
            self.frameworks
                .get_mut(&fw_id)
                .and_then(|fw| fw.unreachable_tasks.remove(&task_id))
                .map(Arc::unwrap_or_clone)
        });
        let is_new = previous.is_none();
        // A task new to the master is the agent's report, moved in (after a master restart
        // every task is new: copying each was a large part of re-admitting 10,000 agents).
        let mut entry = match previous {
            Some(mut entry) => {
                let reported_state =
                    TaskState::try_from(reported.state).unwrap_or(TaskState::TaskStaging);
                let current = entry.state();
                if transition::check(current, reported_state, Some(Reason::AgentReregistered))
                    .is_ok()
                    || reported_state == TaskState::TaskStaging
                {
                    entry.task.state = reported.state;
                }
                entry.task.status_update_state = reported.status_update_state;
                entry.task.status_update_uuid = reported.status_update_uuid;
                if !reported.statuses.is_empty() {
                    entry.task.statuses = reported.statuses;
                }
                entry
            }
            None => {
                let role = reported
                    .resources
                    .iter()
                    .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
                    .unwrap_or_else(|| resources::DEFAULT_ROLE.into());
                TaskEntry {
                    task: reported,
                    role,
                    history: Default::default(),
                    unreachable_time_ms: None,
                    executor: None,
                    acked_uuids: Vec::new(),
                }
            }
        };
        entry.unreachable_time_ms = None;
        if is_new && self.operator_subscribers {
            let mut event = operator_event(OperatorEventType::TaskAdded);
            event.task_added = Some(v1::master::event::TaskAdded {
                task: entry.task.clone(),
            });
            out.push(Effect::ToOperators(Box::new(event)));
        }
        self.insert_live_task(&fw_id, task_id, entry);
    }

    fn adopt_executors(&mut self, agent_id: &str, executors: &[v1::ExecutorInfo]) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        for executor in executors {
            if let Some(fw) = &executor.framework_id {
                agent.executors.insert(
                    (fw.value.clone(), executor.executor_id.value.clone()),
                    executor.clone(),
                );
            }
        }
    }

    /// REREGISTER of an agent the master has admitted (connected, disconnected, or
    /// recovered after a master restart).
    fn reregister_known(
        &mut self,
        now_ms: u64,
        conn: Conn,
        stream_id: String,
        mut report: Report,
        status: AgentStatus,
        out: &mut Vec<Effect>,
    ) {
        let id = agent_id_of(&report.info);
        self.cancel_removal(&id);
        let resend_checkpoint = match self.agents.get(&id) {
            Some(agent) => {
                let known = agent.info.clone();
                self.reconcile_checkpointed(&known, &mut report.info)
            }
            None => false,
        };
        let Some(agent) = self.agents.get_mut(&id) else {
            return;
        };
        if let Some(old) = agent.conn
            && old != conn
        {
            out.push(Effect::CloseAgent { conn: old });
        }
        agent.version = report.version.clone();
        agent.ip = report.ip.clone();
        agent.capabilities = report.capabilities.clone();
        agent.status = AgentStatus::Connected;
        agent.stream_id = Some(stream_id);
        agent.reregistered_time_ms = Some(now_ms);
        agent.reregister_deadline_ms = None;
        agent.ping = PingState {
            next_ping_ms: now_ms,
            ..Default::default()
        };
        let pending_kills = std::mem::take(&mut agent.pending_kills);
        let answered_before = std::mem::take(&mut agent.answered_kills);
        self.set_agent_session(&id, Some(conn), Some(report.info.clone()));
        self.arm(now_ms, Timer::AgentPing(id.clone()));
        self.persist(RegistryOp::AdmitAgent(report.info.clone()), out);
        self.send_registered(&id, AgentEventType::Reregistered, out);
        if resend_checkpoint {
            self.send_checkpoint(&id, out);
        }
        let mut shutdown: BTreeSet<String> = BTreeSet::new();
        let mut reported_ids: BTreeSet<(String, String)> = BTreeSet::new();
        let mut ended_before: BTreeSet<(String, String)> = BTreeSet::new();
        for task in std::mem::take(&mut report.tasks) {
            let fw_id = task.framework_id.value.clone();
            if !self.ensure_framework(&fw_id, &report.frameworks, out) {
                shutdown.insert(fw_id);
                continue;
            }
            let key = (fw_id, task.task_id.value.clone());
            // Every reported task counts as reported, adopted or not: a kill the master
            // answered while the agent was away is re-sent for it below.
            reported_ids.insert(key.clone());
            // An agent this master admitted runs only tasks this master gave it (or adopted
            // when it first came back): one the master no longer holds has ended here, and
            // the report is stale (a reregistration overtaken by the task's terminal update).
            // Adopting it would resurrect a terminal task and count its resources twice
            // once they are offered again. As Mesos' `reconcileKnownSlave`, only a recovered
            // agent's (after a master restart) unknown tasks are adopted.
            if status != AgentStatus::Recovered && !self.agent_tasks.holds(&id, &key) {
                continue;
            }
            // A recovered agent's task that a master before the failover already ended
            // itself (a kill it answered TASK_KILLED while the agent was away): the framework
            // has its terminal state, so adopting it would give it a second one (seed
            // 8100000000000006695). It is killed and its updates swallowed, as below.
            if status == AgentStatus::Recovered && self.completed_on(&id, &key) {
                ended_before.insert(key);
                continue;
            }
            self.adopt_task(task, out);
        }
        self.adopt_executors(&id, &report.executors);
        // Tasks the master has on this agent that the agent lacks: the agent answers them
        // with TASK_DROPPED/TASK_LOST and REASON_RECONCILIATION (agent-side reconciliation).
        // The index lists them in the order of a scan of every framework's tasks.
        let mut missing = Vec::new();
        for key in self.agent_tasks.on_agent(&id) {
            if reported_ids.contains(key) {
                continue;
            }
            let (fw_id, task_id) = key;
            let partition_aware = self.frameworks.get(fw_id).map(|f| f.partition_aware);
            missing.push(drover_wire::internal::agent_event::reconcile_tasks::Entry {
                framework_id: v1::FrameworkId {
                    value: fw_id.clone(),
                },
                task_id: v1::TaskId {
                    value: task_id.clone(),
                },
                partition_aware,
            });
        }
        if !missing.is_empty() {
            let mut event = agent_event(AgentEventType::ReconcileTasks);
            event.reconcile_tasks = Some(agent_event::ReconcileTasks { tasks: missing });
            self.send_to_agent(&id, event, out);
        }
        // Kills the agent missed while away, for the tasks it still runs (as Mesos'
        // `killedTasks`): one it never received was answered TASK_KILLED already, and a kill
        // would make the agent answer it a second time (TASK_DROPPED after TASK_KILLED).
        let mut answered = BTreeSet::new();
        for (fw_id, task_id) in pending_kills {
            let key = (fw_id.clone(), task_id.clone());
            if !reported_ids.contains(&key) {
                continue;
            }
            if !self.agent_tasks.holds(&id, &key) {
                // Answered TASK_KILLED already (the launch was thought undelivered): the
                // agent's updates for it must not reach the framework after that.
                answered.insert(key);
            }
            let mut event = agent_event(AgentEventType::KillTask);
            event.kill_task = Some(agent_event::KillTask {
                framework_id: v1::FrameworkId { value: fw_id },
                task_id: v1::TaskId { value: task_id },
                kill_policy: None,
            });
            self.send_to_agent(&id, event, out);
        }
        for (fw_id, task_id) in ended_before {
            let mut event = agent_event(AgentEventType::KillTask);
            event.kill_task = Some(agent_event::KillTask {
                framework_id: v1::FrameworkId {
                    value: fw_id.clone(),
                },
                task_id: v1::TaskId {
                    value: task_id.clone(),
                },
                kill_policy: None,
            });
            self.send_to_agent(&id, event, out);
            answered.insert((fw_id, task_id));
        }
        answered.extend(
            answered_before
                .into_iter()
                .filter(|key| reported_ids.contains(key)),
        );
        if let Some(agent) = self.agents.get_mut(&id) {
            agent.answered_kills = answered;
        }
        self.shutdown_frameworks(&id, shutdown, out);
        if status == AgentStatus::Recovered {
            self.announce_agent(&id, out);
        }
        self.allocation_dirty = true;
    }

    fn shutdown_frameworks(
        &self,
        agent_id: &str,
        frameworks: BTreeSet<String>,
        out: &mut Vec<Effect>,
    ) {
        for fw_id in frameworks {
            let mut event = agent_event(AgentEventType::ShutdownFramework);
            event.shutdown_framework = Some(agent_event::ShutdownFramework {
                framework_id: v1::FrameworkId { value: fw_id },
            });
            self.send_to_agent(agent_id, event, out);
        }
    }

    /// REREGISTER of an unreachable agent, or of one the master does not know at all: it is
    /// readmitted, and every framework hears of each reported task with
    /// REASON_AGENT_REREGISTERED.
    fn reregister_returning(
        &mut self,
        now_ms: u64,
        conn: Conn,
        stream_id: String,
        mut report: Report,
        out: &mut Vec<Effect>,
    ) {
        let id = agent_id_of(&report.info);
        let was_unreachable = self.registry.unreachable.contains_key(&id);
        let resend_checkpoint = match self.registry.unreachable.get(&id) {
            Some(known) => {
                let known = known.info.clone();
                self.reconcile_checkpointed(&known, &mut report.info)
            }
            None => false,
        };
        self.persist(RegistryOp::AdmitAgent(report.info.clone()), out);
        let tasks = std::mem::take(&mut report.tasks);
        let executors = report.executors.clone();
        let frameworks = report.frameworks.clone();
        let mut agent = self.new_agent(now_ms, conn, stream_id, report);
        agent.reregistered_time_ms = Some(now_ms);
        self.put_agent(id.clone(), agent);
        self.arm(now_ms, Timer::AgentPing(id.clone()));
        self.send_registered(&id, AgentEventType::Reregistered, out);
        if resend_checkpoint {
            self.send_checkpoint(&id, out);
        }
        let detail = if was_unreachable {
            None
        } else {
            Some("the agent was unknown to the master")
        };
        let mut shutdown = BTreeSet::new();
        let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
        for task in tasks {
            let fw_id = task.framework_id.value.clone();
            if !self.ensure_framework(&fw_id, &frameworks, out) {
                shutdown.insert(fw_id);
                continue;
            }
            let task_id = task.task_id.value.clone();
            reported.insert((fw_id.clone(), task_id.clone()));
            self.adopt_task(task, out);
            self.master_update(
                now_ms,
                &fw_id,
                &task_id,
                Trigger::AgentReregistered,
                detail,
                None,
                out,
            );
        }
        self.adopt_executors(&id, &executors);
        // Unreachable tasks the agent no longer reports are gone (Mesos drops them silently;
        // Drover keeps them among the completed tasks so their history stays visible).
        let fw_ids: Vec<String> = self.frameworks.keys().cloned().collect();
        for fw_id in fw_ids {
            let lost: Vec<String> = self.frameworks[&fw_id]
                .unreachable_tasks
                .iter()
                .filter(|(tid, e)| {
                    e.task.agent_id.value == id
                        && !reported.contains(&(fw_id.clone(), (*tid).clone()))
                })
                .map(|(tid, _)| tid.clone())
                .collect();
            for task_id in lost {
                if let Some(entry) = self
                    .frameworks
                    .get_mut(&fw_id)
                    .and_then(|f| f.unreachable_tasks.remove(&task_id))
                {
                    self.push_completed(&fw_id, Arc::unwrap_or_clone(entry), out);
                }
            }
        }
        self.shutdown_frameworks(&id, shutdown, out);
        self.announce_agent(&id, out);
        self.allocation_dirty = true;
    }

    /// A call on an open agent session.
    pub(super) fn agent_call(
        &mut self,
        now_ms: u64,
        req: Conn,
        stream_id: Option<String>,
        call: AgentCall,
        out: &mut Vec<Effect>,
    ) {
        let reply = match self.check_agent_call(&stream_id, &call) {
            Err(reply) => reply,
            Ok((kind, agent_id)) => self.dispatch_agent(now_ms, kind, &agent_id, call, out),
        };
        out.push(Effect::Reply { req, reply });
    }

    fn check_agent_call(
        &self,
        stream_id: &Option<String>,
        call: &AgentCall,
    ) -> Result<(CallType, String), Reply> {
        let kind = call
            .r#type
            .and_then(|t| CallType::try_from(t).ok())
            .ok_or_else(|| Reply::error(400, "Expecting 'type' to be present"))?;
        if matches!(kind, CallType::Register | CallType::Reregister) {
            return Err(Reply::error(
                400,
                "REGISTER and REREGISTER open a new session",
            ));
        }
        if kind == CallType::Unknown {
            return Err(Reply::error(400, "Received an unexpected 'UNKNOWN' call"));
        }
        let agent_id = call
            .agent_id
            .as_ref()
            .map(|a| a.value.clone())
            .ok_or_else(|| Reply::error(400, "Expecting 'agent_id' to be present"))?;
        let Some(agent) = self.agents.get(&agent_id) else {
            return Err(Reply::error(403, "Agent is not registered"));
        };
        let (Some(_), Some(current)) = (agent.conn, agent.stream_id.as_ref()) else {
            return Err(Reply::error(403, "Agent is not connected"));
        };
        let Some(given) = stream_id else {
            return Err(Reply::error(
                400,
                "Agent calls must include the 'Mesos-Stream-Id' header of their session",
            ));
        };
        if given != current {
            return Err(Reply::error(
                400,
                format!("The stream ID '{given}' does not match the session of agent {agent_id}"),
            ));
        }
        Ok((kind, agent_id))
    }

    fn dispatch_agent(
        &mut self,
        now_ms: u64,
        kind: CallType,
        agent_id: &str,
        call: AgentCall,
        out: &mut Vec<Effect>,
    ) -> Reply {
        match kind {
            CallType::StatusUpdate => {
                let Some(update) = call.status_update else {
                    return Reply::error(400, "Expecting 'status_update' to be present");
                };
                self.agent_status_update(now_ms, agent_id, update, out);
            }
            CallType::UpdateOversubscribed => {
                let Some(update) = call.update_oversubscribed else {
                    return Reply::error(400, "Expecting 'update_oversubscribed' to be present");
                };
                self.update_oversubscribed(agent_id, update.resources, out);
            }
            CallType::Pong => {
                let cancelled = self.cancel_removal(agent_id);
                if let Some(agent) = self.agents.get_mut(agent_id) {
                    agent.ping.outstanding = false;
                    agent.ping.missed = 0;
                }
                if cancelled {
                    self.allocation_dirty = true;
                }
            }
            CallType::ExecutorExited => {
                let Some(exited) = call.executor_exited else {
                    return Reply::error(400, "Expecting 'executor_exited' to be present");
                };
                self.executor_exited(agent_id, exited, out);
            }
            CallType::Unregister => {
                self.remove_agent(now_ms, agent_id, "the agent unregistered", out);
            }
            CallType::FrameworkMessage => {
                let Some(message) = call.framework_message else {
                    return Reply::error(400, "Expecting 'framework_message' to be present");
                };
                let mut event = scheduler_event(EventType::Message);
                event.message = Some(scheduler::event::Message {
                    agent_id: v1::AgentId {
                        value: agent_id.into(),
                    },
                    executor_id: message.executor_id,
                    data: message.data,
                });
                self.send_to_framework(&message.framework_id.value, event, out);
            }
            _ => return Reply::error(400, "Unexpected call on an agent session"),
        }
        Reply::Accepted
    }

    fn executor_exited(
        &mut self,
        agent_id: &str,
        exited: agent_call::ExecutorExited,
        out: &mut Vec<Effect>,
    ) {
        let fw_id = exited.framework_id.value.clone();
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .executors
                .remove(&(fw_id.clone(), exited.executor_id.value.clone()));
        }
        let mut event = scheduler_event(EventType::Failure);
        event.failure = Some(scheduler::event::Failure {
            agent_id: Some(v1::AgentId {
                value: agent_id.into(),
            }),
            executor_id: Some(exited.executor_id),
            status: Some(exited.status.unwrap_or(-1)),
        });
        self.send_to_framework(&fw_id, event, out);
        self.allocation_dirty = true;
    }

    /// The session stream of an agent ended: it is disconnected, its offers are rescinded,
    /// tasks of frameworks that do not checkpoint are lost, and it has
    /// `--agent_reregister_timeout` to come back.
    pub(super) fn agent_closed(&mut self, now_ms: u64, conn: Conn, out: &mut Vec<Effect>) {
        let Some(id) = self.agent_index.by_conn(conn).cloned() else {
            return;
        };
        self.set_agent_conn(&id, None);
        if let Some(agent) = self.agents.get_mut(&id) {
            let deadline = now_ms + self.config.agent_reregister_timeout_ms;
            agent.status = AgentStatus::Disconnected;
            agent.stream_id = None;
            agent.ping = PingState::default();
            agent.reregister_deadline_ms = Some(deadline);
            self.arm(deadline, Timer::AgentReregister(id.clone()));
        }
        self.rescind_agent_offers(&id, out);
        let fw_ids: Vec<String> = self
            .frameworks
            .iter()
            .filter(|(_, f)| !f.info.checkpoint.unwrap_or(false))
            .map(|(id, _)| id.clone())
            .collect();
        for fw_id in fw_ids {
            let tasks = self.tasks_on_agent(&fw_id, &id);
            for task_id in tasks {
                let terminal = self.frameworks[&fw_id].tasks[&task_id].state();
                if !is_terminal(terminal) {
                    self.master_update(
                        now_ms,
                        &fw_id,
                        &task_id,
                        Trigger::AgentDisconnected,
                        None,
                        None,
                        out,
                    );
                }
                self.complete_task(&fw_id, &task_id, out);
            }
            if let Some(agent) = self.agents.get_mut(&id) {
                agent.executors.retain(|(f, _), _| *f != fw_id);
            }
        }
        self.allocation_dirty = true;
    }

    fn tasks_on_agent(&self, framework_id: &str, agent_id: &str) -> Vec<String> {
        self.agent_tasks.of_framework(agent_id, framework_id)
    }

    /// Runs the agents' due deadlines; `due` (from the timer index) holds every agent whose
    /// reregistration deadline or ping is due, in id order.
    pub(super) fn tick_agents(
        &mut self,
        now_ms: u64,
        due: BTreeSet<String>,
        out: &mut Vec<Effect>,
    ) {
        let max = self.config.max_agent_ping_timeouts.max(1);
        let timeout = self.config.agent_ping_timeout_ms.max(1);
        let mut overdue = Vec::new();
        for id in due {
            let Some(agent) = self.agents.get_mut(&id) else {
                continue;
            };
            if agent.reregister_deadline_ms.is_some_and(|d| now_ms >= d) {
                agent.reregister_deadline_ms = None;
                overdue.push(id.clone());
                continue;
            }
            if agent.status != AgentStatus::Connected || now_ms < agent.ping.next_ping_ms {
                continue;
            }
            if agent.ping.outstanding {
                agent.ping.missed += 1;
            }
            if agent.ping.missed >= max && !agent.removal_pending {
                overdue.push(id.clone());
            }
            agent.ping.sequence += 1;
            agent.ping.outstanding = true;
            agent.ping.next_ping_ms = now_ms + timeout;
            let mut event = agent_event(AgentEventType::Ping);
            event.ping = Some(agent_event::Ping {
                sequence: Some(agent.ping.sequence),
            });
            if let Some(conn) = agent.conn {
                out.push(Effect::ToAgent {
                    conn,
                    event: Box::new(event),
                });
            }
            self.arm(now_ms + timeout, Timer::AgentPing(id));
        }
        for id in overdue {
            self.schedule_unreachable(now_ms, &id, out);
        }
        while let Some(front) = self.removal_queue.front().cloned() {
            if now_ms < self.next_removal_ms {
                break;
            }
            self.removal_queue.pop_front();
            let pending = self.agents.get(&front).is_some_and(|a| a.removal_pending);
            if pending {
                self.mark_unreachable(now_ms, &front, out);
                if let Some(limit) = self.config.agent_removal_rate_limit {
                    self.next_removal_ms = now_ms + limit.interval_ms();
                }
            }
        }
    }

    fn schedule_unreachable(&mut self, now_ms: u64, agent_id: &str, out: &mut Vec<Effect>) {
        if self.config.agent_removal_rate_limit.is_none() {
            self.mark_unreachable(now_ms, agent_id, out);
            return;
        }
        if let Some(agent) = self.agents.get_mut(agent_id)
            && !agent.removal_pending
        {
            agent.removal_pending = true;
            self.removal_queue.push_back(agent_id.into());
            self.counters.agent_unreachable_scheduled += 1;
            // Offers of an agent about to be marked stop now.
            self.rescind_agent_offers(agent_id, out);
        }
        // Process the queue right away if the limiter allows.
        if now_ms >= self.next_removal_ms
            && let Some(front) = self.removal_queue.pop_front()
        {
            if self.agents.get(&front).is_some_and(|a| a.removal_pending) {
                self.mark_unreachable(now_ms, &front, out);
            }
            if let Some(limit) = self.config.agent_removal_rate_limit {
                self.next_removal_ms = now_ms + limit.interval_ms();
            }
        }
    }

    /// Cancels a queued marking (a pong or reregistration arrived in time).
    fn cancel_removal(&mut self, agent_id: &str) -> bool {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return false;
        };
        if !agent.removal_pending {
            return false;
        }
        agent.removal_pending = false;
        self.removal_queue.retain(|id| id != agent_id);
        self.counters.agent_unreachable_canceled += 1;
        true
    }

    /// Marks an agent unreachable: persisted first, then its tasks become
    /// TASK_UNREACHABLE (partition-aware) or TASK_LOST with REASON_AGENT_REMOVED and the
    /// same `unreachable_time`, its offers are rescinded, and every framework gets FAILURE.
    pub(super) fn mark_unreachable(&mut self, now_ms: u64, agent_id: &str, out: &mut Vec<Effect>) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let info = agent.info.clone();
        let conn = agent.conn;
        self.persist(
            RegistryOp::MarkUnreachable {
                info,
                time_ms: now_ms,
            },
            out,
        );
        self.forget_agent_operations(
            agent_id,
            Some((
                v1::OperationState::OperationUnreachable,
                "Agent was marked unreachable",
            )),
            out,
        );
        self.rescind_agent_offers(agent_id, out);
        if let Some(conn) = conn {
            out.push(Effect::CloseAgent { conn });
        }
        let fw_ids: Vec<String> = self.frameworks.keys().cloned().collect();
        for fw_id in fw_ids {
            for task_id in self.tasks_on_agent(&fw_id, agent_id) {
                let state = self.frameworks[&fw_id].tasks[&task_id].state();
                if is_terminal(state) {
                    self.complete_task(&fw_id, &task_id, out);
                    continue;
                }
                self.master_update(
                    now_ms,
                    &fw_id,
                    &task_id,
                    Trigger::AgentMarkedUnreachable,
                    None,
                    Some(now_ms),
                    out,
                );
                if let Some(entry) = self.remove_live_task(&fw_id, &task_id)
                    && let Some(fw) = self.frameworks.get_mut(&fw_id)
                {
                    fw.unreachable_tasks.insert(task_id, Arc::new(entry));
                }
            }
        }
        self.take_agent(agent_id);
        self.removal_queue.retain(|id| id != agent_id);
        self.counters.agent_unreachable_completed += 1;
        self.counters.agent_removals += 1;
        self.broadcast_agent_failure(agent_id, out);
        // As Mesos' `__removeSlave` does for an unreachable agent: operator subscribers drop it.
        agent_removed_event(agent_id, out);
        self.allocation_dirty = true;
    }

    /// Removes an agent outright (it unregistered, or a new agent took its address): its
    /// tasks become TASK_LOST/REASON_AGENT_REMOVED for every framework.
    pub(super) fn remove_agent(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        why: &str,
        out: &mut Vec<Effect>,
    ) {
        self.remove_agent_with(now_ms, agent_id, Trigger::AgentRemoved, why, out);
    }

    /// Removes an agent outright, its live tasks updated by `trigger`'s row.
    pub(super) fn remove_agent_with(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        trigger: Trigger,
        why: &str,
        out: &mut Vec<Effect>,
    ) {
        let Some(conn) = self.agents.get(agent_id).map(|a| a.conn) else {
            return;
        };
        self.persist(
            RegistryOp::RemoveAgent {
                agent_id: agent_id.into(),
            },
            out,
        );
        self.forget_agent_operations(agent_id, None, out);
        self.rescind_agent_offers(agent_id, out);
        self.lose_tasks(now_ms, agent_id, trigger, Some(why), out);
        if let Some(conn) = conn {
            out.push(Effect::CloseAgent { conn });
        }
        self.take_agent(agent_id);
        self.removal_queue.retain(|id| id != agent_id);
        self.counters.agent_removals += 1;
        self.broadcast_agent_failure(agent_id, out);
        agent_removed_event(agent_id, out);
        self.allocation_dirty = true;
    }

    /// Sends `trigger` for every live task on the agent and completes them.
    fn lose_tasks(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        trigger: Trigger,
        detail: Option<&str>,
        out: &mut Vec<Effect>,
    ) {
        let fw_ids: Vec<String> = self.frameworks.keys().cloned().collect();
        for fw_id in fw_ids {
            for task_id in self.tasks_on_agent(&fw_id, agent_id) {
                let state = self.frameworks[&fw_id].tasks[&task_id].state();
                if !is_terminal(state) {
                    self.master_update(now_ms, &fw_id, &task_id, trigger, detail, None, out);
                }
                self.complete_task(&fw_id, &task_id, out);
            }
        }
    }

    /// MARK_AGENT_GONE: idempotent; a registered agent is shut down and its tasks become
    /// TASK_GONE_BY_OPERATOR (partition-aware) or TASK_LOST; an unreachable agent's tasks
    /// likewise; a recovered agent is marked without any update (MESOS-9739).
    pub(super) fn mark_gone(
        &mut self,
        now_ms: u64,
        agent_id: &str,
        out: &mut Vec<Effect>,
    ) -> Reply {
        if self.registry.gone.contains_key(agent_id) {
            return Reply::Ok;
        }
        let registered = self.agents.get(agent_id).map(|a| (a.status, a.conn));
        let unreachable = self.registry.unreachable.contains_key(agent_id);
        if registered.is_none() && !unreachable {
            return Reply::error(404, format!("Agent {agent_id} not found"));
        }
        self.persist(
            RegistryOp::MarkGone {
                agent_id: agent_id.into(),
                time_ms: now_ms,
            },
            out,
        );
        self.forget_agent_operations(
            agent_id,
            Some((
                v1::OperationState::OperationGoneByOperator,
                "Agent has been marked gone",
            )),
            out,
        );
        self.removal_queue.retain(|id| id != agent_id);
        if let Some((status, conn)) = registered {
            if status == AgentStatus::Recovered {
                self.take_agent(agent_id);
                agent_removed_event(agent_id, out);
                return Reply::Ok;
            }
            if let Some(conn) = conn {
                let mut event = agent_event(AgentEventType::Shutdown);
                event.shutdown = Some(agent_event::Shutdown {
                    message: Some("Agent has been marked gone by the operator".into()),
                });
                out.push(Effect::ToAgent {
                    conn,
                    event: Box::new(event),
                });
                out.push(Effect::CloseAgent { conn });
            }
            self.rescind_agent_offers(agent_id, out);
            self.lose_tasks(now_ms, agent_id, Trigger::AgentMarkedGone, None, out);
            self.take_agent(agent_id);
        } else {
            let fw_ids: Vec<String> = self.frameworks.keys().cloned().collect();
            for fw_id in fw_ids {
                let tasks: Vec<String> = self.frameworks[&fw_id]
                    .unreachable_tasks
                    .iter()
                    .filter(|(_, e)| e.task.agent_id.value == agent_id)
                    .map(|(id, _)| id.clone())
                    .collect();
                for task_id in tasks {
                    self.master_update(
                        now_ms,
                        &fw_id,
                        &task_id,
                        Trigger::AgentMarkedGone,
                        None,
                        None,
                        out,
                    );
                    if let Some(entry) = self
                        .frameworks
                        .get_mut(&fw_id)
                        .and_then(|f| f.unreachable_tasks.remove(&task_id))
                    {
                        self.push_completed(&fw_id, Arc::unwrap_or_clone(entry), out);
                    }
                }
            }
        }
        self.counters.agent_removals += 1;
        self.broadcast_agent_failure(agent_id, out);
        // Also for an agent that was unreachable (Mesos sent nothing then): the event is how
        // an operator subscriber, such as the web UI, learns that its list of unreachable and
        // gone agents changed; a subscriber that already dropped the agent ignores it.
        agent_removed_event(agent_id, out);
        self.allocation_dirty = true;
        Reply::Ok
    }
}

/// AGENT_REMOVED to the operator API's subscribers.
fn agent_removed_event(agent_id: &str, out: &mut Vec<Effect>) {
    let mut event = operator_event(OperatorEventType::AgentRemoved);
    event.agent_removed = Some(v1::master::event::AgentRemoved {
        agent_id: v1::AgentId {
            value: agent_id.into(),
        },
    });
    out.push(Effect::ToOperators(Box::new(event)));
}

fn validate_agent_info(info: &v1::AgentInfo) -> Result<(), String> {
    if info.hostname.is_empty() {
        return Err("Expecting 'agent_info.hostname' to be present".into());
    }
    for r in &info.resources {
        resources::validate(r).map_err(|e| format!("Invalid agent resources: {e}"))?;
    }
    Ok(())
}
