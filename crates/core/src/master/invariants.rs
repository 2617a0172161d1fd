//! The master's invariants, checked after every step in tests and the simulator: resources are
//! never over-allocated on an agent, offers and live tasks only point at live agents, the
//! registry mirror agrees with memory, terminal tasks never change (except Mesos' documented
//! TASK_LOST resurrection), and every update the master generates is one the emission table
//! allows for that kind of framework; and no role is offered unreserved resources beyond its
//! quota limit (its tasks alone may exceed a limit lowered with `force` or an agent's return,
//! as Mesos allowed; its offers are then rescinded).

use std::collections::BTreeMap;

use drover_wire::v1;
use drover_wire::v1::scheduler::event::Type as EventType;

use super::{AgentStatus, Conn, Effect, Master};
use crate::resources;
use crate::task::emission::is_allowed;
use crate::task::state::is_terminal;
use crate::task::{Reason, Source, TaskState};

/// The state of every task the master holds, by (framework id, task id).
pub type TaskStates = BTreeMap<(String, String), TaskState>;

impl Master {
    /// Checks the invariants that hold between steps.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (id, agent) in &self.agents {
            // Revocable resources may be held beyond the latest estimate (the agent's QoS
            // controller evicts them); everything else must fit the agent.
            let held: Vec<drover_wire::v1::Resource> =
                resources::add(&self.agent_used(id), &self.agent_offered(id))
                    .into_iter()
                    .filter(|r| r.revocable.is_none())
                    .collect();
            if !resources::contains(&agent.info.resources, &held) {
                return Err(format!(
                    "agent {id} over-allocated: holds {} of {}",
                    resources::display(&held),
                    resources::display(&agent.info.resources)
                ));
            }
            if !self.registry.agents.contains_key(id) {
                return Err(format!("agent {id} is in memory but not in the registry"));
            }
        }
        for id in self.registry.agents.keys() {
            if !self.agents.contains_key(id) {
                return Err(format!("agent {id} is in the registry but not in memory"));
            }
        }
        for (offer_id, offer) in &self.offers {
            let agent_ok = self
                .agents
                .get(&offer.offer.agent_id.value)
                .is_some_and(|a| a.status == AgentStatus::Connected)
                && !self
                    .registry
                    .deactivated
                    .contains(&offer.offer.agent_id.value);
            let fw_ok = self
                .frameworks
                .get(&offer.offer.framework_id.value)
                .is_some_and(|f| f.connected());
            if !agent_ok || !fw_ok {
                return Err(format!("offer {offer_id} outlived its agent or framework"));
            }
        }
        self.check_timers()?;
        self.check_operation_retries()?;
        self.check_agent_offers()?;
        self.check_ledger()?;
        self.check_quota_limits()?;
        if self.next_deadline() != self.next_deadline_by_scan() {
            return Err(format!(
                "next deadline {:?} from the timer index, {:?} by a scan",
                self.next_deadline(),
                self.next_deadline_by_scan()
            ));
        }
        let scanned = super::task_index::AgentTasks::scan(
            self.frameworks.iter().map(|(id, fw)| (id, &fw.tasks)),
        );
        if scanned != self.agent_tasks {
            return Err("the live-task index by agent disagrees with the frameworks' tasks".into());
        }
        if super::agent_index::AgentIndex::scan(self.agents.iter()) != self.agent_index {
            return Err("the agent index (address, session) disagrees with the agents".into());
        }
        for (fw_id, records) in &self.registry.completed {
            // The registry is trimmed when a task completes, so it holds at most the bound
            // (the simulator never changes the bound across a restart).
            if records.len() > self.config.max_completed_tasks_per_framework {
                return Err(format!(
                    "the registry keeps {} completed tasks of {fw_id}",
                    records.len()
                ));
            }
            let shown = self
                .frameworks
                .get(fw_id)
                .or_else(|| {
                    self.completed_frameworks
                        .iter()
                        .find(|f| f.info.id.as_ref().is_some_and(|i| &i.value == fw_id))
                })
                .map(|f| f.completed_tasks.len());
            if let Some(shown) = shown
                && shown != records.len()
            {
                return Err(format!(
                    "framework {fw_id} shows {shown} completed tasks but the registry keeps {}",
                    records.len()
                ));
            }
        }
        for (fw_id, fw) in &self.frameworks {
            if fw.completed_tasks.len() > self.config.max_completed_tasks_per_framework {
                return Err(format!("framework {fw_id} keeps too many completed tasks"));
            }
            for (task_id, entry) in &fw.tasks {
                if !self.agents.contains_key(&entry.task.agent_id.value) {
                    return Err(format!(
                        "live task {task_id} of {fw_id} is on agent {} the master does not hold",
                        entry.task.agent_id.value
                    ));
                }
                if entry.state() == TaskState::TaskUnknown {
                    return Err(format!("task {task_id} is stored as TASK_UNKNOWN"));
                }
                if entry.history.len() > self.config.max_status_history.max(1) {
                    return Err(format!("task {task_id} history is unbounded"));
                }
            }
            if self.registry.removed_frameworks.contains(fw_id) {
                return Err(format!("removed framework {fw_id} is still known"));
            }
        }
        Ok(())
    }

    /// The state of every live and unreachable task.
    pub fn task_states(&self) -> TaskStates {
        let mut out = TaskStates::new();
        for (fw_id, fw) in &self.frameworks {
            for (task_id, entry) in fw.tasks.iter().chain(fw.unreachable_tasks.iter()) {
                out.insert((fw_id.clone(), task_id.clone()), entry.state());
            }
        }
        out
    }

    /// Checks one step: `before` are the task states before it, `effects` what it emitted.
    pub fn check_step(&self, before: &TaskStates, effects: &[Effect]) -> Result<(), String> {
        // Every UPDATE sent to a scheduler, with its stream, in order.
        let mut updates: Vec<(Conn, &v1::TaskStatus)> = Vec::new();
        for effect in effects {
            match effect {
                Effect::ToScheduler { conn, event }
                    if event.r#type == Some(EventType::Update as i32) =>
                {
                    let Some(update) = &event.update else {
                        return Err("UPDATE event without an update".into());
                    };
                    updates.push((*conn, &update.status));
                }
                Effect::ToSchedulerUpdates { conn, statuses } => {
                    updates.extend(statuses.iter().map(|status| (*conn, status)));
                }
                _ => {}
            }
        }
        let resurrected: Vec<String> = updates
            .iter()
            .map(|(_, status)| *status)
            // The operators' TASK_UPDATED carries the same status, and is emitted even
            // when the framework is disconnected (it reconciles later).
            .chain(effects.iter().filter_map(|e| match e {
                Effect::ToOperators(event) => event.task_updated.as_ref().map(|u| &u.status),
                _ => None,
            }))
            .filter(|status| status.reason == Some(Reason::AgentReregistered as i32))
            .map(|status| status.task_id.value.clone())
            .collect();
        for (key, after) in self.task_states() {
            if let Some(&was) = before.get(&key)
                && is_terminal(was)
                && was != after
                && !resurrected.contains(&key.1)
            {
                return Err(format!(
                    "terminal task {}/{} changed from {} to {}",
                    key.0,
                    key.1,
                    was.as_str_name(),
                    after.as_str_name()
                ));
            }
        }
        for (conn, status) in updates {
            // Reliable updates must name their agent (schedulers ACK with it); only
            // reconciliation answers about tasks nobody knows may lack one.
            let reconciliation = status.reason == Some(Reason::Reconciliation as i32);
            if status.agent_id.is_none() && (status.uuid.is_some() || !reconciliation) {
                return Err(format!(
                    "update for {} has no agent_id",
                    status.task_id.value
                ));
            }
            if status.source != Some(Source::Master as i32) {
                continue;
            }
            if status.uuid.is_some() {
                return Err("a master-generated update carries a uuid".into());
            }
            let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
            let reason = status.reason.and_then(|r| Reason::try_from(r).ok());
            let pa = self
                .frameworks
                .values()
                .find(|f| f.conn == Some(conn))
                .map(|f| f.partition_aware);
            let allowed = match pa {
                Some(pa) => is_allowed(state, reason, Source::Master, pa),
                None => {
                    is_allowed(state, reason, Source::Master, true)
                        || is_allowed(state, reason, Source::Master, false)
                }
            };
            if !allowed {
                return Err(format!(
                    "master emitted ({}, {:?}) which the table does not allow",
                    state.as_str_name(),
                    reason
                ));
            }
        }
        Ok(())
    }
}
