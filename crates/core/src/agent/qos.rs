//! Oversubscription on the agent: the resource estimator's revocable resources (measured or
//! fixed by the driver) are forwarded to the master whenever they change and after every
//! (re)registration, as Mesos' agent sent UpdateSlaveMessage; and the QoS controller's
//! corrections evict every container that uses revocable resources, whose tasks then end
//! TASK_LOST (TASK_GONE for partition-aware frameworks) with REASON_CONTAINER_PREEMPTED.

use drover_wire::internal;
use drover_wire::v1;

use super::{Agent, ContainerId, Effect};
use crate::resources;
use crate::task::emission::Trigger;

impl Agent {
    /// The estimator's latest estimate (see [`super::Input::Oversubscribed`]).
    pub(super) fn oversubscribed(
        &mut self,
        estimate: Vec<v1::Resource>,
        total: bool,
        out: &mut Vec<Effect>,
    ) {
        let revocable = |list: &[v1::Resource]| -> Vec<v1::Resource> {
            resources::normalize(list)
                .into_iter()
                .map(|mut r| {
                    r.revocable = Some(v1::resource::RevocableInfo {});
                    r.allocation_info = None;
                    r
                })
                .collect()
        };
        let estimate = revocable(&estimate);
        let held = revocable(&self.revocable_held());
        let list = if total {
            resources::add(&held, &resources::subtract(&estimate, &held))
        } else {
            resources::add(&held, &estimate)
        };
        if list == self.oversubscribed {
            return;
        }
        self.oversubscribed = list;
        self.send_oversubscribed(out);
    }

    /// Tells the master the current estimate (on a change, and after each registration: a
    /// new master knows none).
    pub(super) fn send_oversubscribed(&self, out: &mut Vec<Effect>) {
        if !self.registered || (self.oversubscribed.is_empty() && !self.estimator_enabled()) {
            return;
        }
        out.push(Effect::ToMaster(internal::AgentCall {
            r#type: Some(internal::agent_call::Type::UpdateOversubscribed as i32),
            agent_id: self.agent_id.clone().map(|value| v1::AgentId { value }),
            update_oversubscribed: Some(internal::agent_call::UpdateOversubscribed {
                resources: self.oversubscribed.clone(),
            }),
            ..Default::default()
        }));
    }

    /// The revocable resources live executors and tasks hold.
    fn revocable_held(&self) -> Vec<v1::Resource> {
        let mut held = Vec::new();
        for executor in self.frameworks.values().flat_map(|f| f.executors.values()) {
            if executor.is_ending() {
                continue;
            }
            held.extend(
                executor
                    .info
                    .resources
                    .iter()
                    .filter(|r| r.revocable.is_some())
                    .cloned(),
            );
            for task in executor
                .tasks
                .values()
                .filter(|t| !crate::task::state::is_terminal(t.state))
            {
                held.extend(
                    task.info
                        .resources
                        .iter()
                        .filter(|r| r.revocable.is_some())
                        .cloned(),
                );
            }
        }
        held
    }

    fn estimator_enabled(&self) -> bool {
        self.config.oversubscription
    }

    /// A QoS correction: every container using revocable resources is destroyed.
    pub(super) fn qos_correction(&mut self, message: String, out: &mut Vec<Effect>) {
        let revocable = |list: &[v1::Resource]| list.iter().any(|r| r.revocable.is_some());
        let evict: Vec<ContainerId> = self
            .frameworks
            .values()
            .flat_map(|f| f.executors.values())
            .filter(|e| !e.is_ending())
            .filter(|e| {
                revocable(&e.info.resources)
                    || e.tasks.values().any(|t| revocable(&t.info.resources))
            })
            .map(|e| e.container_id.clone())
            .collect();
        for container_id in evict {
            self.container_limited(
                &container_id,
                Trigger::ContainerPreempted,
                message.clone(),
                out,
            );
        }
    }
}
