//! DRAIN_AGENT on the agent (Mesos' `Slave::drain`): the drain config is checkpointed, every
//! live task is killed with its kill policy's grace capped at `max_grace_period`, tasks sent
//! while the agent drains are dropped (REASON_SLAVE_DRAINING), the KILLED and KILLING
//! updates of a draining agent say why, and the config is forgotten once no framework is
//! left (the master then sees the agent empty and moves the drain to DRAINED).

use drover_wire::v1;

use super::model::Framework;
use super::{Agent, CheckpointOp, Effect, FrameworkId, TaskId};
use crate::task::TaskState;

/// What a drain does to a task's kill policy, as Mesos' agent computed it: without a
/// `max_grace_period` the task's own policy stands; with one, a task whose policy names no
/// grace period, or a longer one, is killed with the drain's.
pub fn kill_policy_override(
    max_grace_period: Option<v1::DurationInfo>,
    own: Option<&v1::KillPolicy>,
) -> Option<v1::KillPolicy> {
    let cap = max_grace_period?;
    let override_policy = v1::KillPolicy {
        grace_period: Some(cap),
    };
    match own.and_then(|p| p.grace_period) {
        None => Some(override_policy),
        Some(grace) if cap.nanoseconds < grace.nanoseconds => Some(override_policy),
        Some(_) => None,
    }
}

impl Agent {
    /// The master's DRAIN (also replayed from the checkpoint when a restarted agent has
    /// recovered its executors).
    pub(super) fn drain(&mut self, now_ms: u64, config: v1::DrainConfig, out: &mut Vec<Effect>) {
        if self.frameworks.is_empty() {
            // As Mesos: nothing is stored, so draining is already complete (the master sends
            // it again at every reregistration while it has the agent draining).
            return;
        }
        if self.drain != Some(config) {
            out.push(Effect::Checkpoint(CheckpointOp::Drain(Some(config))));
            self.drain = Some(config);
        }
        self.drain_started_ms = Some(now_ms);
        self.kill_for_drain(now_ms, out);
    }

    /// Kills every live task, queued ones included, with the drain's kill policy.
    pub(super) fn kill_for_drain(&mut self, now_ms: u64, out: &mut Vec<Effect>) {
        let Some(config) = self.drain else {
            return;
        };
        let live: Vec<(FrameworkId, TaskId, Option<v1::KillPolicy>)> = self
            .frameworks
            .iter()
            .filter(|(_, f)| !f.terminating)
            .flat_map(|(framework_id, f)| {
                f.executors.values().flat_map(move |e| {
                    e.tasks
                        .iter()
                        .filter(|(_, t)| !t.is_terminal())
                        .map(move |(task_id, t)| {
                            (
                                framework_id.clone(),
                                task_id.clone(),
                                kill_policy_override(
                                    config.max_grace_period,
                                    t.info.kill_policy.as_ref(),
                                ),
                            )
                        })
                })
            })
            .collect();
        for (framework_id, task_id, kill_policy) in live {
            // Killing one task of an undelivered group kills the whole group: a later task of
            // it is already terminal and skipped by `kill_task`.
            self.kill_task(now_ms, &framework_id, &task_id, kill_policy, out);
        }
    }

    /// Forgets the drain once no framework is left (Mesos' `updateDrainStatus`).
    pub(super) fn update_drain_status(&mut self, out: &mut Vec<Effect>) {
        if self.drain.is_some() && self.frameworks.is_empty() {
            self.drain = None;
            self.drain_started_ms = None;
            out.push(Effect::Checkpoint(CheckpointOp::Drain(None)));
        }
    }

    /// While the agent drains, a task's KILLING and KILLED updates carry
    /// REASON_SLAVE_DRAINING whatever reason they had, so that a framework sees why its task
    /// went away; when the drain marks the agent gone, a partition-aware framework's KILLED is
    /// TASK_GONE_BY_OPERATOR, as Mesos' agent sent them.
    ///
    /// Mesos made a KILLING TASK_GONE_BY_OPERATOR too; Drover keeps KILLING (only its reason
    /// changes): a terminal state there would end the task's update stream while the task
    /// still runs, and its real end would be refused.
    pub(super) fn drain_rewrite(&self, framework_id: &FrameworkId, status: &mut v1::TaskStatus) {
        let Some(config) = self.drain else {
            return;
        };
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskStaging);
        if !matches!(state, TaskState::TaskKilling | TaskState::TaskKilled) {
            return;
        }
        status.reason = Some(crate::task::Reason::AgentDraining as i32);
        let partition_aware = self
            .frameworks
            .get(framework_id)
            .is_some_and(Framework::partition_aware);
        if state == TaskState::TaskKilled && config.mark_gone == Some(true) && partition_aware {
            status.state = TaskState::TaskGoneByOperator as i32;
        }
    }

    /// The drain config while the agent drains (for `/state`).
    pub fn drain_config(&self) -> Option<&v1::DrainConfig> {
        self.drain.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grace(s: i64) -> v1::DurationInfo {
        v1::DurationInfo {
            nanoseconds: s * 1_000_000_000,
        }
    }

    fn policy(s: i64) -> v1::KillPolicy {
        v1::KillPolicy {
            grace_period: Some(grace(s)),
        }
    }

    #[test]
    fn the_drain_caps_a_longer_or_missing_grace_period_and_leaves_a_shorter_one() {
        assert_eq!(kill_policy_override(None, Some(&policy(30))), None);
        assert_eq!(kill_policy_override(None, None), None);
        assert_eq!(kill_policy_override(Some(grace(5)), None), Some(policy(5)));
        assert_eq!(
            kill_policy_override(Some(grace(5)), Some(&v1::KillPolicy::default())),
            Some(policy(5))
        );
        assert_eq!(
            kill_policy_override(Some(grace(5)), Some(&policy(30))),
            Some(policy(5))
        );
        assert_eq!(kill_policy_override(Some(grace(5)), Some(&policy(2))), None);
        assert_eq!(kill_policy_override(Some(grace(5)), Some(&policy(5))), None);
    }
}
