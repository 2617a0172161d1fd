//! Dynamic reservations and persistent volumes on the master: RESERVE, UNRESERVE, CREATE and
//! DESTROY from a framework's ACCEPT (applied to the offer's resources, in order, before the
//! launches that follow them) and from the Operator API (applied to what is free on the
//! agent, rescinding its offers when they hold what is needed). Either way the agent's total
//! changes, is persisted with the agent's record before anything is sent, and the agent is
//! sent the whole set of its checkpointed resources. The master's set is authoritative: an
//! agent that reregisters with another set is given the master's.

use drover_wire::internal::agent_event;
use drover_wire::internal::agent_event::Type as AgentEventType;
use drover_wire::v1;

use super::registry::RegistryOp;
use super::{Effect, Master, Reply, agent_event};
use crate::operations::{self, Actor, Operation};
use crate::resources;

impl Master {
    /// One non-launch operation of an ACCEPT on `agent_id`'s offer to `role`: validated,
    /// authorized, applied to `remaining` (what the offers still hold) and to the agent.
    /// A refused operation is dropped, as Mesos did: the operator sees why in the log, and a
    /// framework that gave it an `id` gets OPERATION_ERROR. An applied one with an `id` is
    /// answered OPERATION_FINISHED ([`super::operations_feedback`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn offer_operation(
        &mut self,
        now_ms: u64,
        framework_id: &str,
        agent_id: &str,
        role: &str,
        op: &v1::offer::Operation,
        remaining: &mut Vec<v1::Resource>,
        out: &mut Vec<Effect>,
    ) {
        let principal = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.info.principal.clone());
        let result = (|| -> Result<bool, String> {
            let Some(operation) = Operation::from_offer_operation(op)? else {
                return Ok(false);
            };
            self.check_feedback(framework_id, op)?;
            let actor = Actor {
                principal: principal.as_deref(),
                role: Some(role),
            };
            operation.validate(&actor)?;
            self.authorize_operation(&operation, principal.as_deref())?;
            self.check_not_in_use(agent_id, &operation)?;
            let applied = operation.apply(remaining)?;
            self.apply_to_agent(agent_id, &operation, out)?;
            *remaining = applied;
            Ok(true)
        })();
        match result {
            Ok(true) => self.operation_finished(now_ms, framework_id, agent_id, op, out),
            Ok(false) => {}
            Err(message) => {
                out.push(Effect::Warn(format!(
                    "Dropping an operation of framework {framework_id} on agent {agent_id}: \
                     {message}"
                )));
                self.operation_error(framework_id, Some(agent_id), op, &message, out);
            }
        }
    }

    /// An operator's RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES or
    /// DESTROY_VOLUMES: applied to what is free on the agent, after rescinding the agent's
    /// offers if they hold what it needs; 409 when the agent does not have it at all.
    pub(super) fn operator_operation(
        &mut self,
        agent_id: &str,
        operation: Operation,
        principal: Option<&str>,
        out: &mut Vec<Effect>,
    ) -> Reply {
        if !self.agents.contains_key(agent_id) {
            return Reply::error(
                400,
                format!("No agent found with specified ID '{agent_id}'"),
            );
        }
        let operation = operation.unallocated();
        let actor = Actor {
            principal,
            role: None,
        };
        if let Err(e) = operation.validate(&actor) {
            return Reply::error(400, e);
        }
        if let Err(e) = self.authorize_operation(&operation, principal) {
            return Reply::error(403, e);
        }
        if let Err(e) = self.check_not_in_use(agent_id, &operation) {
            return Reply::error(409, e);
        }
        if operation.apply(&self.agent_available(agent_id)).is_err() {
            // What is offered comes back first (Mesos rescinded offers until enough was
            // free); only then is the agent short.
            let offers: Vec<String> = self.agent_offer_ids(agent_id).cloned().collect();
            for id in offers {
                self.rescind_offer(&id, true, out);
            }
        }
        if let Err(e) = operation.apply(&self.agent_available(agent_id)) {
            return Reply::error(409, e);
        }
        match self.apply_to_agent(agent_id, &operation, out) {
            Ok(()) => Reply::Accepted,
            Err(e) => Reply::error(409, e),
        }
    }

    /// The operation's ACL (`--acls`): reserve_resources, create_volumes and resize_volumes by
    /// role, unreserve_resources by the reservation's principal, destroy_volumes by the
    /// volume's.
    fn authorize_operation(
        &self,
        operation: &Operation,
        principal: Option<&str>,
    ) -> Result<(), String> {
        let Some(acls) = &self.config.operation_acls else {
            return Ok(());
        };
        for r in operation.resources() {
            let last = resources::reservations(r).last().cloned();
            let (rules, object, kind) = match operation {
                Operation::Reserve(_) => (
                    &acls.reserve,
                    Some(resources::reservation_role(r).to_owned()),
                    "reserve_resources",
                ),
                Operation::Unreserve(_) => (
                    &acls.unreserve,
                    last.and_then(|l| l.principal),
                    "unreserve_resources",
                ),
                Operation::Create(_) => (
                    &acls.create,
                    Some(resources::reservation_role(r).to_owned()),
                    "create_volumes",
                ),
                Operation::Destroy(_) => (
                    &acls.destroy,
                    r.disk
                        .as_ref()
                        .and_then(|d| d.persistence.as_ref())
                        .and_then(|p| p.principal.clone()),
                    "destroy_volumes",
                ),
                Operation::Grow(_) | Operation::Shrink(..) => (
                    &acls.resize,
                    Some(resources::reservation_role(r).to_owned()),
                    "resize_volumes",
                ),
            };
            if !rules.allows_object(principal, object.as_deref()) {
                return Err(format!(
                    "Principal '{}' is not authorized to {} {} (the '{kind}' ACL)",
                    principal.unwrap_or("ANY"),
                    operation.name().to_lowercase(),
                    resources::display(std::slice::from_ref(r))
                ));
            }
        }
        Ok(())
    }

    /// DESTROY of a volume a live task on the agent uses is refused (its data would go from
    /// under it).
    fn check_not_in_use(&self, agent_id: &str, operation: &Operation) -> Result<(), String> {
        let Operation::Destroy(volumes) = operation else {
            return Ok(());
        };
        for key in self.agent_tasks.on_agent(agent_id) {
            let Some(entry) = self
                .frameworks
                .get(&key.0)
                .and_then(|f| f.tasks.get(&key.1))
            else {
                continue;
            };
            // A task that ended (its terminal update not yet acknowledged) uses nothing.
            let state =
                v1::TaskState::try_from(entry.task.state).unwrap_or(v1::TaskState::TaskStaging);
            if crate::task::state::is_terminal(state) {
                continue;
            }
            let mut used = entry.task.resources.clone();
            if let Some(executor) = &entry.executor {
                used.extend(executor.resources.iter().cloned());
            }
            let used = resources::unallocate(&used);
            for volume in volumes {
                let id = operations::persistence_id(volume);
                if used
                    .iter()
                    .any(|r| operations::persistence_id(r) == id && id.is_some())
                {
                    return Err(format!(
                        "Invalid DESTROY operation: persistent volume '{}' is in use by task \
                         '{}'",
                        id.unwrap_or_default(),
                        key.1
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies the operation to the agent's total, persists the agent's record and sends the
    /// agent its checkpointed resources.
    fn apply_to_agent(
        &mut self,
        agent_id: &str,
        operation: &Operation,
        out: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return Err(format!("Agent {agent_id} is not registered"));
        };
        let total = operation.unallocated().apply(&agent.info.resources)?;
        agent.info.resources = total;
        let info = agent.info.clone();
        self.persist(RegistryOp::AdmitAgent(info), out);
        self.send_checkpoint(agent_id, out);
        self.allocation_dirty = true;
        Ok(())
    }

    /// Sends the agent the whole set of its checkpointed resources, as the master has them.
    pub(super) fn send_checkpoint(&self, agent_id: &str, out: &mut Vec<Effect>) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let mut event = agent_event(AgentEventType::CheckpointResources);
        event.checkpoint_resources = Some(agent_event::CheckpointResources {
            resources: operations::checkpointed(&agent.info.resources),
        });
        self.send_to_agent(agent_id, event, out);
    }

    /// At reregistration: the master's checkpointed resources win over the agent's report
    /// (an agent may have missed the last checkpoint, never the master, which persists each
    /// before sending it). `reported` is the agent's info; its total is rebuilt from the
    /// agent's static resources and the master's set. Returns whether the agent must be sent
    /// the master's set. An agent whose static resources no longer hold the master's set
    /// keeps its own (the master's cannot be applied to it).
    pub(super) fn reconcile_checkpointed(
        &self,
        known: &v1::AgentInfo,
        reported: &mut v1::AgentInfo,
    ) -> bool {
        let ours = operations::checkpointed(&known.resources);
        let theirs = operations::checkpointed(&reported.resources);
        let same = resources::contains(&ours, &theirs) && resources::contains(&theirs, &ours);
        if same {
            return false;
        }
        let static_total: Vec<v1::Resource> = reported
            .resources
            .iter()
            .map(operations::strip_checkpointed)
            .collect();
        match operations::checkpoint(&static_total, &ours) {
            Ok(total) => {
                reported.resources = total;
                true
            }
            Err(_) => false,
        }
    }
}
