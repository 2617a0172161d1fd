//! DEACTIVATE_AGENT / REACTIVATE_AGENT: an operator takes an agent out of allocation (its
//! outstanding offers are rescinded and it gets no new ones) without touching its tasks, and
//! puts it back. The mark is persisted, so it survives a master restart and the agent's
//! reregistration, as Mesos kept it in its registry.

use super::{Effect, Master, RegistryOp, Reply};

impl Master {
    /// Whether an operator deactivated the agent.
    pub fn agent_deactivated(&self, agent_id: &str) -> bool {
        self.registry.deactivated.contains(agent_id)
    }

    pub(super) fn deactivate_agent(&mut self, agent_id: &str, out: &mut Vec<Effect>) -> Reply {
        if !self.agents.contains_key(agent_id) {
            return Reply::error(400, format!("Unknown agent '{agent_id}'"));
        }
        if !self.registry.deactivated.contains(agent_id) {
            self.persist(
                RegistryOp::DeactivateAgent {
                    agent_id: agent_id.to_owned(),
                },
                out,
            );
        }
        self.rescind_agent_offers(agent_id, out);
        Reply::Ok
    }

    pub(super) fn reactivate_agent(&mut self, agent_id: &str, out: &mut Vec<Effect>) -> Reply {
        if !self.agents.contains_key(agent_id) {
            return Reply::error(400, format!("Unknown agent '{agent_id}'"));
        }
        if self.registry.deactivated.contains(agent_id) {
            self.persist(
                RegistryOp::ReactivateAgent {
                    agent_id: agent_id.to_owned(),
                },
                out,
            );
            self.allocation_dirty = true;
        }
        self.end_drain(agent_id, out);
        Reply::Ok
    }
}
