//! RECONCILE, exactly as spec §2.7 (Mesos' `Master::reconcile`): implicit reconciliation
//! answers every task the master tracks for the framework; explicit reconciliation answers
//! each named task by what the master knows of it or of its agent, and stays silent while
//! the answer could still change because an agent has not reregistered after a failover.

use drover_wire::v1;
use drover_wire::v1::scheduler;

use super::{AgentStatus, Effect, Master, TaskEntry, seconds, time_info};
use crate::task::TaskState;
use crate::task::emission::{Trigger, emission};

impl Master {
    pub(super) fn reconcile(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        queries: &[scheduler::call::reconcile::Task],
        out: &mut Vec<Effect>,
    ) {
        let Some(fw) = self.frameworks.get(framework_id) else {
            return;
        };
        // Answers go to the framework's stream; without one there is nobody to answer.
        let Some(conn) = fw.conn else {
            return;
        };
        let pa = fw.partition_aware;
        let mut answers = Vec::with_capacity(if queries.is_empty() {
            fw.tasks.len()
        } else {
            queries.len()
        });
        if queries.is_empty() {
            for entry in fw.tasks.values() {
                answers.push(known_answer(entry, pa, now_ms));
            }
            answers.extend(self.pending_task_answer(framework_id, None, pa, now_ms));
        } else {
            // Whether some agent has not reregistered since a failover, asked once per call
            // (not once per unknown task: a call naming 100,000 tasks on 10,000 agents would
            // otherwise hold the master for billions of steps).
            let mut any_recovered: Option<bool> = None;
            for query in queries {
                let task_id = query.task_id.value.as_str();
                if let Some(entry) = fw.tasks.get(task_id) {
                    answers.push(known_answer(entry, pa, now_ms));
                    continue;
                }
                let pending = self.pending_task_answer(framework_id, Some(task_id), pa, now_ms);
                if !pending.is_empty() {
                    answers.extend(pending);
                    continue;
                }
                if let Some(entry) = fw.unreachable_tasks.get(task_id) {
                    let mut status = emission(Trigger::ReconcileTaskOnUnreachableAgent).status(
                        task_id,
                        pa,
                        TaskState::TaskUnreachable,
                        None,
                    );
                    status.agent_id = Some(entry.task.agent_id.clone());
                    status.executor_id = entry.task.executor_id.clone();
                    status.unreachable_time = entry.unreachable_time_ms.map(time_info);
                    status.timestamp = Some(seconds(now_ms));
                    answers.push(status);
                    continue;
                }
                let recovered = || {
                    *any_recovered.get_or_insert_with(|| {
                        self.agents
                            .values()
                            .any(|a| a.status == AgentStatus::Recovered)
                    })
                };
                if let Some(status) = self.unknown_task_answer(
                    task_id,
                    query.agent_id.as_ref(),
                    recovered,
                    pa,
                    now_ms,
                ) {
                    answers.push(status);
                }
            }
        }
        // One effect for all the answers; the driver sends each as its own UPDATE event.
        if !answers.is_empty() {
            out.push(Effect::ToSchedulerUpdates {
                conn,
                statuses: answers,
            });
        }
    }

    /// The answer for a task the master does not track, or `None` while it must stay silent.
    fn unknown_task_answer(
        &self,
        task_id: &str,
        agent_id: Option<&v1::AgentId>,
        any_recovered: impl FnOnce() -> bool,
        pa: bool,
        now_ms: u64,
    ) -> Option<v1::TaskStatus> {
        let mut unreachable_time = None;
        let trigger = match agent_id {
            Some(agent) => {
                let id = agent.value.as_str();
                match self.agents.get(id).map(|a| a.status) {
                    Some(AgentStatus::Recovered) => return None,
                    Some(_) => Trigger::ReconcileUnknownTaskOnAgent,
                    None => {
                        if let Some(unreachable) = self.registry.unreachable.get(id) {
                            unreachable_time = Some(unreachable.time_ms);
                            Trigger::ReconcileTaskOnUnreachableAgent
                        } else if self.registry.gone.contains_key(id) {
                            Trigger::ReconcileTaskOnGoneAgent
                        } else {
                            Trigger::ReconcileTaskOnUnknownAgent
                        }
                    }
                }
            }
            None => {
                if any_recovered() {
                    return None;
                }
                Trigger::ReconcileTaskOnUnknownAgent
            }
        };
        let mut status = emission(trigger).status(task_id, pa, TaskState::TaskUnknown, None);
        status.agent_id = agent_id.cloned();
        status.unreachable_time = unreachable_time.map(time_info);
        status.timestamp = Some(seconds(now_ms));
        Some(status)
    }
}

/// A fresh status for a known task: its `status_update_state` (else `state`), with health,
/// check and container status carried over, never `data` or the original message.
fn known_answer(entry: &TaskEntry, pa: bool, now_ms: u64) -> v1::TaskStatus {
    let mut status = emission(Trigger::ReconcileKnownTask).status(
        &entry.task.task_id.value,
        pa,
        entry.reported_state(),
        None,
    );
    status.agent_id = Some(entry.task.agent_id.clone());
    status.executor_id = entry.task.executor_id.clone();
    status.timestamp = Some(seconds(now_ms));
    if let Some(last) = entry.task.statuses.last() {
        status.healthy = last.healthy;
        status.check_status = last.check_status;
        status.container_status = last.container_status.clone();
    }
    status.unreachable_time = entry.unreachable_time_ms.map(time_info);
    status
}
