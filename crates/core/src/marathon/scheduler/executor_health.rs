//! What the scheduler makes of the health verdicts the executor sends (every check of a
//! Drover app runs on the agent): each failure is a `failed_health_check_event` and is kept
//! with its cause and count for `healthCheckResults`; a task the executor killed for failing
//! its checks (terminal `TASK_KILLED` with `healthy: false` that the scheduler did not ask
//! for) is an `unhealthy_instance_kill_event` and the app's `lastTaskFailure`, so a task that
//! is replaced every few seconds says why. The latest `check_status` (the app's `check`) is
//! kept for the task's `checkResult`.

use drover_wire::v1;

use super::{Scheduler, TaskFailure};
use crate::marathon::event::Event;
use crate::marathon::instance::{HealthResult, parse_task_id};
use crate::task::{Reason, TaskState};

impl Scheduler {
    /// Looks at a status before it is applied.
    pub(super) fn executor_health(&mut self, now_ms: u64, status: &v1::TaskStatus) {
        self.check_status(status);
        let Some(healthy) = status.healthy else {
            return;
        };
        let Some((instance_id, _)) = parse_task_id(&status.task_id.value) else {
            return;
        };
        let Some(instance) = self.instances.get(instance_id) else {
            return;
        };
        if instance.task_id() != status.task_id.value {
            return;
        }
        let Some(app) = self.apps.get(&instance.app_id) else {
            return;
        };
        // The check the executor runs: the app's Mesos check, else its first one.
        let check_index = app
            .health_checks
            .iter()
            .position(|c| c.protocol.is_mesos())
            .unwrap_or(0);
        let state = TaskState::try_from(status.state).unwrap_or(TaskState::TaskRunning);
        let message = status.message.clone().unwrap_or_default();
        let (app_id, id, task_id) = (
            instance.app_id.clone(),
            instance.id.clone(),
            instance.task_id(),
        );
        if state == TaskState::TaskRunning {
            let health_update = status.reason == Some(Reason::TaskHealthCheckStatusUpdated as i32)
                || status.reason.is_none();
            if !health_update {
                return;
            }
            let result = self.executor_health.entry(id.clone()).or_default();
            if healthy {
                result.consecutive_failures = 0;
                result.first_success_ms.get_or_insert(now_ms);
                result.last_success_ms = Some(now_ms);
                return;
            }
            result.consecutive_failures += 1;
            result.last_failure_ms = Some(now_ms);
            result.last_failure_cause = Some(message);
            self.publish(Event::FailedHealthCheck {
                app_id,
                instance_id: id,
                check_index,
            });
            return;
        }
        // Killed for its health by the executor, not by us.
        if state == TaskState::TaskKilled
            && !healthy
            && instance.kill_sent_ms.is_none()
            && instance.goal == crate::marathon::condition::Goal::Running
        {
            let cause = self
                .executor_health
                .get(&id)
                .and_then(|h| h.last_failure_cause.clone())
                .unwrap_or_else(|| message.clone());
            let host = instance
                .placement
                .as_ref()
                .map(|p| p.agent.hostname.clone())
                .unwrap_or_default();
            let slave_id = instance
                .placement
                .as_ref()
                .map(|p| p.agent_id.clone())
                .unwrap_or_default();
            let version_ms = instance.app_version_ms;
            self.publish(Event::UnhealthyInstanceKill {
                app_id: app_id.clone(),
                task_id: task_id.clone(),
                instance_id: id.clone(),
                version_ms,
                reason: cause.clone(),
                host: host.clone(),
                slave_id: slave_id.clone(),
            });
            self.failures.insert(
                app_id.clone(),
                TaskFailure {
                    app_id,
                    host,
                    message: format!("killed after failing health checks: {cause}"),
                    state,
                    task_id,
                    instance_id: id,
                    timestamp_ms: now_ms,
                    version_ms,
                    slave_id,
                },
            );
        }
    }

    /// Keeps the latest `check_status` of an instance's current task (the app's `check`).
    fn check_status(&mut self, status: &v1::TaskStatus) {
        let Some(check) = &status.check_status else {
            return;
        };
        let Some((instance_id, _)) = parse_task_id(&status.task_id.value) else {
            return;
        };
        if self
            .instances
            .get(instance_id)
            .is_some_and(|i| i.task_id() == status.task_id.value)
        {
            self.check_results.insert(instance_id.to_owned(), *check);
        }
    }

    /// The latest result of an instance's `check` (`checkResult`).
    pub fn check_result_of(&self, instance_id: &str) -> Option<&v1::CheckStatusInfo> {
        self.check_results.get(instance_id)
    }

    /// The executor's health verdicts for an instance (its Mesos-level check), as
    /// `healthCheckResults` shows them.
    pub fn executor_health_of(&self, instance_id: &str) -> Option<&HealthResult> {
        self.executor_health.get(instance_id)
    }
}
