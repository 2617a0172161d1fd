//! A status of one task of a pod instance: recorded on that container's task, then folded
//! into what the instance as a whole shows (its condition from all its tasks, its health from
//! its checked containers), which the ordinary seed-2 reaction then handles exactly as for an
//! app's instance. Each task's own state change is a `status_update_event` with its task id.

use drover_wire::v1;

use super::Scheduler;
use crate::marathon::condition::Condition;
use crate::marathon::event::Event;
use crate::marathon::instance::parse_task_id_parts;
use crate::marathon::pod::state;
use crate::task::TaskState;

/// What a status means for a pod instance.
#[derive(Debug)]
pub(super) enum PodFold {
    /// Not a pod instance: handle the status as an app's.
    NotPod,
    /// Nothing changes (why, for the log).
    Ignored(&'static str),
    /// The instance as a whole now shows this.
    Folded {
        /// The Mesos state of the task that decides the condition.
        state: TaskState,
        /// The instance's condition.
        condition: Condition,
        /// The instance's health.
        healthy: Option<bool>,
    },
}

impl Scheduler {
    pub(super) fn pod_fold(
        &mut self,
        now_ms: u64,
        instance_id: &str,
        state: TaskState,
        condition: Condition,
        status: &v1::TaskStatus,
    ) -> PodFold {
        let Some(instance) = self.instances.get(instance_id) else {
            return PodFold::NotPod;
        };
        if !instance.is_pod() {
            return PodFold::NotPod;
        }
        let Some((_, container, _)) = parse_task_id_parts(&status.task_id.value) else {
            return PodFold::Ignored("not a task of this pod instance: ignored");
        };
        let Some(index) = instance.tasks.iter().position(|t| t.container == container) else {
            return PodFold::Ignored("no such container in this pod instance: ignored");
        };
        if instance.tasks[index].condition.is_terminal() {
            return PodFold::Ignored("ignored: the container's task already ended");
        }
        let pod = self
            .apps
            .get(&instance.app_id)
            .and_then(|a| a.pod.as_deref())
            .cloned();
        let changed_state = instance.tasks[index].state != Some(state);
        let folded = self.instances.modify(instance_id, |i| {
            let task = &mut i.tasks[index];
            if task.condition != condition {
                task.condition = condition;
                task.since_ms = now_ms;
            }
            task.state = Some(state);
            task.message.clone_from(&status.message);
            if status.healthy.is_some() {
                task.healthy = status.healthy;
            }
            if condition == Condition::Running && task.started_at_ms.is_none() {
                task.started_at_ms = Some(now_ms);
            }
            let deciding = state::deciding(&i.tasks);
            let instance_state = deciding.and_then(|t| t.state).unwrap_or(state);
            let healthy = pod.as_ref().and_then(|p| state::healthy(p, &i.tasks));
            (instance_state, state::condition(&i.tasks), healthy)
        });
        let Some((state_now, condition_now, healthy)) = folded else {
            return PodFold::NotPod;
        };
        if changed_state && let Some(instance) = self.instances.get(instance_id) {
            let event = Event::StatusUpdate {
                slave_id: instance
                    .placement
                    .as_ref()
                    .map(|p| p.agent_id.clone())
                    .unwrap_or_default(),
                task_id: status.task_id.value.clone(),
                task_status: state,
                message: status.message.clone().unwrap_or_default(),
                app_id: instance.app_id.clone(),
                host: instance
                    .placement
                    .as_ref()
                    .map(|p| p.agent.hostname.clone())
                    .unwrap_or_default(),
                ip_addresses: instance.ip_addresses.clone(),
                ports: instance
                    .placement
                    .as_ref()
                    .map(|p| p.host_ports.clone())
                    .unwrap_or_default(),
                version_ms: instance.app_version_ms,
            };
            self.publish(event);
        }
        PodFold::Folded {
            state: state_now,
            condition: condition_now,
            healthy,
        }
    }
}
